//! One stream's logic as plain state: its subscribers, event log, order,
//! replay, catch-up, fan-out and retirement.
//!
//! No actors, no clock, no I/O. Every method takes the time from its
//! caller; what the caller (the stream actor, its driver) must do next is
//! queued as an [`Effect`] for it to take with
//! [`poll_effect`](StreamCore::poll_effect), and when it must call back is
//! [`next_timeout`](StreamCore::next_timeout) — the shape of `quinn-proto`'s
//! connection under `quinn`'s driver. Deliveries are not effects: a
//! delivery is a `Bytes` clone pushed into the subscriber's [`Queue`],
//! which is plain shared state as well.
//!
//! How events are ordered and named (one node, or a backplane's shared log)
//! is the [`Sequencing`] the core is built with; everything else is one
//! code path for both.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use sse_proto::Encoder;

use crate::budget::{LogAccount, LogBudget};
use crate::config::{LogLimits, ReplayRules, SlowSubscriberPolicy};
use crate::error::SubscribeError;
use crate::log::EventLog;
use crate::position::Position;
use crate::queue::{Drain, Item, Pushed, Queue, QueueLimits};
use crate::records::{Records, Scope};
use crate::sequencing::{Freshness, Replayed, Resume, Sequencing};
use crate::stats::{Counters, Kind, Live};
use crate::subscription::{EndReason, SubscribeRequest, SubscriberInfo};

/// What a stream's core is set up with.
#[derive(Clone, Debug)]
pub(crate) struct CoreOptions {
    /// Keep an event log within these limits (auto-replay on).
    pub(crate) log: Option<LogLimits>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) max_subscribers: Option<usize>,
    pub(crate) subscriber_queue: QueueLimits,
    pub(crate) slow_subscriber: SlowSubscriberPolicy,
    pub(crate) replay: ReplayRules,
    /// For auto-created streams: how long the stream stays without a
    /// subscriber before it retires (zero: as soon as the last one leaves).
    /// `None`: never.
    pub(crate) retire_after: Option<Duration>,
    /// Whether that idle time runs from creation even when it is zero: for
    /// a stream a publisher created whose events do not pass through it (a
    /// backplane's, which this node does not watch without subscribers).
    /// Otherwise a zero idle time starts with the first departure or the
    /// first fan-out to no one.
    pub(crate) idle_from_start: bool,
    /// The budget every stream's log counts against together.
    pub(crate) budget: Option<Arc<LogBudget>>,
    /// Topics whose matching patterns the topic index caches.
    pub(crate) topic_cache: usize,
}

/// What the driver must do.
#[derive(Debug)]
pub(crate) enum Effect<T> {
    /// A subscriber left the stream and its queue is ended: end the
    /// driver's side of it (`subscriber` is what the driver attached).
    End { subscriber: T, reason: EndReason },
    /// The stream retired (an idle auto-created stream): take it out of the
    /// registry and stop driving it.
    Retire,
}

/// One subscriber, as the stream sees it.
struct Record<P, T> {
    queue: Arc<Queue>,
    info: Arc<SubscriberInfo>,
    /// Set while the subscriber was replayed past what the stream has
    /// taken: live events up to it are skipped, as it already has them.
    caught_up_to: Option<P>,
    subscriber: T,
    _live: Live,
}

/// A subscriber the stream admitted.
pub(crate) struct Joined<J> {
    pub(crate) queue: Arc<Queue>,
    pub(crate) info: Arc<SubscriberInfo>,
    /// The joiner's handle on it, from the driver's `attach`.
    pub(crate) subscriber: J,
    /// Where its subscription starts: every event it gets comes after this.
    pub(crate) start: Position,
    /// The wire id of the event at `start`, when the log holds it.
    pub(crate) start_id: Option<ByteString>,
}

/// An event taken but not yet fanned out.
struct Pending<P> {
    position: P,
    item: Item,
}

/// One stream's state; `T` is the driver's handle on a subscriber.
pub(crate) struct StreamCore<S: Sequencing, T> {
    order: S,
    options: CoreOptions,
    name: Arc<str>,
    records: Records<Record<S::Position, T>>,
    /// Records with `caught_up_to` set.
    catching_up: usize,
    log: Option<EventLog>,
    /// Events taken since the last fan-out. The events that arrive together
    /// are pushed to each subscriber under one lock and with one wake-up.
    pending: Vec<Pending<S::Position>>,
    /// The queued copies of the pending events every subscriber without a
    /// filter gets, made once per fan-out (kept for its capacity).
    batch: Vec<Item>,
    /// Whether some pending event has topics, and some is private: the
    /// fan-out then consults the topic filters.
    pending_tagged: bool,
    pending_private: bool,
    /// When this stream retires if no subscriber joins before.
    retire_at: Option<Instant>,
    /// Set once the stream is removed, retired or shut down.
    ended: Option<EndReason>,
    keep_alive: Bytes,
    counters: Arc<Counters>,
    effects: VecDeque<Effect<T>>,
}

