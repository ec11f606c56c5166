//! Server-Sent Events for actix-web and awc.
//!
//! Stream events from a handler in a few lines: return an [`SseResponse`]
//! built from any `futures::Stream` of [`Event`]s, or from a channel whose
//! [`SseSender`] learns when the client has gone.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use actix_web::{App, HttpServer, Responder, get, post, rt};
//! use futures_util::stream;
//! use sse_actix::{Event, SseResponse};
//!
//! /// Any `futures::Stream` of events.
//! #[get("/numbers")]
//! async fn numbers() -> impl Responder {
//!     SseResponse::from_stream(stream::iter((1..=3).map(|n| Event::data(n.to_string()))))
//! }
//!
//! /// A channel fed by a task, which learns when the client has gone.
//! #[post("/chat")]
//! async fn chat(prompt: String) -> impl Responder {
//!     let (tokens, response) = SseResponse::channel(16);
//!     rt::spawn(async move {
//!         for word in prompt.split_whitespace() {
//!             if tokens.send(Event::new("token", word)).await.is_err() {
//!                 return; // the client hung up: stop generating
//!             }
//!             rt::time::sleep(Duration::from_millis(50)).await;
//!         }
//!     });
//!     response
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     HttpServer::new(|| App::new().service(numbers).service(chat))
//!         .h1_allow_half_closed(false) // notice a closed connection at once
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! **What it does.** Three parts, all on actix-web and awc:
//! - [`responder`]: [`SseResponse`] answers one request with its own
//!   stream of events (LLM tokens, job progress, a per-user feed): head and a
//!   first frame at once, keep-alive comments (default every 15 s), an
//!   optional `retry:`, a clean end when the stream ends or fails; the
//!   stream is dropped as soon as the client goes away. [`LastEventId`]
//!   extracts where a reconnecting client resumes.
//! - [`server`]: [`Sse`] binds an [`sse_actors::Server`] (named streams with
//!   replay and fan-out) to actix-web: it answers `GET` requests with a
//!   `text/event-stream` response (stream name from the query or the path,
//!   `Last-Event-ID` replay, 400/404/503 with clear bodies) that ends as soon
//!   as the client goes away, the stream is removed or the server closes;
//!   optionally several streams on one response, each event naming its
//!   stream, its id resuming every one exactly.
//! - [`client`]: a reconnecting awc client ([`Client`]) that resends
//!   `Last-Event-ID`, honours `retry:` within a floor and a cap, and is
//!   consumed as a `futures::Stream`, with a handler, or into a channel.
//!
//! Both server sides send the same head: `Content-Type: text/event-stream`,
//! `Cache-Control: no-cache, no-transform`, `X-Accel-Buffering: no` and
//! `Content-Encoding: identity`, so neither actix-web's `Compress` nor a
//! reverse proxy holds events back. It is a library only: the `sse hub`
//! product and the `sse` command-line tool live in the `sse-hub` crate, so
//! an application that depends on this crate pulls no CLI, logging backend
//! or Redis client.
//!
//! **What it never does.** It never parses or writes events itself (that is
//! [`sse_proto`], so no event can inject fields; on a connection serving
//! several streams it only puts an `id:` line of base64url and a `stream:`
//! line with a validated name in front of the encoded frame), never keeps
//! stream state of its own (that is [`sse_actors`]), never sends an event it
//! cannot encode (a responder ends instead, and says so in the log; a
//! sender refuses it), never panics on network input, and never retries
//! forever without a delay.
//!
//! **Limits**, each a documented option: connections, streams per
//! connection and stream-name length on [`SseConfig`]; a responder's channel capacity ([`SseResponse::channel`])
//! and its 16 KiB of frames gathered per write; event size, idle timeout,
//! redirects and reconnection delays on [`ClientBuilder`]. Memory per
//! subscriber is bounded by the actors' queue limits; per client by the
//! decoder's limits.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod extract;
pub mod responder;
pub mod server;

pub use client::{Client, ClientBuilder, EventStream};
pub use extract::LastEventId;
pub use responder::{SseResponse, SseSender};
pub use server::{Sse, SseConfig, SseError};
pub use sse_actors::Server;
pub use sse_proto::{Event, Frame};
