//! Server-Sent Events for actix-web and awc.
//!
//! **What it does.** The [`server`] module binds an [`sse_actors::Server`]
//! to actix-web: [`Sse`] answers `GET` requests with a `text/event-stream`
//! response (stream name from the query or the path, `Last-Event-ID` replay,
//! the anti-buffering headers, 400/404/503 with clear bodies) that ends as soon
//! as the client goes away, the stream is removed or the server closes.
//! The [`client`] module is a
//! reconnecting awc client ([`Client`]) that resends `Last-Event-ID`, honours
//! `retry:` within a floor and a cap, and is consumed as a `futures::Stream`,
//! with a handler, or into a channel. It is a library only: the `sse hub`
//! product and the `sse` command-line tool live in the `sse-hub` crate, so an
//! application that depends on this crate pulls no CLI, logging backend or
//! Redis client.
//!
//! **What it never does.** It never parses the event-stream format itself
//! (that is [`sse_proto`]) and never keeps stream state of its own (that is
//! [`sse_actors`]); it never panics on network input, and it never retries
//! forever without a delay.
//!
//! **Limits**, each a documented option: connections and stream-name length
//! on [`SseConfig`]; event size, idle timeout, redirects and
//! reconnection delays on [`ClientBuilder`]. Memory per subscriber is bounded
//! by the actors' queue limits; per client by the decoder's limits.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod server;

pub use client::{Client, ClientBuilder, EventStream};
pub use server::{Sse, SseConfig, SseError};
pub use sse_actors::Server;
pub use sse_proto::{Event, Frame};
