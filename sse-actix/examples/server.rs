//! Serving Server-Sent Events from an existing actix-web app.
//!
//! ```text
//! cargo run -p sse-actix --example server
//! curl -N 'http://127.0.0.1:8081/events?stream=ticks'
//! curl -N  http://127.0.0.1:8081/rooms/lobby/events
//! curl -N -H 'Authorization: Bearer letmein' 'http://127.0.0.1:8081/private?stream=ticks'
//! curl -d 'hello' http://127.0.0.1:8081/rooms/lobby/say
//! ```

use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use sse_actix::server::{Sse, SseError};
use sse_actors::{Event, Server};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    // The event server: streams, their logs, their subscribers. Build it
    // inside the actix System (#[actix_web::main] provides one).
    let server = Server::builder()
        .keep_alive(Some(Duration::from_secs(15)))
        .on_unsubscribe(|stream, who| println!("{stream}: subscriber {} left", who.id))
        .build();
    server.create_stream("ticks").await.expect("server is open");
    server.create_stream("lobby").await.expect("server is open");

    // Something to watch: one event a second on "ticks".
    let ticker = server.clone();
    actix_web::rt::spawn(async move {
        for n in 1u64.. {
            let event = Event::new("tick", n.to_string());
            if ticker.publish("ticks", event).await.is_err() {
                break; // the server was closed
            }
            actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        }
    });

    // 1. The common case: `GET /events?stream=NAME`.
    let sse = Sse::new(server.clone()).max_connections(10_000);
    // 2. The stream name as a path segment.
    let rooms = Sse::new(server.clone()).stream_path_segment("room");
    // 3. Your own checks first, then the same handler.
    let private = sse.clone();

    let publisher = server.clone();
    HttpServer::new(move || {
        let (private, publisher) = (private.clone(), publisher.clone());
        App::new()
            .route(
                "/",
                web::get().to(|| async { "an app that also serves events\n" }),
            )
            .service(sse.resource("/events"))
            .service(rooms.resource("/rooms/{room}/events"))
            .route(
                "/private",
                web::get().to(move |req: HttpRequest| {
                    let sse = private.clone();
                    async move { authorized_events(&sse, &req).await }
                }),
            )
            .route(
                "/rooms/{room}/say",
                web::post().to(move |room: web::Path<String>, body: String| {
                    let server = publisher.clone();
                    async move {
                        match server.publish(&room, Event::data(body)).await {
                            Ok(published) => HttpResponse::Ok().body(format!("{}\n", published.id)),
                            Err(error) => HttpResponse::NotFound().body(format!("{error}\n")),
                        }
                    }
                }),
            )
    })
    // Notice a vanished client as soon as its socket closes, rather than at
    // the next keep-alive write.
    .h1_allow_half_closed(false)
    .tcp_nodelay(true)
    .bind(("127.0.0.1", 8081))?
    .run()
    .await
}

async fn authorized_events(sse: &Sse, req: &HttpRequest) -> Result<HttpResponse, SseError> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if token != Some("Bearer letmein") {
        return Err(SseError::Unauthorized("a bearer token is required".into()));
    }
    sse.respond(req).await
}
