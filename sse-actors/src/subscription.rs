//! The consumer's end of a subscriber: a `futures::Stream` of encoded frames.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix::Addr;
use bytes::Bytes;
use bytestring::ByteString;
use futures_util::Stream;
use futures_util::stream::FusedStream;

use crate::clock::Clock;
use crate::config::FirstReplay;
use crate::position::Position;
use crate::queue::Queue;
use crate::sequencing::Freshness;
use crate::subscriber_actor::{Stop, SubscriberActor};
use crate::topics::TopicFilter;

/// What a transport tells the server about a new subscriber.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// The client's `Last-Event-ID`: replay resumes after the newest logged
    /// event with this id (any string; unknown ids replay the whole log).
    pub last_event_id: Option<String>,
    /// Resume exactly after this position instead (see
    /// [`Subscription::start`], [`Delivery::position`]); `last_event_id` is
    /// then only reported. A position the stream does not hold (of another
    /// kind, or past its end, as after a restart) counts as an unknown id.
    pub after: Option<Position>,
    /// The epoch `after` was taken in ([`Subscription::epoch`]): on one
    /// node, a position of another epoch (an earlier life of the stream: a
    /// restart, a re-creation) counts as an unknown id, and so does one
    /// given with an empty epoch. `None`: `after` is taken as this life's.
    pub epoch: Option<String>,
    /// Free text for callbacks and logs, such as the peer address or URL.
    pub label: Option<String>,
    /// Only the events this filter accepts, live and replayed; `None`: every
    /// event that is not private (see [`topics`](crate::topics)).
    pub topics: Option<TopicFilter>,
    /// What to replay when there is neither a Last-Event-ID nor a position,
    /// instead of the server's [`ServerBuilder::first_replay`](crate::ServerBuilder::first_replay).
    pub first_replay: Option<FirstReplay>,
}

impl SubscribeRequest {
    /// A request with no Last-Event-ID and no label.
    pub fn new() -> Self {
        SubscribeRequest::default()
    }

    /// Sets the Last-Event-ID.
    #[must_use]
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// Resumes exactly after `position`.
    #[must_use]
    pub fn after(mut self, position: Position) -> Self {
        self.after = Some(position);
        self
    }

    /// Resumes exactly after `position`, taken in `epoch`.
    #[must_use]
    pub fn after_in(mut self, epoch: impl Into<String>, position: Position) -> Self {
        self.after = Some(position);
        self.epoch = Some(epoch.into());
        self
    }

    /// Sets the label.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Replays `first` to a subscriber that brings no Last-Event-ID, instead
    /// of the server's rule.
    #[must_use]
    pub fn first_replay(mut self, first: FirstReplay) -> Self {
        self.first_replay = Some(first);
        self
    }

    /// Receives only the events `filter` accepts.
    #[must_use]
    pub fn topics(mut self, filter: TopicFilter) -> Self {
        self.topics = Some(filter);
        self
    }
}

/// Who a subscriber is, as callbacks see it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriberInfo {
    /// Unique among the server's subscribers, never reused.
    pub id: u64,
    /// The stream it subscribed to.
    pub stream: Arc<str>,
    /// The Last-Event-ID it presented.
    pub last_event_id: Option<String>,
    /// The label it presented.
    pub label: Option<String>,
}

/// Why a subscription ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndReason {
    /// The consumer dropped its [`Subscription`].
    Unsubscribed,
    /// The stream was removed (explicitly, or as an idle auto-stream).
    StreamRemoved,
    /// The server was closed or dropped.
    ServerClosed,
    /// The subscriber fell a whole queue behind and was disconnected so it
    /// reconnects and replays from its Last-Event-ID.
    Lagged,
    /// The server ended this subscriber alone ([`Server::kick`](crate::Server::kick),
    /// [`Server::kick_where`](crate::Server::kick_where)), to revoke a
    /// session, say. What it had queued is dropped.
    Kicked,
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EndReason::Unsubscribed => "the subscriber unsubscribed",
            EndReason::StreamRemoved => "the stream was removed",
            EndReason::ServerClosed => "the server was closed",
            EndReason::Lagged => "the subscriber fell behind and was disconnected",
            EndReason::Kicked => "the server ended this subscriber",
        })
    }
}

