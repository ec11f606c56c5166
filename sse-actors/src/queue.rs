//! The bounded frame queue between one stream (producer, on its arbiter) and
//! one consumer (an HTTP body polled on another thread).
//!
//! Delivery is a `Bytes` clone and a push under an uncontended mutex; the
//! deque keeps its capacity, so steady-state delivery allocates nothing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::SlowSubscriberPolicy;
use crate::stats::{Counters, Kind, Live};
use crate::subscription::EndReason;

/// One encoded frame and when it was published (for the TTL).
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) frame: Bytes,
    pub(crate) published: Instant,
}

/// What a push did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    /// The queue was full and the policy dropped its oldest frame.
    DroppedOldest,
    /// The queue was full and the policy ends the subscription; the queue is
    /// now closed with [`EndReason::Lagged`].
    Lagged,
    /// The consumer is gone or the queue was closed earlier.
    Closed,
}

#[derive(Debug)]
pub(crate) struct Queue {
    inner: Mutex<Inner>,
    capacity: usize,
    policy: SlowSubscriberPolicy,
    _live: Live,
}

#[derive(Debug, Default)]
struct Inner {
    items: VecDeque<Item>,
    /// Leading items that came from the replay log: they do not count against
    /// `capacity`, or a long replay would disconnect every reconnecting client.
    replay_left: usize,
    waker: Option<Waker>,
    end: Option<EndReason>,
    dropped: u64,
}

impl Queue {
    pub(crate) fn new(
        capacity: usize,
        policy: SlowSubscriberPolicy,
        counters: &Arc<Counters>,
    ) -> Self {
        Queue {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            policy,
            _live: Live::new(counters, Kind::Queue),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the deque inconsistent
        // (every critical section is a single push, pop or clear).
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Queues replayed frames ahead of any live frame, beyond the capacity.
    pub(crate) fn push_replay(&self, replay: impl Iterator<Item = Item>) {
        let mut inner = self.lock();
        if inner.end.is_some() {
            return;
        }
        let before = inner.items.len();
        inner.items.extend(replay);
        inner.replay_left += inner.items.len() - before;
        wake(inner);
    }

    /// Delivers one live frame.
    pub(crate) fn push(&self, item: Item) -> Pushed {
        let mut inner = self.lock();
        if inner.end.is_some() {
            return Pushed::Closed;
        }
        let mut pushed = Pushed::Queued;
        if inner.items.len() - inner.replay_left >= self.capacity {
            match self.policy {
                SlowSubscriberPolicy::Disconnect => {
                    inner.end = Some(EndReason::Lagged);
                    wake(inner);
                    return Pushed::Lagged;
                }
                SlowSubscriberPolicy::DropOldest => {
                    // Drop the oldest live frame; replayed frames stay, they
                    // are what the client asked to catch up on.
                    let at = inner.replay_left;
                    inner.items.remove(at);
                    inner.dropped += 1;
                    pushed = Pushed::DroppedOldest;
                }
            }
        }
        inner.items.push_back(item);
        wake(inner);
        pushed
    }

    /// Queues a keep-alive frame unless the consumer already has frames
    /// waiting (they prove liveness just as well).
    pub(crate) fn push_keep_alive(&self, frame: &Bytes) -> Pushed {
        let mut inner = self.lock();
        if inner.end.is_some() {
            return Pushed::Closed;
        }
        if inner.items.is_empty() {
            inner.items.push_back(Item {
                frame: frame.clone(),
                published: Instant::now(),
            });
            wake(inner);
        }
        Pushed::Queued
    }

    /// Ends the queue: the first reason wins. Frames still queued are dropped
    /// unless the subscriber lagged (then it drains them before it ends, so
    /// its Last-Event-ID is as recent as possible when it reconnects).
    pub(crate) fn close(&self, reason: EndReason) {
        let mut inner = self.lock();
        if inner.end.is_none() {
            inner.end = Some(reason);
        }
        if inner.end != Some(EndReason::Lagged) {
            inner.items = VecDeque::new();
            inner.replay_left = 0;
        }
        wake(inner);
    }

    pub(crate) fn end_reason(&self) -> Option<EndReason> {
        self.lock().end
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// The consumer side: the next frame younger than `ttl`, or the end.
    pub(crate) fn poll_pop(
        &self,
        cx: &mut Context<'_>,
        ttl: Option<Duration>,
    ) -> Poll<Option<Bytes>> {
        let mut inner = self.lock();
        let now = ttl.map(|_| Instant::now());
        while let Some(item) = inner.items.pop_front() {
            if inner.replay_left > 0 {
                inner.replay_left -= 1;
            }
            let stale = match (ttl, now) {
                (Some(ttl), Some(now)) => now.saturating_duration_since(item.published) > ttl,
                _ => false,
            };
            if !stale {
                return Poll::Ready(Some(item.frame));
            }
        }
        if inner.end.is_some() {
            return Poll::Ready(None);
        }
        match &inner.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => inner.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// Wakes the consumer after releasing the lock, so it never wakes into a
/// held mutex.
fn wake(mut inner: MutexGuard<'_, Inner>) {
    let waker = inner.waker.take();
    drop(inner);
    if let Some(waker) = waker {
        waker.wake();
    }
}
