//! The bounded frame queue between one stream (producer, on its arbiter) and
//! one consumer (an HTTP body polled on another thread).
//!
//! Delivery is a `Bytes` clone and a push under an uncontended mutex; the
//! deque keeps its capacity, so steady-state delivery allocates nothing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::config::SlowSubscriberPolicy;
use crate::position::Position;
use crate::sequencing::Freshness;
use crate::stats::{Counters, Kind, Live};
use crate::subscription::{Delivery, EndReason};
use crate::topics::Topics;

/// One encoded frame, when it was published (for the TTL) and where its
/// event sits in the stream.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) frame: Bytes,
    pub(crate) published: Instant,
    /// `None` for a keep-alive.
    pub(crate) position: Option<Position>,
    /// Bytes of `frame`'s leading `id:` line (0 without one).
    pub(crate) id_line: usize,
    /// What the event is about, for the topic filters; only the log and
    /// the fan-out need it, queued copies go without.
    pub(crate) topics: Option<Arc<Topics>>,
}

impl Item {
    /// The copy a subscriber's queue holds: the same shared bytes, without
    /// the topics (one reference count less to touch per delivery).
    pub(crate) fn queued(&self) -> Item {
        Item {
            frame: self.frame.clone(),
            published: self.published,
            position: self.position,
            id_line: self.id_line,
            topics: None,
        }
    }

    pub(crate) fn is_private(&self) -> bool {
        self.topics
            .as_ref()
            .is_some_and(|topics| topics.is_private())
    }

    fn into_delivery(self, replayed: bool) -> Delivery {
        Delivery {
            frame: self.frame,
            position: self.position,
            id_line: self.id_line,
            published: self.published,
            replayed,
        }
    }
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

/// How much live traffic one subscriber's queue holds before the
/// slow-subscriber policy applies: whichever bound is reached first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueueLimits {
    /// Frames (at least 1).
    pub(crate) frames: usize,
    /// Encoded bytes. A frame larger than this alone is still queued when
    /// nothing live is, so any event the stream accepts can be delivered.
    pub(crate) bytes: usize,
}

#[derive(Debug)]
pub(crate) struct Queue {
    inner: Mutex<Inner>,
    limits: QueueLimits,
    policy: SlowSubscriberPolicy,
    live: Live,
}

#[derive(Debug, Default)]
struct Inner {
    items: VecDeque<Item>,
    /// Leading items that came from the replay log: they do not count against
    /// the limits, or a long replay would disconnect every reconnecting
    /// client (they are the log's bytes, shared, not copies).
    replay_left: usize,
    /// Encoded bytes of the items after the replayed ones.
    live_bytes: usize,
    waker: Option<Waker>,
    end: Option<EndReason>,
    dropped: u64,
    /// Set while a closing server waits for this queue to be read out.
    drain: Option<Arc<Drain>>,
}

impl Inner {
    /// Whether one more live frame of `len` bytes would pass `limits`. An
    /// empty live part always takes it, so no event is too large to deliver.
    fn is_full(&self, limits: QueueLimits, len: usize) -> bool {
        let live = self.items.len() - self.replay_left;
        live > 0 && (live >= limits.frames || self.live_bytes + len > limits.bytes)
    }

    /// Accounts for the front frame of `len` bytes just taken; answers
    /// whether it was replayed.
    fn took(&mut self, len: usize) -> bool {
        if self.replay_left > 0 {
            self.replay_left -= 1;
            true
        } else {
            self.live_bytes -= len;
            false
        }
    }

    /// Tells a waiting drain this queue is read out, once it is.
    fn drained_if_empty(&mut self) {
        if self.items.is_empty()
            && let Some(drain) = self.drain.take()
        {
            drain.one_done();
        }
    }

    /// Has the consumer's task woken by the next push.
    fn register(&mut self, cx: &Context<'_>) {
        match &self.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
    }

    /// Frees the queued frames and tells a waiting drain this one is done.
    fn clear(&mut self) {
        self.items = VecDeque::new();
        self.replay_left = 0;
        self.live_bytes = 0;
        if let Some(drain) = self.drain.take() {
            drain.one_done();
        }
    }
}