/// One subscriber's frames: replayed events, live events and keep-alive
/// comments, each an encoded `text/event-stream` chunk ready to write.
///
/// Poll it from any thread. It ends (yields `None`) when the stream is
/// removed, the server closes (after what it accepted before), the
/// subscriber lagged or the server kicked it;
/// [`end_reason`](Self::end_reason) says which. Dropping it unsubscribes.
#[must_use = "a subscription delivers nothing unless polled, and unsubscribes when dropped"]
pub struct Subscription {
    pub(crate) queue: Arc<Queue>,
    pub(crate) actor: Addr<SubscriberActor>,
    pub(crate) info: Arc<SubscriberInfo>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) clock: Clock,
    pub(crate) start: Position,
    pub(crate) start_id: Option<ByteString>,
    pub(crate) epoch: Option<Arc<str>>,
}

/// One frame of a [`Subscription`] with its event's place in the stream,
/// for transports that rewrite ids (several streams on one connection).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The frame, as [`Subscription`] yields it.
    pub frame: Bytes,
    /// The event's position; `None` for a keep-alive comment.
    pub position: Option<Position>,
    /// Bytes at the start of `frame` taken by its `id:` line (0 for a
    /// keep-alive).
    pub id_line: usize,
    /// When the stream accepted the event (for a keep-alive, when it was
    /// queued), on the server's clock: how long a frame waited before the
    /// transport took it (`Instant::now() - published`, on the real clock).
    pub published: Instant,
    /// The frame was replayed from the log to a joining subscriber, not
    /// fanned out live; its `published` is then that of the original event.
    pub replayed: bool,
}

impl Delivery {
    /// Whether the frame is the [`GAP_EVENT`](crate::GAP_EVENT) a resume the
    /// log could not serve starts with (sent ahead of the replay, with no
    /// position of its own), rather than an event or a keep-alive.
    pub fn is_gap(&self) -> bool {
        self.position.is_none() && self.replayed
    }

    /// The frame without its `id:` line: a shared slice, not a copy.
    pub fn without_id(&self) -> Bytes {
        self.frame.slice(self.id_line..)
    }
}

impl Subscription {
    /// Who this subscriber is.
    pub fn info(&self) -> &SubscriberInfo {
        &self.info
    }

    /// The subscriber's id (see [`SubscriberInfo::id`]).
    pub fn id(&self) -> u64 {
        self.info.id
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.info.stream
    }

    /// Where this subscription starts in its stream: every event it yields
    /// comes after this position, and resuming after it
    /// ([`SubscribeRequest::after`]) yields what this one would have. A
    /// transport that has yielded nothing of a stream yet resumes from here.
    pub fn start(&self) -> Position {
        self.start
    }

    /// The id of the event at [`start`](Self::start), the last one before
    /// what this subscription yields, when the stream's log holds it (on
    /// one node): where a client reconciling its state stands. `None` when
    /// it starts before everything the log holds (an empty stream, a replay
    /// of all of it, an id the log no longer holds) or with a backplane.
    pub fn start_id(&self) -> Option<&str> {
        self.start_id.as_deref()
    }

    /// On one node, the epoch of the stream's life this subscription
    /// follows (its generated ids' prefix, see `README.md`, "Event ids"):
    /// a position is only meaningful within it, so a transport that keeps
    /// positions across reconnects keeps this beside them and resumes with
    /// [`SubscribeRequest::after_in`]. `None` with a backplane, whose
    /// positions are the same in every life.
    pub fn epoch(&self) -> Option<&str> {
        self.epoch.as_deref()
    }

