//! A Redis Streams backplane for `sse-actors`: run many SSE hub nodes
//! behind a load balancer and they serve as one.
//!
//! **What it does.** [`RedisBackplane`] implements
//! [`sse_actors::Backplane`]. Publishing on any node appends the encoded
//! event to the Redis stream `sse:<name>` (`XADD`, in a script); each
//! node reads every stream it has subscribers for with one blocking `XREAD`
//! on one dedicated connection (not one per subscriber or per stream) and
//! fans events out locally through its stream actors, encoded once.
//!
//! **Ids**, as on one node: an event's wire id is its publisher's own id,
//! else its Redis entry id (`MILLIS-SEQ`: global, ordered, never repeated),
//! and a client that reconnects to any node with either as `Last-Event-ID`
//! is replayed exactly what it missed. An own id the stream already holds is
//! not appended again (the publication is answered as a duplicate of the
//! first), so a retry after a timeout is safe. A Last-Event-ID Redis no
//! longer holds is reported as a gap ([`sse_actors::ReadAfter::found`]).
//!
//! **Topics** travel with the event: an event published about topics
//! (`Server::publish_tagged`, the hub's Mercure updates) keeps them and its
//! private flag in its entry, so every node hands it only to the
//! subscribers whose `TopicFilter` accepts it, live and on replay. An
//! untagged event's entry is the same as before topics existed.
//!
//! **Keys**, per SSE stream `NAME`:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `sse:NAME` ([`RedisOptions::key_prefix`]) | stream | one entry per event: field `f` the frame without an `id:` line, field `u` the own id when given; for an event published about topics ([`sse_actors::Topics`]), field `t` its topics (each `LEN:TOPIC`, the length in bytes) and field `p` (`1`) when it is private |
//! | `sse-id:NAME` ([`RedisOptions::ids_key_prefix`]) | hash | own id → entry id, for the held entries with an own id |
//!
//! Publishing is one Lua script (the duplicate check, `XADD`, the hash
//! write, and trimming both exactly to [`RedisOptions::max_len`] and
//! [`RedisOptions::max_age`]); resolving a Last-Event-ID and reading after
//! it is another. The hash never holds more than the stream, so nothing
//! grows without bound. The keys of one stream are two, so Redis Cluster
//! (sharded) is not supported: use one Redis (with replicas if needed).
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
//! **Limits**, all on [`RedisOptions`]: entries kept per stream (which also
//! bounds replay and the own-id hash), an optional age limit, the read
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
//!     let own = server.publish("news", sse_actors::Event::data("hi").id("n-1")).await?;
//!     assert_eq!(own.id, "n-1"); // an own id is the wire id
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