impl<S: Sequencing, T> StreamCore<S, T> {
    pub(crate) fn new(
        name: Arc<str>,
        order: S,
        options: CoreOptions,
        counters: Arc<Counters>,
        now: Instant,
    ) -> Self {
        // A stream created for a subscriber that never joins (it was
        // refused) must retire too. At zero it waits for a first departure,
        // or it would retire before its first subscriber arrives.
        let retire_at = options
            .retire_after
            .filter(|idle| !idle.is_zero() || options.idle_from_start)
            .map(|idle| now + idle);
        let records = Records::new(options.topic_cache);
        StreamCore {
            order,
            log: options.log.map(|limits| match &options.budget {
                Some(budget) => EventLog::budgeted(limits, budget.account()),
                None => EventLog::new(limits),
            }),
            options,
            name,
            records,
            catching_up: 0,
            pending: Vec::new(),
            batch: Vec::new(),
            pending_tagged: false,
            pending_private: false,
            retire_at,
            ended: None,
            keep_alive: Encoder::comment("keep-alive"),
            counters,
            effects: VecDeque::new(),
        }
    }

    /// The next thing the driver must do, if any.
    pub(crate) fn poll_effect(&mut self) -> Option<Effect<T>> {
        self.effects.pop_front()
    }

    /// When the driver must call [`on_timeout`](Self::on_timeout).
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.retire_at.filter(|_| self.ended.is_none())
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) {
        if self.retire_at.is_some_and(|at| at <= now) && self.records.is_empty() {
            self.retire();
        }
    }

    pub(crate) fn subscribers(&self) -> usize {
        self.records.len()
    }

    /// Events and encoded bytes in the log.
    pub(crate) fn logged(&self) -> (usize, usize) {
        self.log
            .as_ref()
            .map_or((0, 0), |log| (log.len(), log.bytes()))
    }

    /// Where the log is charged against the server's budget: the driver
    /// registers there how to be told to [`evict`](Self::evict).
    pub(crate) fn log_account(&self) -> Option<&Arc<LogAccount>> {
        self.log.as_ref().and_then(EventLog::account)
    }

    /// Drops the logged events the budget claimed and those past the log's
    /// age limit.
    pub(crate) fn evict(&mut self, now: Instant) {
        if let Some(log) = &mut self.log {
            log.evict(now);
        }
    }

    /// Events taken and not yet fanned out.
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Takes one event: its id and log position are fixed now, its fan-out
    /// waits for [`fan_out`](Self::fan_out). Answers false for an event the
    /// stream already took (it is dropped).
    pub(crate) fn accept(&mut self, input: S::Input) -> bool {
        let Some(mut accepted) = self.order.accept(input) else {
            return false;
        };
        if let Some(budget) = &self.options.budget {
            accepted.item.frame = budget.hold(accepted.item.frame);
        }
        match (&mut self.log, &self.options.budget) {
            // Charging the log settles the budget.
            (Some(log), _) => log.add(accepted.seq, accepted.id, accepted.item.clone()),
            (None, Some(budget)) => budget.settle(),
            (None, None) => {}
        }
        if let Some(topics) = &accepted.item.topics {
            self.pending_tagged = true;
            self.pending_private |= topics.is_private();
        }
        self.pending.push(Pending {
            position: accepted.position,
            item: accepted.item,
        });
        true
    }

    /// Pushes the waiting events to every subscriber. Every method that
    /// changes who gets what calls this first, so each event reaches
    /// exactly the subscribers it would have reached on arrival: no
    /// replayed event is pushed again.
    pub(crate) fn fan_out(&mut self, now: Instant) {
        if self.pending.is_empty() {
            return;
        }
        let pending = &self.pending;
        // Private events never reach subscribers without a filter.
        let skip_private = self.pending_private;
        let batch = &mut self.batch;
        batch.extend(
            pending
                .iter()
                .filter(|p| !(skip_private && p.item.is_private()))
                .map(|p| p.item.queued()),
        );
        let batch_bytes = batch.iter().map(|item| item.frame.len()).sum();
        let batch = &*batch;
        let mut delivered = 0;
        let mut gone = push_to_all(
            &mut self.records,
            Scope::Unfiltered,
            &mut self.effects,
            |record| {
                let Some(mark) = record.caught_up_to else {
                    let pushed = record.queue.push_batch(batch, batch_bytes);
                    if matches!(pushed, Pushed::Queued | Pushed::DroppedOldest) {
                        delivered += batch.len() as u64;
                    }
                    return pushed;
                };
                // Replayed past some pending events: only the later ones.
                let from = pending.partition_point(|p| p.position <= mark);
                if from == pending.len() {
                    return Pushed::Queued;
                }
                record.caught_up_to = None;
                let later = || {
                    pending[from..]
                        .iter()
                        .filter(|p| !(skip_private && p.item.is_private()))
                };
                let pushed = record.queue.push_all(later().map(|p| p.item.queued()));
                if matches!(pushed, Pushed::Queued | Pushed::DroppedOldest) {
                    delivered += later().count() as u64;
                }
                pushed
            },
        );
        self.batch.clear();
        if self.pending_tagged && self.records.has_filtered() {
            gone |= self.fan_out_by_topic(&mut delivered);
        }
        self.pending_tagged = false;
        self.pending_private = false;
        // One atomic add per fan-out, not per subscriber.
        self.counters
            .delivered
            .fetch_add(delivered, std::sync::atomic::Ordering::Relaxed);
        self.pending.clear();
        if self.catching_up > 0 {
            self.recount_catching_up();
        }
        // A stream a publisher created, fanning out to no one, is idle too.
        if gone || (self.records.is_empty() && self.retire_at.is_none()) {
            self.after_departure(now);
        }
    }

    /// Pushes each waiting event with topics to the filtered subscribers it
    /// is for, found through the topic index (one push per event and
    /// subscriber: each gets few of them). Answers whether any left.
    fn fan_out_by_topic(&mut self, delivered: &mut u64) -> bool {
        let mut gone = false;
        let mut recipients = Vec::new();
        for pending in &self.pending {
            let Some(topics) = &pending.item.topics else {
                continue;
            };
            recipients.clear();
            self.records.recipients(topics, &mut recipients);
            for &id in &recipients {
                let Some(record) = self.records.filtered_mut(id) else {
                    continue;
                };
                if let Some(mark) = record.caught_up_to {
                    if pending.position <= mark {
                        continue;
                    }
                    record.caught_up_to = None;
                }
                match record.queue.push_all([pending.item.queued()]) {
                    Pushed::Queued | Pushed::DroppedOldest => *delivered += 1,
                    Pushed::Lagged | Pushed::Closed => {
                        if let Some(record) = self.records.remove(id) {
                            ended(&mut self.effects, record);
                            gone = true;
                        }
                    }
                }
            }
        }
        gone
    }

    /// Adds a subscriber, replayed what it missed. `attach` makes the
    /// driver's handles on it, once it is admitted (callbacks go there):
    /// the one its record keeps, and the joiner's (a driver whose record
    /// keeps a weak handle holds each subscriber's memory once).
    pub(crate) fn subscribe<J>(
        &mut self,
        request: SubscribeRequest,
        backfill: S::Backfill,
        now: Instant,
        attach: impl FnOnce(&Arc<Queue>, &Arc<SubscriberInfo>) -> (T, J),
    ) -> Result<Joined<J>, SubscribeError> {
        self.fan_out(now);
        self.on_timeout(now);
        if self.ended.is_some() {
            return Err(SubscribeError::StreamRemoved {
                stream: self.name.to_string(),
            });
        }
        if let Some(limit) = self.options.max_subscribers
            && self.records.len() >= limit
        {
            if self.records.is_empty() {
                self.after_departure(now);
            }
            return Err(SubscribeError::TooManySubscribers {
                stream: self.name.to_string(),
                limit,
            });
        }
        let SubscribeRequest {
            last_event_id,
            after,
            epoch,
            label,
            topics: filter,
            first_replay,
        } = request;
        let info = Arc::new(SubscriberInfo {
            id: self.counters.next_subscriber_id(),
            stream: Arc::clone(&self.name),
            last_event_id,
            label,
        });
        let queue = Arc::new(Queue::new(
            self.options.subscriber_queue,
            self.options.slow_subscriber,
            &self.counters,
        ));
        if let Some(budget) = &self.options.budget {
            budget.watch(&queue);
        }
        if let Some(log) = &mut self.log {
            log.evict(now);
        }
        let fresh = Freshness {
            ttl: self.options.ttl,
            now,
        };
        let resume = Resume {
            after,
            epoch: epoch.as_deref(),
            last_event_id: info.last_event_id.as_deref(),
            rules: ReplayRules {
                first: first_replay.unwrap_or(self.options.replay.first),
                ..self.options.replay
            },
            filter: filter.as_ref(),
        };
        let Replayed {
            caught_up_to,
            start,
            gap,
        } = self
            .order
            .replay(resume, backfill, self.log.as_ref(), fresh, &queue);
        if caught_up_to.is_some() {
            self.catching_up += 1;
        }
        self.counters.replayed.fetch_add(
            (queue.len() - usize::from(gap)) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let (kept, subscriber) = attach(&queue, &info);
        self.records.insert(
            info.id,
            Record {
                queue: Arc::clone(&queue),
                info: Arc::clone(&info),
                caught_up_to,
                subscriber: kept,
                _live: Live::new(&self.counters, Kind::SubscriberRecord),
            },
            filter.as_ref(),
        );
        self.retire_at = None;
        let start_id = match (start, &self.log) {
            (Position::Seq(seq), Some(log)) => log.id_at(seq, |seq| self.order.generated_id(seq)),
            _ => None,
        };
        Ok(Joined {
            queue,
            info,
            subscriber,
            start,
            start_id,
        })
    }

    /// The wire id of the newest event still held (past the TTL at `now`
    /// it is not), without subscribing: where a subscriber joining now
    /// with nothing to replay would start.
    pub(crate) fn newest_id(&mut self, now: Instant) -> Option<ByteString> {
        let log = self.log.as_mut()?;
        log.evict(now);
        log.newest_id(|seq| self.order.generated_id(seq))
    }

    /// Forgets the subscriber `id` (its consumer is gone).
    pub(crate) fn detach(&mut self, id: u64, now: Instant) {
        if self.remove(id, EndReason::Unsubscribed) {
            self.after_departure(now);
        }
    }

    /// Ends every subscriber that `chosen` picks ([`EndReason::Kicked`]);
    /// answers how many.
    pub(crate) fn kick(&mut self, chosen: impl Fn(&SubscriberInfo) -> bool, now: Instant) -> usize {
        let mut kicked = 0;
        let effects = &mut self.effects;
        self.records.take_if(
            Scope::All,
            |record| chosen(&record.info),
            |record| {
                record.queue.close(EndReason::Kicked);
                effects.push_back(Effect::End {
                    subscriber: record.subscriber,
                    reason: EndReason::Kicked,
                });
                kicked += 1;
            },
        );
        if kicked > 0 {
            self.recount_catching_up();
            self.after_departure(now);
        }
        kicked
    }

    /// Sends every subscriber with nothing queued a keep-alive comment, and
    /// evicts logged events past the log's age limit.
    pub(crate) fn keep_alive(&mut self, now: Instant) {
        self.fan_out(now);
        let frame = &self.keep_alive;
        let gone = push_to_all(&mut self.records, Scope::All, &mut self.effects, |record| {
            record.queue.push_keep_alive(frame, now)
        });
        if gone {
            self.recount_catching_up();
            self.after_departure(now);
        }
        if let Some(log) = &mut self.log {
            log.evict(now);
        }
    }

    /// Ends every subscription with `reason` and frees the log; the stream
    /// takes nothing more. What the subscribers are still owed (when the
    /// reason keeps it) is watched by `drain`.
    pub(crate) fn shut_down(
        &mut self,
        reason: EndReason,
        now: Instant,
        drain: Option<&Arc<Drain>>,
    ) {
        self.fan_out(now);
        self.ended.get_or_insert(reason);
        for record in self.records.drain() {
            record.queue.close(reason);
            if let Some(drain) = drain {
                record.queue.watch_drain(drain);
            }
            self.effects.push_back(Effect::End {
                subscriber: record.subscriber,
                reason,
            });
        }
        self.catching_up = 0;
        if let Some(log) = &mut self.log {
            log.clear();
        }
    }

    fn remove(&mut self, id: u64, reason: EndReason) -> bool {
        let Some(record) = self.records.remove(id) else {
            return false;
        };
        if record.caught_up_to.is_some() {
            self.catching_up -= 1;
        }
        record.queue.close(reason);
        self.effects.push_back(Effect::End {
            subscriber: record.subscriber,
            reason,
        });
        true
    }

    fn recount_catching_up(&mut self) {
        self.catching_up = self
            .records
            .values()
            .filter(|record| record.caught_up_to.is_some())
            .count();
    }

    /// After subscribers left: an auto-created stream left without any
    /// starts its idle time (or retires at once).
    fn after_departure(&mut self, now: Instant) {
        if !self.records.is_empty() || self.ended.is_some() {
            return;
        }
        match self.options.retire_after {
            Some(idle) if idle.is_zero() => self.retire(),
            Some(idle) => self.retire_at = Some(now + idle),
            None => {}
        }
    }

    fn retire(&mut self) {
        self.ended = Some(EndReason::StreamRemoved);
        self.retire_at = None;
        if let Some(log) = &mut self.log {
            log.clear();
        }
        self.effects.push_back(Effect::Retire);
    }
}

