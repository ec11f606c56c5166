//! A reconnecting Server-Sent Events client on awc.
//!
//! Build a [`Client`] with [`Client::builder`], then consume events as a
//! [`futures_util::Stream`] ([`Client::stream`]), with a handler
//! ([`Client::subscribe`]) or into a channel ([`Client::subscribe_chan`]).
//!
//! The client never silently gives up: it reconnects after every end of
//! stream (a clean end included) and every network error, waiting as its
//! [`ReconnectStrategy`] says (exponential backoff with jitter by default,
//! reset after each accepted response, no deadline), starting from the
//! server's `retry:` when it sent one, floored and capped so `retry: 0`
//! cannot spin. It resends `Last-Event-ID` when it has a non-empty one and
//! discards an event cut short by the loss. `204 No Content` stops it for
//! good; a non-2xx status or a `Content-Type` other than `text/event-stream`
//! stops it with a typed [`Error`] (or is retried, by
//! [`ClientBuilder::retry_http_errors`]).
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
mod restart;
mod session;
mod strategy;
mod stream;
mod subscribe;
mod tls;

pub use builder::{Client, ClientBuilder, HttpErrorPolicy};
pub use error::Error;
pub use live::LiveCounts;
pub use restart::RestartHandle;
pub use sse_proto::{Event, Frame};
pub use strategy::{ConstantBackoff, ExponentialBackoff, MaxRetries, ReconnectStrategy};
pub use stream::{EventStream, FrameStream};
pub use subscribe::ChannelSubscription;
pub use tls::TlsConfig;
