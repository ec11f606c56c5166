//! Counters of what a client has alive, so tests (and operators) can prove
//! that cancellation leaves nothing behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A snapshot of what a [`Client`](super::Client) has alive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Subscriptions (streams, handler loops, channel feeders) not yet dropped.
    pub subscriptions: usize,
    /// HTTP responses being read.
    pub connections: usize,
    /// Tasks spawned by the channel form and not yet finished.
    pub tasks: usize,
}

#[derive(Debug, Default)]
pub(crate) struct LiveCounters {
    subscriptions: AtomicUsize,
    connections: AtomicUsize,
    tasks: AtomicUsize,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum LiveKind {
    Subscription,
    Connection,
    Task,
}

impl LiveCounters {
    pub(crate) fn counts(&self) -> LiveCounts {
        LiveCounts {
            subscriptions: self.subscriptions.load(Ordering::SeqCst),
            connections: self.connections.load(Ordering::SeqCst),
            tasks: self.tasks.load(Ordering::SeqCst),
        }
    }

    fn counter(&self, kind: LiveKind) -> &AtomicUsize {
        match kind {
            LiveKind::Subscription => &self.subscriptions,
            LiveKind::Connection => &self.connections,
            LiveKind::Task => &self.tasks,
        }
    }

    /// Counts one `kind` alive until the returned guard is dropped.
    pub(crate) fn track(self: &Arc<Self>, kind: LiveKind) -> LiveGuard {
        self.counter(kind).fetch_add(1, Ordering::SeqCst);
        LiveGuard {
            counters: Arc::clone(self),
            kind,
        }
    }
}

/// Decrements its counter when dropped, however its owner ends.
#[derive(Debug)]
pub(crate) struct LiveGuard {
    counters: Arc<LiveCounters>,
    kind: LiveKind,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.counters
            .counter(self.kind)
            .fetch_sub(1, Ordering::SeqCst);
    }
}
