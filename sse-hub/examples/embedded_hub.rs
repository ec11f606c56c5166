//! The whole `sse hub` API (subscribe, publish, list, health, demo page)
//! inside your own actix-web app, next to your own routes.
//!
//! ```text
//! cargo run -p sse-hub --example embedded_hub
//! open http://127.0.0.1:8082/
//! curl -H 'Authorization: Bearer s3cret' -d 'hi' 'http://127.0.0.1:8082/events?stream=demo'
//! ```

use actix_web::{App, HttpServer, web};
use sse_actix::server::Sse;
use sse_actors::Server;
use sse_hub::{Hub, HubConfig};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let server = Server::builder().auto_stream(true).build();
    server.create_stream("demo").await.expect("server is open");
    let hub = Hub::new(
        Sse::new(server),
        HubConfig {
            publish_token: Some("s3cret".into()),
            max_body_size: 64 * 1024,
            ..HubConfig::default()
        },
    );
    HttpServer::new(move || {
        let hub = hub.clone();
        App::new().configure(move |cfg| hub.configure(cfg)).route(
            "/version",
            web::get().to(|| async { env!("CARGO_PKG_VERSION") }),
        )
    })
    .h1_allow_half_closed(false)
    .tcp_nodelay(true)
    .bind(("127.0.0.1", 8082))?
    .run()
    .await
}
