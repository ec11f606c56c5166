//! One memory budget for the event frames of every stream together.
//!
//! It counts two things, each frame once however many hold it:
//! - the encoded bytes every log keeps (each log charges them to the
//!   server's [`LogBudget`]);
//! - the bytes of frames no log holds (any more, or never did) that are
//!   still alive: queued for subscribers, waiting to be fanned out, or
//!   being written. Every frame a stream takes is [held](LogBudget::hold):
//!   its `Bytes` owner counts it until its last clone is dropped, so a
//!   frame shared by a log and a thousand queues counts once, and delivery
//!   (a clone) costs nothing more.
//!
//! Past the budget, the oldest logged events across all streams are
//! claimed first, in the order they were logged, whatever stream holds
//! them: a claimed event is accounted as gone at once, and its stream
//! drops it the next time it runs (it is woken to). When no log holds
//! anything more to claim and frames nobody logs still pass the budget, the
//! subscribers holding the most queued bytes are cut, largest first
//! ([`EndReason::Lagged`](crate::EndReason::Lagged), their queue freed at
//! once). Publishing never waits for this and never fails because of it.
//!
//! Plain shared state, no actors, no clock: byte counters, the order in
//! which events were logged, one watermark per log, and a list of the
//! subscribers' queues that is read only past the budget. A log forgets its
//! events oldest first, so "every event up to this sequence number is
//! gone" says which of its events are still charged.

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use bytes::Bytes;

use crate::queue::Queue;
use crate::stats::Counters;

/// The bytes every log of a server keeps, and their bound.
#[derive(Debug)]
pub(crate) struct LogBudget {
    /// `None`: bytes are counted, nothing is claimed.
    limit: Option<usize>,
    /// The server's counters; `log_bytes` is the bytes charged now.
    counters: Arc<Counters>,
    /// Every charged event, oldest first (only with a limit). Entries of
    /// events their log forgot by itself are skipped when reached, and
    /// swept when they outnumber the charged ones.
    order: Mutex<VecDeque<Charge>>,
    /// Events charged now.
    events: AtomicUsize,
    /// Every subscriber's queue (only with a limit), read past the budget
    /// to find the ones to cut; dead entries are swept when they outnumber
    /// the live queues.
    queues: Mutex<Vec<Weak<Queue>>>,
}

/// The owner of a held frame's bytes: counts them until the frame's last
/// clone is dropped.
struct Held {
    frame: Bytes,
    counters: Arc<Counters>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.frame
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.counters
            .frame_bytes
            .fetch_sub(self.frame.len(), Ordering::AcqRel);
    }
}

#[derive(Debug)]
struct Charge {
    account: Arc<LogAccount>,
    seq: u64,
    bytes: usize,
}

