//! A reconnecting Server-Sent Events client on awc.
//!
//! Build a [`Client`] with [`Client::builder`], then consume events as a
//! [`futures_util::Stream`] ([`Client::stream`]), with a handler
//! ([`Client::subscribe`]) or into a channel ([`Client::subscribe_chan`]).
//!
//! The client never silently gives up. A `GET` reconnects after every end
//! of stream (a clean end included) and every network error; a request with
//! a body or another method is only retried until a response is accepted,
//! since resending it may repeat its effect (a second paid LLM completion):
//! see [`ReconnectPolicy`]. It waits as its [`ReconnectStrategy`] says
//! (exponential backoff with jitter by default, no deadline), starting from
//! the server's `retry:` when it sent one, floored and capped so `retry: 0`
//! cannot spin, and starts again from there only after a connection proved
//! healthy (it delivered an event or lasted
//! [`healthy_after`](ClientBuilder::healthy_after)). It resends
//! `Last-Event-ID` when it has a non-empty one and discards an event cut
//! short by the loss. `204 No Content` stops it for good; 5xx, 408 and 429
//! are retried (after `Retry-After`), other statuses and a `Content-Type`
//! other than `text/event-stream` stop it with a typed [`Error`] (see
//! [`HttpErrorPolicy`]). HTTPS uses rustls with bundled web PKI roots
//! ([`TlsConfig`]).
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use futures_util::StreamExt as _;
//! use sse_actix::client::Client;
//!
//! #[actix_web::main]
//! async fn main() {
//!     let client = Client::builder("http://127.0.0.1:8080/events")
//!         .header("authorization", "Bearer secret")
//!         .idle_timeout(Duration::from_secs(60))
//!         .on_connect(|| eprintln!("connected"))
//!         .reconnect_notify(|error, delay| eprintln!("{error}; retrying in {delay:?}"))
//!         .build();
//!
//!     // `stream_of("news")` adds `?stream=news`; `stream()` uses the URL as is.
//!     let mut events = client.stream_of("news");
//!     while let Some(item) = events.next().await {
//!         match item {
//!             Ok(event) => println!("{}: {}", event.event_type(), event.data),
//!             Err(error) => eprintln!("{error}"), // the stream goes on: it reconnects
//!         }
//!     }
//! }
//! ```
//!
//! Subscriptions run on the current actix runtime (awc is not `Send`).
//! Dropping a stream, or cancelling a subscription, ends its connection, its
//! backoff sleep and its task at once; [`Client::live`] counts what is alive.
//! [`EventStream::restart`] (or a [`RestartHandle`] from any thread) makes a
//! subscription reconnect now, resuming from its last event ID.
//!
//! The default strategy uses the `backoff` crate, which carries a RUSTSEC
//! "unmaintained" advisory; it sits behind this module's own
//! [`ReconnectStrategy`] trait so it can be replaced without API changes.

mod builder;
mod error;
mod live;
mod policy;
mod restart;
mod session;
mod strategy;
mod stream;
mod subscribe;
mod tls;

pub use builder::{Client, ClientBuilder};
pub use error::Error;
pub use live::LiveCounts;
pub use policy::{HttpErrorPolicy, ReconnectPolicy};
pub use restart::RestartHandle;
pub use sse_proto::{Event, Frame};
pub use strategy::{ConstantBackoff, ExponentialBackoff, MaxRetries, ReconnectStrategy};
pub use stream::{EventStream, FrameStream, StopReason};
pub use subscribe::ChannelSubscription;
pub use tls::TlsConfig;