/// Pushes to every record of `scope` with `push`; removes the ones that
/// are gone (lagged, or their consumer left) and queues their end. Answers
/// whether any went.
fn push_to_all<P, T>(
    records: &mut Records<Record<P, T>>,
    scope: Scope,
    effects: &mut VecDeque<Effect<T>>,
    mut push: impl FnMut(&mut Record<P, T>) -> Pushed,
) -> bool {
    let before = records.len();
    records.take_if(
        scope,
        |record| match push(record) {
            Pushed::Queued | Pushed::DroppedOldest => false,
            Pushed::Lagged | Pushed::Closed => true,
        },
        |record| ended(effects, record),
    );
    records.len() != before
}

/// Queues the end of a record whose queue ended (it lagged, or its
/// consumer ended it: the queue says which, and counted a lagged end).
fn ended<P, T>(effects: &mut VecDeque<Effect<T>>, record: Record<P, T>) {
    let reason = record.queue.end_reason().unwrap_or(EndReason::Unsubscribed);
    effects.push_back(Effect::End {
        subscriber: record.subscriber,
        reason,
    });
}

impl<S: Sequencing, T> Drop for StreamCore<S, T> {
    /// A core dropped without [`shut_down`](StreamCore::shut_down) (its
    /// arbiter stopped) still ends every subscription.
    fn drop(&mut self) {
        let reason = self.ended.unwrap_or(EndReason::ServerClosed);
        for record in self.records.values() {
            record.queue.close(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::backplane::GlobalId;
    use crate::sequencing::{Backfill, Global, Incoming, Local, LocalEvent, Missed};

    /// The driver's handle on a subscriber, in these tests: a name.
    type Tag = &'static str;

    fn options() -> CoreOptions {
        CoreOptions {
            log: Some(LogLimits::default()),
            ttl: None,
            max_subscribers: None,
            subscriber_queue: QueueLimits {
                frames: 16,
                bytes: usize::MAX,
            },
            slow_subscriber: SlowSubscriberPolicy::Disconnect,
            replay: ReplayRules::default(),
            retire_after: None,
            idle_from_start: false,
            budget: None,
            topic_cache: 16,
        }
    }

    fn local(options: CoreOptions, now: Instant) -> StreamCore<Local, Tag> {
        StreamCore::new(
            "s".into(),
            Local::new("e".into()),
            options,
            Arc::default(),
            now,
        )
    }

    fn event(seq: u64, published: Instant) -> LocalEvent {
        LocalEvent {
            seq,
            user_id: None,
            frame: Bytes::from(format!("data: {seq}\n\n")),
            id_line: 0,
            published,
            topics: None,
        }
    }

    fn join<S: Sequencing>(
        core: &mut StreamCore<S, Tag>,
        tag: Tag,
        last_event_id: Option<&str>,
        backfill: S::Backfill,
        now: Instant,
    ) -> Arc<Queue> {
        join_with_id(core, tag, last_event_id, backfill, now).1
    }

    fn join_with_id<S: Sequencing>(
        core: &mut StreamCore<S, Tag>,
        tag: Tag,
        last_event_id: Option<&str>,
        backfill: S::Backfill,
        now: Instant,
    ) -> (u64, Arc<Queue>) {
        let mut request = SubscribeRequest::new();
        request.last_event_id = last_event_id.map(str::to_owned);
        let joined = core
            .subscribe(request, backfill, now, |_, _| (tag, ()))
            .expect("admitted");
        (joined.info.id, joined.queue)
    }

    /// The frames a consumer reading at `now` gets (those still fresh under
    /// `ttl`), as text.
    fn read(queue: &Queue, ttl: Option<Duration>, now: Instant) -> Vec<String> {
        let mut cx = Context::from_waker(Waker::noop());
        let fresh = ttl.map(|ttl| Freshness {
            ttl: Some(ttl),
            now,
        });
        let mut out = Vec::new();
        while let Poll::Ready(Some(frame)) = queue.poll_pop(&mut cx, fresh) {
            out.push(String::from_utf8(frame.to_vec()).unwrap());
        }
        out
    }

    fn ids(frames: &[String]) -> Vec<&str> {
        frames
            .iter()
            .map(|f| f.lines().next().unwrap().trim_start_matches("id: "))
            .collect()
    }

    fn effects<S: Sequencing>(core: &mut StreamCore<S, Tag>) -> Vec<String> {
        std::iter::from_fn(|| core.poll_effect())
            .map(|effect| match effect {
                Effect::End { subscriber, reason } => format!("end {subscriber}: {reason:?}"),
                Effect::Retire => "retire".to_owned(),
            })
            .collect()
    }

    #[test]
    fn a_subscriber_starting_at_a_logged_event_learns_its_id_generated_or_own() {
        let t0 = Instant::now();
        let mut core = local(options(), t0);
        core.accept(event(1, t0));
        core.accept(LocalEvent {
            user_id: Some("own".into()),
            frame: Bytes::from_static(b"id: own\ndata: 2\n\n"),
            id_line: 8,
            ..event(2, t0)
        });
        core.fan_out(t0);
        let start_id = |core: &mut StreamCore<Local, Tag>, last_event_id: &str| {
            let request = SubscribeRequest::new().last_event_id(last_event_id);
            let joined = core
                .subscribe(request, (), t0, |_, _| ("t", ()))
                .expect("admitted");
            joined.start_id.map(|id| id.to_string())
        };
        assert_eq!(start_id(&mut core, "e-1").as_deref(), Some("e-1"));
        assert_eq!(start_id(&mut core, "own").as_deref(), Some("own"));
    }

    #[test]
    fn a_subscriber_joining_behind_waiting_events_gets_each_once() {
        let t0 = Instant::now();
        let mut core = local(options(), t0);
        let early = join(&mut core, "early", None, (), t0);
        for seq in 1..=3 {
            core.accept(event(seq, t0));
        }
        assert_eq!(core.pending(), 3);
        // Joining fans out what waits first: `late` gets 1-3 by replay only.
        let late = join(&mut core, "late", Some("e-1"), (), t0);
        core.accept(event(4, t0));
        core.fan_out(t0);
        assert_eq!(ids(&read(&early, None, t0)), ["e-1", "e-2", "e-3", "e-4"]);
        assert_eq!(ids(&read(&late, None, t0)), ["e-2", "e-3", "e-4"]);
        assert!(effects(&mut core).is_empty());
    }

    #[test]
    fn a_lagging_subscriber_is_ended_and_counted_and_a_gone_one_forgotten() {
        let t0 = Instant::now();
        let counters = Arc::<Counters>::default();
        let options = CoreOptions {
            subscriber_queue: QueueLimits {
                frames: 2,
                bytes: usize::MAX,
            },
            ..options()
        };
        let mut core: StreamCore<Local, Tag> = StreamCore::new(
            "s".into(),
            Local::new("e".into()),
            options,
            Arc::clone(&counters),
            t0,
        );
        let slow = join(&mut core, "slow", None, (), t0);
        let gone = join(&mut core, "gone", None, (), t0);
        gone.close(EndReason::Unsubscribed);
        for seq in 1..=3 {
            core.accept(event(seq, t0));
        }
        core.fan_out(t0);
        let mut ended = effects(&mut core);
        ended.sort();
        assert_eq!(ended, ["end gone: Unsubscribed", "end slow: Lagged"]);
        assert_eq!(core.subscribers(), 0);
        assert_eq!(
            counters.lagged.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            read(&slow, None, t0).len(),
            2,
            "a lagged queue drains first"
        );
    }

    #[test]
    fn ttl_and_log_age_follow_the_callers_clock() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(30);
        let options = CoreOptions {
            ttl: Some(ttl),
            log: Some(LogLimits {
                max_age: Some(Duration::from_secs(60)),
                ..LogLimits::default()
            }),
            ..options()
        };
        let mut core = local(options, t0);
        let live = join(&mut core, "live", None, (), t0);
        core.accept(event(1, t0));
        core.accept(event(2, t0 + Duration::from_secs(20)));
        core.fan_out(t0 + Duration::from_secs(20));
        // Read at 40 s: event 1 is 40 s old, past the TTL.
        let at_40 = t0 + Duration::from_secs(40);
        assert_eq!(ids(&read(&live, Some(ttl), at_40)), ["e-2"]);
        let replayed = join(&mut core, "replayed", None, (), at_40);
        assert_eq!(ids(&read(&replayed, Some(ttl), at_40)), ["e-2"]);
        assert_eq!(
            core.logged().0,
            2,
            "the TTL does not evict, the age limit does"
        );
        core.keep_alive(t0 + Duration::from_secs(70));
        assert_eq!(core.logged().0, 1);
    }

    #[test]
    fn an_auto_created_stream_without_a_log_retires_with_its_last_subscriber() {
        let t0 = Instant::now();
        let auto = CoreOptions {
            log: None,
            retire_after: Some(Duration::ZERO),
            ..options()
        };
        let mut core = local(auto, t0);
        assert_eq!(core.next_timeout(), None, "waits for its first subscriber");
        let (a, _) = join_with_id(&mut core, "a", None, (), t0);
        let _b = join(&mut core, "b", None, (), t0);
        core.detach(a, t0);
        assert_eq!(effects(&mut core), ["end a: Unsubscribed"]);
        core.shut_down(EndReason::StreamRemoved, t0, None);
        assert_eq!(effects(&mut core), ["end b: StreamRemoved"]);

        let mut core = local(
            CoreOptions {
                log: None,
                retire_after: Some(Duration::ZERO),
                ..options()
            },
            t0,
        );
        let (only, _) = join_with_id(&mut core, "only", None, (), t0);
        core.detach(only, t0);
        assert_eq!(effects(&mut core), ["end only: Unsubscribed", "retire"]);
        let refused = core.subscribe(SubscribeRequest::new(), (), t0, |_, _| ("late", ()));
        assert!(matches!(refused, Err(SubscribeError::StreamRemoved { .. })));
    }

    #[test]
    fn an_auto_created_stream_with_a_log_retires_once_idle_for_its_time() {
        let t0 = Instant::now();
        let idle = Duration::from_secs(60);
        let auto = CoreOptions {
            retire_after: Some(idle),
            ..options()
        };
        let mut core = local(auto, t0);
        assert_eq!(core.next_timeout(), Some(t0 + idle), "even if no one joins");
        let (first, _) = join_with_id(&mut core, "first", None, (), t0);
        assert_eq!(core.next_timeout(), None);
        core.accept(event(1, t0));
        let left = t0 + Duration::from_secs(5);
        core.detach(first, left);
        assert_eq!(core.next_timeout(), Some(left + idle));
        // Back within the idle time: replayed, and the stream stays.
        let (back, queue) = join_with_id(
            &mut core,
            "back",
            None,
            (),
            left + idle - Duration::from_millis(1),
        );
        assert_eq!(ids(&read(&queue, None, left)), ["e-1"]);
        let left = left + idle;
        core.detach(back, left);
        core.on_timeout(left + idle - Duration::from_millis(1));
        assert_eq!(
            effects(&mut core),
            ["end first: Unsubscribed", "end back: Unsubscribed"]
        );
        core.on_timeout(left + idle);
        assert_eq!(effects(&mut core), ["retire"]);
        assert_eq!(core.logged(), (0, 0), "the log goes with it");
        assert_eq!(core.next_timeout(), None);
    }

    #[test]
    fn a_subscriber_arriving_after_the_idle_time_finds_the_stream_retired() {
        let t0 = Instant::now();
        let idle = Duration::from_secs(60);
        let auto = CoreOptions {
            retire_after: Some(idle),
            ..options()
        };
        let mut core = local(auto, t0);
        // The driver's timer has not fired yet: the time decides, not the timer.
        let late = core.subscribe(SubscribeRequest::new(), (), t0 + idle, |_, _| ("late", ()));
        assert!(matches!(late, Err(SubscribeError::StreamRemoved { .. })));
        assert_eq!(effects(&mut core), ["retire"]);
    }

    #[test]
    fn an_auto_created_stream_without_a_log_retires_once_it_fanned_out_to_no_one() {
        let t0 = Instant::now();
        let auto = CoreOptions {
            log: None,
            retire_after: Some(Duration::ZERO),
            ..options()
        };
        let mut core = local(auto, t0);
        assert_eq!(core.next_timeout(), None);
        core.accept(event(1, t0));
        assert!(effects(&mut core).is_empty(), "not before its fan-out");
        core.fan_out(t0);
        assert_eq!(effects(&mut core), ["retire"]);
    }

    #[test]
    fn an_idle_time_from_start_runs_even_at_zero() {
        let t0 = Instant::now();
        let publishers = CoreOptions {
            log: None,
            retire_after: Some(Duration::ZERO),
            idle_from_start: true,
            ..options()
        };
        let mut core = local(publishers, t0);
        assert_eq!(core.next_timeout(), Some(t0));
        core.on_timeout(t0);
        assert_eq!(effects(&mut core), ["retire"]);
    }

    #[test]
    fn an_explicit_stream_never_retires() {
        let t0 = Instant::now();
        let mut core = local(options(), t0);
        let (only, _) = join_with_id(&mut core, "only", None, (), t0);
        core.detach(only, t0);
        assert_eq!(effects(&mut core), ["end only: Unsubscribed"]);
        assert_eq!(core.next_timeout(), None);
        core.on_timeout(t0 + Duration::from_secs(86_400));
        assert!(effects(&mut core).is_empty());
        join(
            &mut core,
            "again",
            None,
            (),
            t0 + Duration::from_secs(86_400),
        );
    }

    #[test]
    fn an_auto_created_stream_refusing_its_first_subscriber_still_retires() {
        let t0 = Instant::now();
        let full = CoreOptions {
            log: None,
            max_subscribers: Some(0),
            retire_after: Some(Duration::ZERO),
            ..options()
        };
        let mut core = local(full, t0);
        let refused = core.subscribe(SubscribeRequest::new(), (), t0, |_, _| ("x", ()));
        assert!(matches!(
            refused,
            Err(SubscribeError::TooManySubscribers { .. })
        ));
        assert_eq!(effects(&mut core), ["retire"]);
    }

    #[test]
    fn kicking_ends_the_chosen_subscribers_alone_and_drops_their_queue() {
        let t0 = Instant::now();
        let auto = CoreOptions {
            log: None,
            retire_after: Some(Duration::ZERO),
            ..options()
        };
        let mut core = local(auto, t0);
        let (kept_id, kept) = join_with_id(&mut core, "kept", None, (), t0);
        let (kicked_id, kicked) = join_with_id(&mut core, "kicked", None, (), t0);
        core.accept(event(1, t0));
        core.fan_out(t0);
        assert_eq!(core.kick(|info| info.id == kicked_id, t0), 1);
        assert_eq!(effects(&mut core), ["end kicked: Kicked"]);
        assert_eq!(kicked.end_reason(), Some(EndReason::Kicked));
        assert!(read(&kicked, None, t0).is_empty(), "its queue is dropped");
        assert_eq!(ids(&read(&kept, None, t0)), ["e-1"]);
        assert_eq!(core.kick(|info| info.id == kicked_id, t0), 0, "once");
        // Kicking the last one of an auto-created stream retires it as leaving does.
        assert_eq!(core.kick(|info| info.id == kept_id, t0), 1);
        assert_eq!(effects(&mut core), ["end kept: Kicked", "retire"]);
    }

    #[test]
    fn shutting_down_ends_everyone_frees_the_log_and_refuses_newcomers() {
        let t0 = Instant::now();
        let mut core = local(options(), t0);
        let a = join(&mut core, "a", None, (), t0);
        core.accept(event(1, t0));
        core.shut_down(EndReason::StreamRemoved, t0, None);
        assert_eq!(effects(&mut core), ["end a: StreamRemoved"]);
        assert_eq!(a.end_reason(), Some(EndReason::StreamRemoved));
        assert_eq!(core.logged(), (0, 0));
        let refused = core.subscribe(SubscribeRequest::new(), (), t0, |_, _| ("late", ()));
        assert!(matches!(refused, Err(SubscribeError::StreamRemoved { .. })));
    }

    #[test]
    fn a_dropped_core_ends_its_subscriptions() {
        let t0 = Instant::now();
        let mut core = local(options(), t0);
        let a = join(&mut core, "a", None, (), t0);
        drop(core);
        assert_eq!(a.end_reason(), Some(EndReason::ServerClosed));
    }

    fn incoming(millis: u64, now: Instant) -> Incoming {
        Incoming {
            id: GlobalId { millis, seq: 0 },
            own_id: None,
            frame: Bytes::from(format!("data: {millis}\n\n")),
            published: now,
            topics: None,
        }
    }

    /// A node that has taken 1 while the backplane holds 1-3: a client
    /// resuming after 1 is replayed 2-3 from the backplane, and when the
    /// node catches up (taking 2 twice, as after a reconnect) it gets only
    /// what follows 3; the others get everything once.
    #[test]
    fn a_backplane_resume_ahead_of_the_node_skips_what_it_was_replayed() {
        let t0 = Instant::now();
        let mut core: StreamCore<Global, Tag> =
            StreamCore::new("s".into(), Global::default(), options(), Arc::default(), t0);
        let live = join(&mut core, "live", None, Backfill::default(), t0);
        core.accept(incoming(1, t0));
        let backfill = Backfill {
            watched_from: GlobalId::default(),
            missed: Some(Missed::new(
                Some(GlobalId { millis: 1, seq: 0 }),
                vec![incoming(2, t0), incoming(3, t0)],
                usize::MAX,
            )),
        };
        let resumed = join(&mut core, "resumed", Some("1-0"), backfill, t0);
        for millis in [2, 2, 3, 4] {
            core.accept(incoming(millis, t0));
        }
        core.fan_out(t0);
        assert_eq!(ids(&read(&live, None, t0)), ["1-0", "2-0", "3-0", "4-0"]);
        assert_eq!(ids(&read(&resumed, None, t0)), ["2-0", "3-0", "4-0"]);
        core.accept(incoming(5, t0));
        core.fan_out(t0);
        assert_eq!(ids(&read(&resumed, None, t0)), ["5-0"]);
    }
}
