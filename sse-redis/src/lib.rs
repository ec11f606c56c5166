//! A Redis Streams backplane for `sse-actors`: run many SSE hub nodes
//! behind a load balancer and they serve as one.
//!
//! **What it does.** [`RedisBackplane`] implements
//! [`sse_actors::Backplane`]. Publishing on any node appends the encoded
//! event to the Redis stream `sse:<name>` with `XADD … MAXLEN ~ N`; each
//! node reads every stream it has subscribers for with one blocking `XREAD`
//! on one dedicated connection (not one per subscriber or per stream) and
//! fans events out locally through its stream actors, encoded once. Event
//! ids on the wire are the Redis entry ids (`MILLIS-SEQ`): global and
//! ordered, so a client that reconnects to any node with `Last-Event-ID`
//! is replayed exactly what it missed (`XRANGE (id +`). A publisher's own
//! event id is stored beside the event (field `u`), not sent.
//!
//! **Failures.** While Redis is unreachable, nodes keep serving their
//! connected subscribers; publishing fails at once with
//! [`BackplaneError::Unavailable`](sse_actors::BackplaneError::Unavailable)
//! (a hub answers 503); the reader reconnects with exponential backoff and
//! resumes after the newest id it delivered of each stream, and each
//! stream drops ids it already delivered, so no event is lost or repeated
//! once Redis is back, provided Redis kept its data (run it with
//! `appendonly yes`: a Redis restarted empty restarts its ids too).
//!
//! **Limits**, all on [`RedisOptions`]: entries kept per stream (`MAXLEN ~`,
//! which also bounds replay), an optional age limit (`MINID ~`), the read
//! batch, the block time and the timeouts. A node's own memory limits are
//! those of its `sse_actors::Server`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sse_actors::Server;
//! use sse_redis::{RedisBackplane, RedisOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! actix_rt::System::new().block_on(async {
//!     let backplane = RedisBackplane::new("redis://127.0.0.1:6379", RedisOptions::default())?;
//!     let server = Server::builder()
//!         .auto_stream(true)
//!         .backplane(Arc::new(backplane))
//!         .build();
//!     let published = server.publish("news", sse_actors::Event::data("hello")).await?;
//!     println!("published as {}", published.id); // e.g. 1700000000000-0
//!     Ok(())
//! })
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backplane;
mod entry;
mod error;
mod options;
mod reader;

pub use backplane::{RedisBackplane, RedisStats};
pub use error::ConnectError;
pub use options::RedisOptions;
