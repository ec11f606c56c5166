//! The server core of Server-Sent Events as actix actors: named streams,
//! their subscribers, event logs, replay, TTL and backpressure. No HTTP.
//!
//! **What it does.** A [`Server`] is a registry of named streams. Publishing
//! to a stream encodes the event once ([`sse_proto::Encoder`]) into
//! [`Bytes`](bytes::Bytes), gives it a per-stream sequence number, logs it
//! for replay and pushes a clone of the same bytes into every subscriber's
//! bounded queue. A [`Subscription`] is a `futures::Stream` of those encoded
//! frames (replayed events, live events, keep-alive comments), ready for any
//! transport to write as a `text/event-stream` body.
//!
//! **Actors.** One Server actor owns the registry; one Stream actor per
//! stream (spread over one arbiter per core) drives that stream's logic;
//! one Subscriber actor per consumer owns its lifecycle, so the unsubscribe
//! callback fires exactly once however it ends. Deliveries do not go
//! through mailboxes: a delivery is a `Bytes` clone and a queue push. The
//! stream's logic (subscribers, log, ordering, replay, catch-up, fan-out,
//! retirement) is plain state whose methods take the time from their caller
//! and say what the actor must do next, as `sse-proto` is to bytes: the
//! actor only drives it.
//!
//! **Time.** Every rule that depends on time (TTL, the log's age limit,
//! idle auto-stream retirement) reads the server's one clock: the system's,
//! or a [`ManualClock`] that tests advance by hand
//! ([`ServerBuilder::clock`]).
//!
//! **Guarantees.** Publishers and subscribers never wait on a slow subscriber:
//! it is disconnected ([`EndReason::Lagged`]) so it reconnects and replays
//! from its Last-Event-ID, or loses its oldest frames if you choose
//! [`SlowSubscriberPolicy::DropOldest`]. [`Server::publish`] waits for buffer
//! space; [`Server::try_publish`] never waits. Replay is exclusive of the
//! Last-Event-ID, which is an opaque string. Removing a stream or closing the
//! server ends every subscription before the call returns, and frees all
//! state ([`Server::stats`] counts what is alive); closing first delivers
//! every event it accepted. [`Server::kick`] and [`Server::kick_where`] end
//! single subscribers (a revoked session, say).
//!
//! **Frames.** A subscription yields whole frames: `id:` (the event's own
//! id, else a generated `EPOCH-SEQ` that no other life of the stream
//! generates), the other fields, `data:` lines and the
//! blank line; keep-alives are the comment line `: keep-alive`. The `id:`
//! line always leads, and [`Subscription::poll_deliveries`] says how long it
//! is and where the event sits in its stream (its [`Position`]), so a
//! transport may write ids of its own (several streams on one connection)
//! and resume exactly with [`SubscribeRequest::after`]. Callbacks
//! (`on_subscribe`, `on_unsubscribe`) run on the stream's arbiter thread.
//!
//! **Topics.** One stream can carry many feeds: an event published with
//! [`Server::publish_tagged`] names its [`Topics`] (and may be private), a
//! subscriber asks for a [`TopicFilter`] ([`SubscribeRequest::topics`]) and
//! gets only its matches, live and replayed, with exclusive resume and the
//! gap signal as on any stream. Exact topics are indexed, patterns (such as
//! URI templates) evaluated once per distinct pattern and topic and cached
//! ([`ServerBuilder::topic_cache`]); see [`topics`].
//!
//! **Many nodes.** With a [`Backplane`] ([`ServerBuilder::backplane`], such
//! as the Redis one in `sse-redis`) the server is one node of many: a
//! publication goes to the shared log, every node delivers it back to its
//! own subscribers under its wire id (the publisher's own id, else the
//! log's [`GlobalId`]), and a Last-Event-ID this node never delivered is
//! replayed from the shared log, with the same gap event and duplicate
//! rule as one node; so is a new subscriber's [`FirstReplay`]. Topics and
//! the private flag travel with the event, so each node filters as one
//! does. Without one (the
//! default) none of this runs: the single-node path is unchanged.
//!
//! **What it never does.** No HTTP, no sockets, no parsing of requests: the
//! transport (such as `sse-actix`) maps requests to [`Server::subscribe`] and
//! writes the frames. It never blocks a thread and never panics on input.
//!
//! **Limits**, all set on [`ServerBuilder`] (some per stream with
//! [`StreamOptions`]): the publish buffer per stream, the queue per
//! subscriber (frames and bytes), the event log (count, bytes, age: [`LogLimits`]) and all logs together
//! ([`ServerBuilder::memory_budget`]), the event
//! TTL, subscribers per stream, auto-created streams and how long an idle
//! one stays (60 s by default, so no client can fill the limit for good),
//! the keep-alive interval and the number of arbiters. Stream names and event ids are opaque strings; this crate puts
//! no limit on their length (the transport should). Costs: a delivery
//! allocates nothing; an idle subscriber holds about 1.3 KiB (see
//! `BENCHMARKS.md`).
//!
//! ```
//! use futures_util::StreamExt as _;
//! use sse_actors::{Server, SubscribeRequest};
//! use sse_proto::Event;
//!
//! actix_rt::System::new().block_on(async {
//!     let server = Server::builder().arbiters(1).build();
//!     server.create_stream("news").await?;
//!     let mut subscription = server.subscribe("news", SubscribeRequest::new()).await?;
//!
//!     let published = server.publish("news", Event::data("hello")).await?;
//!     // A generated id is EPOCH-SEQ: it never repeats, across restarts too.
//!     assert!(published.id.ends_with("-1"), "{}", published.id);
//!     let frame = format!("id: {}\ndata: hello\n\n", published.id);
//!     assert_eq!(subscription.next().await.as_deref(), Some(frame.as_bytes()));
//!
//!     server.close().await;
//!     assert_eq!(subscription.next().await, None);
//!     assert_eq!(subscription.end_reason(), Some(sse_actors::EndReason::ServerClosed));
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backplane;
mod budget;
mod clock;
mod config;
mod error;
mod ids;
mod log;
mod position;
mod queue;
mod records;
mod sequencing;
mod server;
mod server_actor;
mod stats;
mod stream;
mod stream_actor;
mod stream_core;
mod subscriber_actor;
mod subscription;
mod topic_index;
pub mod topics;

pub use backplane::{
    Appended, Backplane, BackplaneError, BackplaneEvent, GlobalId, Inbound, InvalidGlobalId,
    ReadAfter,
};
pub use clock::ManualClock;
pub use config::{
    Callback, FirstReplay, LogLimits, ResumeGap, ServerBuilder, SlowSubscriberPolicy, StreamOptions,
};
pub use error::{BuildError, PublishError, ServerClosed, SubscribeError, TryPublishError};
pub use ids::InvalidId;
pub use position::Position;
pub use sequencing::GAP_EVENT;
pub use server::Server;
pub use stats::{Stats, StatsProbe};
pub use stream::{Published, StreamHandle, StreamInfo};
pub use subscription::{Delivery, EndReason, SubscribeRequest, SubscriberInfo, Subscription};
pub use topics::{TopicFilter, TopicPattern, TopicSelector, Topics};

pub use sse_proto::Event;