/// Whether a subscription ending for `reason` still yields what it was
/// owed: a lagged subscriber drains its queue, so its Last-Event-ID is as
/// recent as possible when it reconnects; a closing server delivers what it
/// accepted. Any other end (its consumer left, its stream was removed, it
/// was ended by the server) drops what is queued.
fn keeps_queued(reason: EndReason) -> bool {
    matches!(reason, EndReason::Lagged | EndReason::ServerClosed)
}

/// The queues a closing server waits to see read to the end (or dropped).
#[derive(Debug, Default)]
pub(crate) struct Drain {
    left: AtomicUsize,
    done: Notify,
}

impl Drain {
    /// Resolves once every watched queue was read out or dropped.
    pub(crate) async fn finished(&self) {
        loop {
            // Registered before the check, so no wake-up falls in between.
            let done = self.done.notified();
            if self.left.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }

    fn one_done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_waiters();
        }
    }
}

impl Queue {
    pub(crate) fn new(
        limits: QueueLimits,
        policy: SlowSubscriberPolicy,
        counters: &Arc<Counters>,
    ) -> Self {
        Queue {
            inner: Mutex::new(Inner::default()),
            limits: QueueLimits {
                frames: limits.frames.max(1),
                bytes: limits.bytes,
            },
            policy,
            live: Live::new(counters, Kind::Queue),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the deque inconsistent
        // (every critical section is a single push, pop or clear).
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Queues replayed frames ahead of any live frame, beyond the limits.
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
    #[cfg(test)]
    pub(crate) fn push(&self, item: Item) -> Pushed {
        self.push_all(std::iter::once(item))
    }

    /// Delivers several live frames in order under one lock and with one
    /// wake-up: what the stream does when events were published faster than
    /// it fanned them out. Reports the last push that mattered: `Lagged` or
    /// `Closed` as soon as one happens (the frames after it are not queued),
    /// else `DroppedOldest` if any push dropped a frame.
    pub(crate) fn push_all(&self, items: impl IntoIterator<Item = Item>) -> Pushed {
        let inner = self.lock();
        if inner.end.is_some() {
            return Pushed::Closed;
        }
        self.push_each(inner, items)
    }

    /// [`push_all`](Self::push_all) of clones of `items`, whose frames
    /// total `bytes`: the fan-out's batch, the same for every subscriber.
    /// When all of it fits, as it does for a subscriber that keeps up, it
    /// is queued without a check per frame.
    pub(crate) fn push_batch(&self, items: &[Item], bytes: usize) -> Pushed {
        let mut inner = self.lock();
        if inner.end.is_some() {
            return Pushed::Closed;
        }
        let live = inner.items.len() - inner.replay_left;
        if live + items.len() <= self.limits.frames
            && inner.live_bytes.saturating_add(bytes) <= self.limits.bytes
        {
            inner.items.extend(items.iter().cloned());
            inner.live_bytes += bytes;
            wake(inner);
            return Pushed::Queued;
        }
        self.push_each(inner, items.iter().cloned())
    }

    fn push_each(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        items: impl IntoIterator<Item = Item>,
    ) -> Pushed {
        let mut pushed = Pushed::Queued;
        for item in items {
            while inner.is_full(self.limits, item.frame.len()) {
                match self.policy {
                    SlowSubscriberPolicy::Disconnect => {
                        inner.end = Some(EndReason::Lagged);
                        self.count_lagged();
                        wake(inner);
                        return Pushed::Lagged;
                    }
                    SlowSubscriberPolicy::DropOldest => {
                        // Drop the oldest live frame; replayed frames stay,
                        // they are what the client asked to catch up on.
                        let at = inner.replay_left;
                        if let Some(dropped) = inner.items.remove(at) {
                            inner.live_bytes -= dropped.frame.len();
                        }
                        inner.dropped += 1;
                        pushed = Pushed::DroppedOldest;
                    }
                }
            }
            inner.live_bytes += item.frame.len();
            inner.items.push_back(item);
        }
        wake(inner);
        pushed
    }

    /// Queues a keep-alive frame (sent at `now`) unless the consumer already
    /// has frames waiting (they prove liveness just as well).
    pub(crate) fn push_keep_alive(&self, frame: &Bytes, now: Instant) -> Pushed {
        let mut inner = self.lock();
        if inner.end.is_some() {
            return Pushed::Closed;
        }
        if inner.items.is_empty() {
            inner.live_bytes += frame.len();
            inner.items.push_back(Item {
                frame: frame.clone(),
                published: now,
                position: None,
                id_line: 0,
                topics: None,
            });
            wake(inner);
        }
        Pushed::Queued
    }

    /// Ends the queue: the first reason wins. Frames still queued are
    /// dropped unless that reason keeps them for the consumer to read first
    /// (lagged, server closed).
    pub(crate) fn close(&self, reason: EndReason) {
        let mut inner = self.lock();
        let reason = *inner.end.get_or_insert(reason);
        if !keeps_queued(reason) {
            inner.clear();
        }
        wake(inner);
    }

    /// The memory budget ends this subscriber ([`EndReason::Lagged`], as
    /// when its own queue is full): unlike a full queue, what it held is
    /// freed at once instead of left to be read.
    pub(crate) fn cut(&self) {
        let mut inner = self.lock();
        if inner.end.is_none() {
            inner.end = Some(EndReason::Lagged);
            self.count_lagged();
        }
        inner.clear();
        wake(inner);
    }

    /// A lagged end is counted when it is decided (here, the only place
    /// that decides one), not when the stream next finds the queue closed.
    fn count_lagged(&self) {
        self.live.counters().lagged.fetch_add(1, Ordering::Relaxed);
    }

    /// Encoded bytes of every frame queued, replayed ones included (read
    /// only past the memory budget: it walks the queue).
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().items.iter().map(|item| item.frame.len()).sum()
    }

    /// The consumer is gone: ends the queue and frees what it held.
    pub(crate) fn abandon(&self) {
        let mut inner = self.lock();
        inner.end.get_or_insert(EndReason::Unsubscribed);
        inner.clear();
    }

    /// Makes `drain` wait until this ended queue is read out or dropped.
    pub(crate) fn watch_drain(&self, drain: &Arc<Drain>) {
        let mut inner = self.lock();
        if inner.end.is_some() && !inner.items.is_empty() && inner.drain.is_none() {
            drain.left.fetch_add(1, Ordering::AcqRel);
            inner.drain = Some(Arc::clone(drain));
        }
    }

    pub(crate) fn end_reason(&self) -> Option<EndReason> {
        self.lock().end
    }

    pub(crate) fn is_finished(&self) -> bool {
        let inner = self.lock();
        inner.end.is_some() && inner.items.is_empty()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Encoded bytes of the live frames queued (replayed ones not counted).
    #[cfg(test)]
    pub(crate) fn live_bytes(&self) -> usize {
        self.lock().live_bytes
    }

    /// The consumer side: the next frame still `fresh` (every frame when
    /// `None`: no TTL), or the end.
    #[inline]
    pub(crate) fn poll_pop(
        &self,
        cx: &mut Context<'_>,
        fresh: Option<Freshness>,
    ) -> Poll<Option<Bytes>> {
        let mut inner = self.lock();
        while let Some(item) = inner.items.pop_front() {
            inner.took(item.frame.len());
            if fresh.is_none_or(|fresh| fresh.admits(item.published)) {
                inner.drained_if_empty();
                return Poll::Ready(Some(item.frame));
            }
        }
        inner.drained_if_empty();
        if inner.end.is_some() {
            return Poll::Ready(None);
        }
        inner.register(cx);
        Poll::Pending
    }

    /// The consumer side, in bulk: appends to `out` the queued frames still
    /// `fresh`, in order, while their total stays within `max_bytes`
    /// (always at least one), under one lock. `Ready(0)` is the end;
    /// `Pending` (with the waker registered) means nothing is queued.
    pub(crate) fn poll_pop_many(
        &self,
        cx: &mut Context<'_>,
        fresh: Option<Freshness>,
        max_bytes: usize,
        out: &mut impl Extend<Bytes>,
    ) -> Poll<usize> {
        self.poll_take(cx, fresh, max_bytes, |item, _| out.extend(Some(item.frame)))
    }

    /// [`poll_pop_many`](Self::poll_pop_many) with each frame's position
    /// and id line.
    pub(crate) fn poll_pop_deliveries(
        &self,
        cx: &mut Context<'_>,
        fresh: Option<Freshness>,
        max_bytes: usize,
        out: &mut impl Extend<Delivery>,
    ) -> Poll<usize> {
        self.poll_take(cx, fresh, max_bytes, |item, replayed| {
            out.extend(Some(item.into_delivery(replayed)));
        })
    }

    fn poll_take(
        &self,
        cx: &mut Context<'_>,
        fresh: Option<Freshness>,
        max_bytes: usize,
        // The item, and whether it was replayed from the log.
        mut take: impl FnMut(Item, bool),
    ) -> Poll<usize> {
        let mut inner = self.lock();
        let (mut count, mut bytes) = (0, 0);
        while let Some(front) = inner.items.front() {
            if count > 0 && bytes + front.frame.len() > max_bytes {
                return Poll::Ready(count);
            }
            let Some(item) = inner.items.pop_front() else {
                break;
            };
            let replayed = inner.took(item.frame.len());
            if fresh.is_none_or(|fresh| fresh.admits(item.published)) {
                bytes += item.frame.len();
                count += 1;
                take(item, replayed);
            }
        }
        inner.drained_if_empty();
        if count > 0 {
            return Poll::Ready(count);
        }
        if inner.end.is_some() {
            return Poll::Ready(0);
        }
        inner.register(cx);
        Poll::Pending
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        self.lock().clear();
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

#[cfg(test)]
mod tests {
    use std::task::Waker;
    use std::time::Duration;

    use super::*;

    fn item(text: &'static str) -> Item {
        Item {
            frame: Bytes::from_static(text.as_bytes()),
            published: Instant::now(),
            position: None,
            id_line: 0,
            topics: None,
        }
    }

    fn queue(frames: usize, policy: SlowSubscriberPolicy) -> Queue {
        let limits = QueueLimits {
            frames,
            bytes: usize::MAX,
        };
        Queue::new(limits, policy, &Arc::default())
    }

    fn bounded(bytes: usize, policy: SlowSubscriberPolicy) -> Queue {
        let limits = QueueLimits {
            frames: 1024,
            bytes,
        };
        Queue::new(limits, policy, &Arc::default())
    }

    fn pop(q: &Queue) -> Poll<Option<Bytes>> {
        q.poll_pop(&mut Context::from_waker(Waker::noop()), None)
    }

    fn drain(q: &Queue) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Poll::Ready(Some(frame)) = pop(q) {
            out.push(frame);
        }
        out
    }

    #[test]
    fn replay_does_not_count_against_capacity() {
        let q = queue(2, SlowSubscriberPolicy::Disconnect);
        q.push_replay(["r1", "r2", "r3"].into_iter().map(item));
        assert_eq!(q.push(item("l1")), Pushed::Queued);
        assert_eq!(q.push(item("l2")), Pushed::Queued);
        assert_eq!(q.push(item("l3")), Pushed::Lagged);
        assert_eq!(
            drain(&q),
            ["r1", "r2", "r3", "l1", "l2"],
            "a lagged queue drains first"
        );
        assert_eq!(pop(&q), Poll::Ready(None));
        assert_eq!(q.end_reason(), Some(EndReason::Lagged));
    }

    #[test]
    fn a_lagged_end_is_counted_once_when_it_is_decided() {
        let counters = Arc::<Counters>::default();
        let limits = QueueLimits {
            frames: 1,
            bytes: usize::MAX,
        };
        let lagged = || counters.lagged.load(Ordering::Relaxed);
        let full = Queue::new(limits, SlowSubscriberPolicy::Disconnect, &counters);
        full.push(item("a"));
        assert_eq!(lagged(), 0);
        assert_eq!(full.push(item("b")), Pushed::Lagged);
        assert_eq!(lagged(), 1);
        assert_eq!(full.push(item("c")), Pushed::Closed);
        full.cut();
        assert_eq!(lagged(), 1, "an ended queue is not counted again");
        let cut = Queue::new(limits, SlowSubscriberPolicy::Disconnect, &counters);
        cut.cut();
        cut.cut();
        assert_eq!(lagged(), 2);
        let closed = Queue::new(limits, SlowSubscriberPolicy::Disconnect, &counters);
        closed.close(EndReason::Unsubscribed);
        closed.cut();
        assert_eq!(lagged(), 2, "only a live queue is cut as lagged");
    }

    #[test]
    fn a_queue_past_its_byte_limit_lags_though_under_its_frame_limit() {
        let q = bounded(10, SlowSubscriberPolicy::Disconnect);
        q.push_replay(["replayed-frame-bytes"].into_iter().map(item));
        assert_eq!(q.push(item("aaaa")), Pushed::Queued);
        assert_eq!(q.push(item("bbbb")), Pushed::Queued);
        assert_eq!(
            q.live_bytes(),
            8,
            "replayed frames are the log's, not counted"
        );
        assert_eq!(q.push(item("ccc")), Pushed::Lagged);
        assert_eq!(drain(&q), ["replayed-frame-bytes", "aaaa", "bbbb"]);
        assert_eq!(q.live_bytes(), 0);
    }

    #[test]
    fn drop_oldest_drops_until_the_new_frame_fits_in_bytes() {
        let q = bounded(10, SlowSubscriberPolicy::DropOldest);
        q.push_all(["aaa", "bbb", "ccc"].map(item));
        assert_eq!(q.push(item("dddddddd")), Pushed::DroppedOldest);
        assert_eq!(q.dropped(), 3);
        assert_eq!(q.live_bytes(), 8);
        assert_eq!(drain(&q), ["dddddddd"]);
    }

    #[test]
    fn a_frame_larger_than_the_byte_limit_is_queued_alone() {
        let q = bounded(4, SlowSubscriberPolicy::Disconnect);
        assert_eq!(q.push(item("larger-than-four")), Pushed::Queued);
        assert_eq!(q.push(item("x")), Pushed::Lagged);
        assert_eq!(drain(&q), ["larger-than-four"]);
    }

    #[test]
    fn read_and_expired_frames_leave_the_byte_count() {
        let q = bounded(100, SlowSubscriberPolicy::Disconnect);
        let t0 = Instant::now();
        q.push_keep_alive(&Bytes::from_static(b": ka\n"), t0);
        q.push(item("fresh"));
        q.push(Item {
            frame: Bytes::from_static(b"stale"),
            published: t0,
            position: None,
            id_line: 0,
            topics: None,
        });
        assert_eq!(q.live_bytes(), 5 + 5 + 5);
        let mut cx = Context::from_waker(Waker::noop());
        let fresh = Freshness {
            ttl: Some(Duration::from_secs(1)),
            now: t0 + Duration::from_millis(500),
        };
        let mut out = Vec::new();
        assert_eq!(
            q.poll_pop_many(&mut cx, Some(fresh), 1, &mut out),
            Poll::Ready(1)
        );
        assert_eq!(q.live_bytes(), 10);
        let expired = Freshness {
            ttl: Some(Duration::from_secs(1)),
            now: t0 + Duration::from_secs(2),
        };
        while q
            .poll_pop_many(&mut cx, Some(expired), 100, &mut out)
            .is_ready()
        {}
        assert_eq!(q.live_bytes(), 0, "skipped frames are freed too");
    }

    #[test]
    fn a_batch_past_capacity_queues_what_fits_then_lags() {
        let q = queue(2, SlowSubscriberPolicy::Disconnect);
        assert_eq!(q.push_all(["a", "b", "c", "d"].map(item)), Pushed::Lagged);
        assert_eq!(drain(&q), ["a", "b"]);
        assert_eq!(pop(&q), Poll::Ready(None));
        assert_eq!(q.push_all([item("late")]), Pushed::Closed);
    }

    #[test]
    fn a_batch_under_drop_oldest_keeps_the_newest() {
        let q = queue(2, SlowSubscriberPolicy::DropOldest);
        assert_eq!(q.push_all(["a", "b"].map(item)), Pushed::Queued);
        assert_eq!(q.push_all(["c", "d", "e"].map(item)), Pushed::DroppedOldest);
        assert_eq!(q.dropped(), 3);
        assert_eq!(drain(&q), ["d", "e"]);
    }

    #[test]
    fn pop_many_stops_at_the_byte_limit_but_takes_one_at_least() {
        let q = queue(8, SlowSubscriberPolicy::Disconnect);
        q.push_all(["aaaa", "bbbb", "cccc", "dddddddd"].map(item));
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = Vec::new();
        assert_eq!(q.poll_pop_many(&mut cx, None, 8, &mut out), Poll::Ready(2));
        assert_eq!(q.poll_pop_many(&mut cx, None, 2, &mut out), Poll::Ready(1));
        assert_eq!(q.poll_pop_many(&mut cx, None, 2, &mut out), Poll::Ready(1));
        assert_eq!(out, ["aaaa", "bbbb", "cccc", "dddddddd"]);
        assert_eq!(q.poll_pop_many(&mut cx, None, 8, &mut out), Poll::Pending);
        q.close(EndReason::ServerClosed);
        assert_eq!(q.poll_pop_many(&mut cx, None, 8, &mut out), Poll::Ready(0));
    }

    #[test]
    fn drop_oldest_keeps_replay_and_counts() {
        let q = queue(2, SlowSubscriberPolicy::DropOldest);
        q.push_replay(std::iter::once(item("r")));
        for text in ["a", "b", "c", "d"] {
            q.push(item(text));
        }
        assert_eq!(q.dropped(), 2);
        assert_eq!(drain(&q), ["r", "c", "d"]);
        assert_eq!(pop(&q), Poll::Pending);
    }

    #[test]
    fn keep_alive_only_into_an_empty_queue() {
        let q = queue(4, SlowSubscriberPolicy::Disconnect);
        let ka = Bytes::from_static(b": keep-alive\n");
        let now = Instant::now();
        q.push_keep_alive(&ka, now);
        q.push_keep_alive(&ka, now);
        assert_eq!(q.len(), 1);
        q.push(item("e"));
        q.push_keep_alive(&ka, now);
        assert_eq!(drain(&q), [ka.clone(), Bytes::from_static(b"e")]);
    }

    #[test]
    fn close_frees_frames_and_first_reason_wins() {
        let q = queue(4, SlowSubscriberPolicy::Disconnect);
        q.push(item("e"));
        q.close(EndReason::StreamRemoved);
        q.close(EndReason::Unsubscribed);
        assert_eq!(q.end_reason(), Some(EndReason::StreamRemoved));
        assert_eq!(q.len(), 0);
        assert_eq!(pop(&q), Poll::Ready(None));
        assert_eq!(q.push(item("late")), Pushed::Closed);
    }

    #[test]
    fn a_closing_server_leaves_what_it_owes_to_be_read_then_the_end() {
        let q = queue(4, SlowSubscriberPolicy::Disconnect);
        q.push_all(["a", "b"].map(item));
        q.close(EndReason::ServerClosed);
        q.close(EndReason::Unsubscribed);
        assert_eq!(q.end_reason(), Some(EndReason::ServerClosed));
        assert_eq!(q.push(item("late")), Pushed::Closed);
        assert_eq!(drain(&q), ["a", "b"]);
        assert_eq!(pop(&q), Poll::Ready(None));
    }

    #[test]
    fn a_drain_finishes_when_every_watched_queue_is_read_out_or_abandoned() {
        let closing = Arc::new(Drain::default());
        let read = queue(4, SlowSubscriberPolicy::Disconnect);
        let abandoned = queue(4, SlowSubscriberPolicy::Disconnect);
        let empty = queue(4, SlowSubscriberPolicy::Disconnect);
        for q in [&read, &abandoned] {
            q.push_all(["a", "b"].map(item));
        }
        for q in [&read, &abandoned, &empty] {
            q.close(EndReason::ServerClosed);
            q.watch_drain(&closing);
        }
        let mut finished = std::pin::pin!(closing.finished());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(finished.as_mut().poll(&mut cx).is_pending());
        assert_eq!(pop(&read), Poll::Ready(Some(Bytes::from_static(b"a"))));
        assert_eq!(pop(&read), Poll::Ready(Some(Bytes::from_static(b"b"))));
        assert!(
            finished.as_mut().poll(&mut cx).is_pending(),
            "one still owed"
        );
        abandoned.abandon();
        assert!(finished.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn frames_past_their_ttl_when_read_are_skipped() {
        let q = queue(4, SlowSubscriberPolicy::Disconnect);
        let t0 = Instant::now();
        for (text, at) in [("old", 0), ("new", 20)] {
            q.push(Item {
                frame: Bytes::from_static(text.as_bytes()),
                published: t0 + Duration::from_secs(at),
                position: None,
                id_line: 0,
                topics: None,
            });
        }
        let mut cx = Context::from_waker(Waker::noop());
        let fresh = Freshness {
            ttl: Some(Duration::from_secs(30)),
            now: t0 + Duration::from_secs(31),
        };
        assert_eq!(
            q.poll_pop(&mut cx, Some(fresh)),
            Poll::Ready(Some(Bytes::from_static(b"new")))
        );
    }
}