/// One log's side of the budget.
pub(crate) struct LogAccount {
    budget: Arc<LogBudget>,
    /// Every event of the log up to this sequence number is no longer
    /// charged: the log forgot it, or the budget claimed it.
    gone_through: Mutex<u64>,
    /// The budget claimed events the log still holds.
    claimed: AtomicBool,
    /// Tells the log's driver to drop what was claimed.
    wake: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for LogAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogAccount")
            .field("gone_through", &*self.gone())
            .field("claimed", &self.claimed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl LogBudget {
    pub(crate) fn new(limit: Option<usize>, counters: Arc<Counters>) -> Self {
        LogBudget {
            limit,
            counters,
            order: Mutex::new(VecDeque::new()),
            events: AtomicUsize::new(0),
            queues: Mutex::new(Vec::new()),
        }
    }

    /// Makes `frame` count against the budget for as long as any clone of
    /// it lives (as is without a limit). One allocation per event taken,
    /// none per delivery: a clone of a held frame is a reference count.
    pub(crate) fn hold(&self, frame: Bytes) -> Bytes {
        if self.limit.is_none() {
            return frame;
        }
        self.counters
            .frame_bytes
            .fetch_add(frame.len(), Ordering::AcqRel);
        Bytes::from_owner(Held {
            frame,
            counters: Arc::clone(&self.counters),
        })
    }

    /// Lets the budget cut `queue` when it must (with a limit only).
    pub(crate) fn watch(&self, queue: &Arc<Queue>) {
        if self.limit.is_none() {
            return;
        }
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        queues.push(Arc::downgrade(queue));
        let live = self.counters.queues.load(Ordering::Acquire);
        if queues.len() > 2 * live + 64 {
            queues.retain(|queue| queue.strong_count() > 0);
        }
    }

    /// Claims logged events, then cuts subscribers, while the budget is
    /// passed.
    pub(crate) fn settle(&self) {
        let Some(limit) = self.limit else {
            return;
        };
        if self.held() > limit && self.claim_past_limit(limit) {
            self.cut_past_limit(limit);
        }
    }

    /// A new log's account.
    pub(crate) fn account(self: &Arc<Self>) -> Arc<LogAccount> {
        Arc::new(LogAccount {
            budget: Arc::clone(self),
            gone_through: Mutex::new(0),
            claimed: AtomicBool::new(false),
            wake: OnceLock::new(),
        })
    }

    fn order(&self) -> MutexGuard<'_, VecDeque<Charge>> {
        // Every critical section is a push, a pop or a sweep.
        self.order
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// What the budget bounds: the bytes the logs are charged, plus those
    /// of live frames no log holds.
    fn held(&self) -> usize {
        self.counters.log_bytes.load(Ordering::Acquire) + self.counters.unlogged_bytes()
    }

    fn release(&self, bytes: usize, events: usize) {
        self.counters.log_bytes.fetch_sub(bytes, Ordering::AcqRel);
        self.events.fetch_sub(events, Ordering::AcqRel);
    }

    /// Claims the oldest charged events until the bytes fit, then wakes
    /// the logs that hold them (after the lock: a wake may run code).
    /// Answers whether the bytes still do not fit with nothing left to
    /// claim.
    fn claim_past_limit(&self, limit: usize) -> bool {
        let mut woken = Vec::new();
        let exhausted = {
            let mut order = self.order();
            while self.held() > limit {
                let Some(oldest) = order.pop_front() else {
                    break;
                };
                if oldest.account.forget(oldest.seq, oldest.bytes)
                    && !oldest.account.claimed.swap(true, Ordering::AcqRel)
                {
                    woken.push(oldest.account);
                }
            }
            order.is_empty() && self.held() > limit
        };
        for account in woken {
            if let Some(wake) = account.wake.get() {
                wake();
            }
        }
        exhausted
    }

    /// The logs hold nothing more to claim: ends the subscribers holding
    /// the most queued bytes, largest first, until the bytes fit (or no
    /// queue holds anything). A cut queue frees its frames at once; the
    /// frames it shared with another queue free with the last of them.
    fn cut_past_limit(&self, limit: usize) {
        let mut queues: Vec<(usize, Arc<Queue>)> = self
            .queues
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .map(|queue| (queue.queued_bytes(), queue))
            .filter(|(bytes, _)| *bytes > 0)
            .collect();
        queues.sort_unstable_by_key(|(bytes, _)| Reverse(*bytes));
        for (_, queue) in queues {
            if self.held() <= limit {
                break;
            }
            queue.cut();
        }
    }
}

impl LogAccount {
    fn gone(&self) -> MutexGuard<'_, u64> {
        self.gone_through
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Sets what tells the log's driver to drop claimed events (once).
    pub(crate) fn on_claim(&self, wake: impl Fn() + Send + Sync + 'static) {
        let _ = self.wake.set(Box::new(wake));
    }

    /// Charges one newly logged event; claims (then cuts) past the budget.
    pub(crate) fn charge(self: &Arc<Self>, seq: u64, bytes: usize) {
        let budget = &self.budget;
        budget.counters.log_bytes.fetch_add(bytes, Ordering::AcqRel);
        budget
            .counters
            .logs_hold_bytes
            .fetch_add(bytes, Ordering::AcqRel);
        budget.events.fetch_add(1, Ordering::AcqRel);
        if budget.limit.is_none() {
            return;
        }
        {
            let mut order = budget.order();
            order.push_back(Charge {
                account: Arc::clone(self),
                seq,
                bytes,
            });
            // Entries of events their own log forgot pile up behind older
            // live ones: sweep them once they outnumber the live ones
            // (amortised, a sweep per as many charges as it keeps).
            let live = budget.events.load(Ordering::Acquire);
            if order.len() > 2 * live + 64 {
                order.retain(|charge| charge.seq > *charge.account.gone());
            }
        }
        budget.settle();
    }

    /// The log let go of `bytes` of frames it held (forgotten or claimed):
    /// what other holders keep of them counts as unlogged from now on.
    pub(crate) fn dropped(&self, bytes: usize) {
        self.budget
            .counters
            .logs_hold_bytes
            .fetch_sub(bytes, Ordering::AcqRel);
    }

    /// The log forgot its event `seq` (its oldest) by itself: no longer
    /// charged, unless the budget claimed it first.
    pub(crate) fn forgot(&self, seq: u64, bytes: usize) {
        self.forget(seq, bytes);
    }

    /// The log forgot every event it held; `charged` are those of its
    /// events after [`gone_through`](Self::gone_through), with their sizes.
    pub(crate) fn forgot_all(&self, charged: impl Iterator<Item = (u64, usize)>) {
        let mut gone = self.gone();
        let (mut bytes, mut events) = (0, 0);
        for (seq, size) in charged {
            if seq > *gone {
                bytes += size;
                events += 1;
            }
        }
        *gone = u64::MAX;
        drop(gone);
        self.budget.release(bytes, events);
    }

    /// Every event up to this sequence number is no longer charged.
    pub(crate) fn gone_through(&self) -> u64 {
        *self.gone()
    }

    /// Whether the budget claimed events since the last call.
    pub(crate) fn take_claimed(&self) -> bool {
        self.claimed.swap(false, Ordering::AcqRel)
    }

    /// Marks `seq` gone; answers whether it was still charged.
    fn forget(&self, seq: u64, bytes: usize) -> bool {
        let mut gone = self.gone();
        if seq <= *gone {
            return false;
        }
        *gone = seq;
        drop(gone);
        self.budget.release(bytes, 1);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn budget(limit: usize) -> Arc<LogBudget> {
        Arc::new(LogBudget::new(Some(limit), Arc::default()))
    }

    #[test]
    fn past_the_budget_the_oldest_events_of_any_log_are_claimed_first() {
        let budget = budget(100);
        let (a, b) = (budget.account(), budget.account());
        let wakes = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&wakes);
        a.on_claim(move || {
            counted.fetch_add(1, Ordering::Relaxed);
        });
        a.charge(1, 40);
        b.charge(1, 40);
        a.charge(2, 20);
        assert_eq!(budget.held(), 100);
        assert!(!a.take_claimed());
        b.charge(2, 30);
        // a's event 1 was the oldest anywhere: claimed, a woken once.
        assert_eq!(budget.held(), 90);
        assert_eq!(a.gone_through(), 1);
        assert_eq!(b.gone_through(), 0);
        assert!(a.take_claimed());
        assert_eq!(wakes.load(Ordering::Relaxed), 1);
        b.charge(3, 60);
        // Then b's event 1 and a's event 2.
        assert_eq!((a.gone_through(), b.gone_through()), (2, 1));
        assert_eq!(budget.held(), 90);
    }

    #[test]
    fn an_event_a_log_forgot_by_itself_is_not_claimed_again() {
        let budget = budget(100);
        let a = budget.account();
        a.charge(1, 60);
        a.forgot(1, 60);
        assert_eq!(budget.held(), 0);
        a.charge(2, 60);
        a.charge(3, 60);
        assert_eq!(budget.held(), 60, "2 claimed, 1 skipped");
        assert_eq!(a.gone_through(), 2);
        a.forgot(2, 60);
        assert_eq!(budget.held(), 60, "already claimed: not released twice");
        a.forgot_all([(2, 60), (3, 60)].into_iter());
        assert_eq!(budget.held(), 0);
        assert_eq!(budget.events.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn entries_of_forgotten_events_are_swept() {
        let budget = budget(1 << 20);
        let a = budget.account();
        let b = budget.account();
        b.charge(1, 1);
        for seq in 1..=1000 {
            a.charge(seq, 1);
            a.forgot(seq, 1);
        }
        assert!(budget.order().len() <= 70, "{}", budget.order().len());
        assert_eq!(budget.held(), 1, "b's event is still charged");
    }

    #[test]
    fn with_nothing_left_to_claim_the_queue_holding_most_is_cut_and_no_more() {
        use crate::config::SlowSubscriberPolicy;
        use crate::queue::{Item, QueueLimits};
        use crate::subscription::EndReason;

        let budget = budget(100);
        let counters = Arc::clone(&budget.counters);
        let limits = QueueLimits {
            frames: 16,
            bytes: usize::MAX,
        };
        let queue = || {
            Arc::new(Queue::new(
                limits,
                SlowSubscriberPolicy::Disconnect,
                &counters,
            ))
        };
        let (most, less) = (queue(), queue());
        budget.watch(&most);
        budget.watch(&less);
        let push = |queue: &Queue, frame: &Bytes| {
            queue.push(Item {
                frame: frame.clone(),
                published: std::time::Instant::now(),
                position: None,
                id_line: 0,
                topics: None,
            });
        };
        let only_most = budget.hold(Bytes::from(vec![b'a'; 60]));
        let shared = budget.hold(Bytes::from(vec![b'b'; 30]));
        push(&most, &only_most);
        push(&most, &shared);
        push(&less, &shared);
        drop((only_most, shared));
        budget.settle();
        assert_eq!(budget.held(), 90, "each frame once");
        assert_eq!(most.end_reason(), None);
        let only_less = budget.hold(Bytes::from(vec![b'c'; 40]));
        push(&less, &only_less);
        drop(only_less);
        budget.settle();
        // `most` held 90 bytes, `less` 70: cutting `most` frees its own 60.
        assert_eq!(most.end_reason(), Some(EndReason::Lagged));
        assert_eq!(
            counters.lagged.load(Ordering::Relaxed),
            1,
            "counted as lagged when cut, before any stream pushes to it again"
        );
        assert_eq!(most.len(), 0);
        assert_eq!(less.end_reason(), None);
        assert_eq!(budget.held(), 70);
        drop(less);
        assert_eq!(budget.held(), 0, "a frame's bytes go with its last clone");
    }

    #[test]
    fn without_a_limit_bytes_are_counted_and_nothing_claimed() {
        let budget = Arc::new(LogBudget::new(None, Arc::default()));
        let a = budget.account();
        a.charge(1, usize::MAX / 2);
        a.charge(2, 10);
        assert_eq!(a.gone_through(), 0);
        assert!(budget.order().is_empty());
        a.forgot(1, usize::MAX / 2);
        assert_eq!(budget.held(), 10);
    }
}
