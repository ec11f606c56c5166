//! An LLM-style token stream: a `POST` handler answers with the tokens of
//! its "completion" as they are produced, then a `done` event.
//!
//! ```text
//! cargo run -p sse-actix --example token_stream
//! curl -N -d 'tell me a story' http://127.0.0.1:8082/complete
//! ```
//!
//! The generator here is a stand-in: any `futures::Stream` of events works
//! (an upstream model's stream mapped to `Event`s, say). When the client
//! hangs up, the stream is dropped and generation stops.

use std::time::Duration;

use actix_web::{App, HttpServer, Responder, post};
use futures_util::{StreamExt as _, stream};
use sse_actix::{Event, SseResponse};

/// What a model would say to `prompt`, one word at a time.
fn completion(prompt: &str) -> Vec<String> {
    format!(
        "You asked: \"{}\". Once upon a time, a server streamed its answer word by word.",
        prompt.trim()
    )
    .split_inclusive(' ')
    .map(str::to_owned)
    .collect()
}

#[post("/complete")]
async fn complete(prompt: String) -> impl Responder {
    let words = completion(&prompt);
    let count = words.len();
    // A token every 80 ms, as a model would produce them.
    let tokens = stream::iter(words).then(|word| async move {
        actix_web::rt::time::sleep(Duration::from_millis(80)).await;
        Event::new("token", word)
    });
    let done = stream::once(async move { Event::new("done", format!("{count} tokens")) });
    SseResponse::from_stream(tokens.chain(done))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = ("127.0.0.1", 8082);
    println!("POST text to http://{}:{}/complete", addr.0, addr.1);
    HttpServer::new(|| App::new().service(complete))
        // Notice a client that hung up at once, not at the next keep-alive.
        .h1_allow_half_closed(false)
        .bind(addr)?
        .run()
        .await
}