    /// Why the subscription ended or is ending; `None` while it is live.
    /// Set as soon as the end is decided, possibly while queued frames of a
    /// lagged subscriber are still being drained.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.queue.end_reason()
    }

    /// Frames dropped under [`SlowSubscriberPolicy::DropOldest`](crate::SlowSubscriberPolicy::DropOldest).
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }

    /// Frames waiting to be read.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Reads every frame already queued, in order, while their total stays
    /// within `max_bytes` (always at least one frame), appending them to
    /// `frames` (a `Vec`, or any collection); one lock and one wake-up registration however many there
    /// are. `Ready(0)` means the subscription ended (as `None` from
    /// [`poll_next`](Stream::poll_next)); `Pending` means nothing is queued
    /// yet and the task will be woken. For writers that send several frames
    /// per write, like an HTTP response body.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use sse_actors::{Server, SubscribeRequest};
    /// use sse_proto::Event;
    ///
    /// actix_rt::System::new().block_on(async {
    ///     let server = Server::builder().arbiters(1).build();
    ///     server.create_stream("news").await?;
    ///     let mut subscription = server.subscribe("news", SubscribeRequest::new()).await?;
    ///     for text in ["a", "b", "c"] {
    ///         server.publish("news", Event::data(text)).await?;
    ///     }
    ///     let mut frames = Vec::new();
    ///     while frames.len() < 3 {
    ///         let read = poll_fn(|cx| subscription.poll_next_many(cx, &mut frames, 64 * 1024)).await;
    ///         assert!(read > 0, "the subscription ended");
    ///     }
    ///     assert!(frames[2].ends_with(b"-3\ndata: c\n\n"));
    ///     server.close().await;
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_next_many(
        &mut self,
        cx: &mut Context<'_>,
        frames: &mut impl Extend<Bytes>,
        max_bytes: usize,
    ) -> Poll<usize> {
        self.queue
            .poll_pop_many(cx, self.freshness(), max_bytes, frames)
    }

    /// [`poll_next_many`](Self::poll_next_many) with each frame's position
    /// and `id:` line, for transports that write their own ids.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use sse_actors::{Position, Server, SubscribeRequest};
    /// use sse_proto::Event;
    ///
    /// actix_rt::System::new().block_on(async {
    ///     let server = Server::builder().arbiters(1).build();
    ///     server.create_stream("news").await?;
    ///     server.publish("news", Event::data("a")).await?;
    ///     let mut subscription = server
    ///         .subscribe("news", SubscribeRequest::new().after(Position::Seq(0)))
    ///         .await?;
    ///     let mut deliveries = Vec::new();
    ///     poll_fn(|cx| subscription.poll_deliveries(cx, &mut deliveries, 64 * 1024)).await;
    ///     assert_eq!(deliveries[0].position, Some(Position::Seq(1)));
    ///     assert_eq!(&deliveries[0].without_id()[..], b"data: a\n\n");
    ///     server.close().await;
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_deliveries(
        &mut self,
        cx: &mut Context<'_>,
        deliveries: &mut impl Extend<Delivery>,
        max_bytes: usize,
    ) -> Poll<usize> {
        self.queue
            .poll_pop_deliveries(cx, self.freshness(), max_bytes, deliveries)
    }

    /// What is still fresh now, if there is a TTL (the clock is read only then).
    fn freshness(&self) -> Option<Freshness> {
        self.ttl.map(|ttl| Freshness {
            ttl: Some(ttl),
            now: self.clock.now(),
        })
    }
}

impl Stream for Subscription {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.queue.poll_pop(cx, self.freshness())
    }
}

impl FusedStream for Subscription {
    /// True once the end was decided and every frame still owed was read.
    fn is_terminated(&self) -> bool {
        self.queue.is_finished()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.queue.abandon();
        self.actor.do_send(Stop(EndReason::Unsubscribed));
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("info", &self.info)
            .field("end_reason", &self.end_reason())
            .finish_non_exhaustive()
    }
}
