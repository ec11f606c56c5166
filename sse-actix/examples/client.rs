//! The README's client example: prints every event of a stream, reconnecting
//! as needed. Run: `cargo run -p sse-actix --example client` against a hub on
//! 127.0.0.1:8080 (`sse hub`).

use std::time::Duration;

use futures_util::StreamExt as _;
use sse_actix::client::Client;

#[actix_web::main]
async fn main() {
    let client = Client::builder("http://127.0.0.1:8080/events")
        .header("authorization", "Bearer secret")
        .idle_timeout(Duration::from_secs(60))
        .on_connect(|| eprintln!("connected"))
        .reconnect_notify(|error, delay| eprintln!("{error}; retrying in {delay:?}"))
        .build();

    // `stream_of("news")` adds `?stream=news`; `stream()` uses the URL as is.
    let mut events = client.stream_of("news");
    while let Some(item) = events.next().await {
        match item {
            Ok(event) => println!("{}: {}", event.event_type(), event.data),
            Err(error) => eprintln!("{error}"), // the stream goes on: it reconnects
        }
    }
}
