//! Live-object counters, so tests and operators can prove nothing leaks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::subscription::EndReason;

/// A snapshot of what a [`Server`](crate::Server) holds right now.
///
/// Every count of live objects ([`live_objects`](Self::live_objects))
/// returns to zero once the server is closed and every
/// [`Subscription`](crate::Subscription) has been dropped; `published`,
/// `delivered`, `replayed`, `lagged` and the `ended_*` counts are running
/// totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Streams in the registry.
    pub streams: usize,
    /// Stream actors alive (a removed stream's actor lives until it has ended
    /// its subscriptions).
    pub stream_actors: usize,
    /// Subscriber actors alive.
    pub subscriber_actors: usize,
    /// Subscriber records held by stream actors (one per fan-out target).
    pub subscriber_records: usize,
    /// Frame queues alive; a queue is shared by a stream, a subscriber actor
    /// and the consumer's [`Subscription`](crate::Subscription), and freed
    /// when all three let go.
    pub queues: usize,
    /// Events accepted for publication since the server started.
    pub published: u64,
    /// Event frames fan-out queued to subscribers (replays not included).
    pub delivered: u64,
    /// Event frames replayed from the log to subscribers as they joined.
    pub replayed: u64,
    /// Subscribers disconnected because they fell behind.
    pub lagged: u64,
    /// Subscriptions ended by their consumer (dropped, client gone).
    pub ended_unsubscribed: u64,
    /// Subscriptions ended because their stream was removed.
    pub ended_stream_removed: u64,
    /// Subscriptions ended because the server closed.
    pub ended_server_closed: u64,
    /// Subscriptions ended by [`Server::kick`](crate::Server::kick) or
    /// [`Server::kick_where`](crate::Server::kick_where).
    pub ended_kicked: u64,
    /// Encoded bytes every stream's event log holds together, what
    /// [`ServerBuilder::memory_budget`](crate::ServerBuilder::memory_budget)
    /// bounds.
    pub log_bytes: usize,
    /// Encoded bytes of the events no log holds (any more, or never did)
    /// that are still queued for subscribers or being written to them,
    /// each frame once however many hold it: with `log_bytes`, what
    /// [`ServerBuilder::memory_budget`](crate::ServerBuilder::memory_budget)
    /// bounds (counted only when it is set).
    pub unlogged_bytes: usize,
}

impl Stats {
    /// Streams, actors, records and queues still alive: zero once the server
    /// is closed and every subscription dropped.
    pub fn live_objects(&self) -> usize {
        self.streams
            + self.stream_actors
            + self.subscriber_actors
            + self.subscriber_records
            + self.queues
    }
}

/// Reads a server's [`Stats`] without keeping the server alive, so the
/// counters can be checked after the last [`Server`](crate::Server) handle is
/// dropped.
#[derive(Clone, Debug)]
pub struct StatsProbe(pub(crate) Arc<Counters>);

impl StatsProbe {
    /// The current counts.
    pub fn stats(&self) -> Stats {
        self.0.snapshot()
    }
}

/// The shared counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) streams: AtomicUsize,
    pub(crate) stream_actors: AtomicUsize,
    pub(crate) subscriber_actors: AtomicUsize,
    pub(crate) subscriber_records: AtomicUsize,
    pub(crate) queues: AtomicUsize,
    pub(crate) log_bytes: AtomicUsize,
    /// Bytes of every frame held for the budget and still alive.
    pub(crate) frame_bytes: AtomicUsize,
    /// Bytes of the frames the logs hold (claimed ones until dropped).
    pub(crate) logs_hold_bytes: AtomicUsize,
    pub(crate) published: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) replayed: AtomicU64,
    pub(crate) lagged: AtomicU64,
    ended_unsubscribed: AtomicU64,
    ended_stream_removed: AtomicU64,
    ended_server_closed: AtomicU64,
    ended_kicked: AtomicU64,
    pub(crate) next_subscriber_id: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            streams: self.streams.load(Ordering::Acquire),
            stream_actors: self.stream_actors.load(Ordering::Acquire),
            subscriber_actors: self.subscriber_actors.load(Ordering::Acquire),
            subscriber_records: self.subscriber_records.load(Ordering::Acquire),
            queues: self.queues.load(Ordering::Acquire),
            published: self.published.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            replayed: self.replayed.load(Ordering::Relaxed),
            lagged: self.lagged.load(Ordering::Relaxed),
            ended_unsubscribed: self.ended_unsubscribed.load(Ordering::Relaxed),
            ended_stream_removed: self.ended_stream_removed.load(Ordering::Relaxed),
            ended_server_closed: self.ended_server_closed.load(Ordering::Relaxed),
            ended_kicked: self.ended_kicked.load(Ordering::Relaxed),
            log_bytes: self.log_bytes.load(Ordering::Acquire),
            unlogged_bytes: self.unlogged_bytes(),
        }
    }

    /// Bytes of live held frames no log holds. A log drops a frame before
    /// it stops counting it, so between the two counters this errs low.
    pub(crate) fn unlogged_bytes(&self) -> usize {
        self.frame_bytes
            .load(Ordering::Acquire)
            .saturating_sub(self.logs_hold_bytes.load(Ordering::Acquire))
    }

    /// Counts a subscription's end, once per subscriber (lagging is counted
    /// where it is detected).
    pub(crate) fn count_end(&self, reason: EndReason) {
        let counter = match reason {
            EndReason::Unsubscribed => &self.ended_unsubscribed,
            EndReason::StreamRemoved => &self.ended_stream_removed,
            EndReason::ServerClosed => &self.ended_server_closed,
            EndReason::Kicked => &self.ended_kicked,
            EndReason::Lagged => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn next_subscriber_id(&self) -> u64 {
        self.next_subscriber_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Which counter a [`Live`] guard keeps up.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    StreamActor,
    SubscriberActor,
    SubscriberRecord,
    Queue,
}

/// Counts one live object from creation to drop, whatever path frees it.
#[derive(Debug)]
pub(crate) struct Live {
    counters: Arc<Counters>,
    kind: Kind,
}

impl Live {
    pub(crate) fn new(counters: &Arc<Counters>, kind: Kind) -> Self {
        counter(counters, kind).fetch_add(1, Ordering::AcqRel);
        Live {
            counters: Arc::clone(counters),
            kind,
        }
    }

    /// The counters this object is counted in.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        counter(&self.counters, self.kind).fetch_sub(1, Ordering::AcqRel);
    }
}

fn counter(counters: &Counters, kind: Kind) -> &AtomicUsize {
    match kind {
        Kind::StreamActor => &counters.stream_actors,
        Kind::SubscriberActor => &counters.subscriber_actors,
        Kind::SubscriberRecord => &counters.subscriber_records,
        Kind::Queue => &counters.queues,
    }
}
