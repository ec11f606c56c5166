//! A stream's bounded event log and the replay rule (exclusive, opaque IDs).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytestring::ByteString;

use crate::budget::LogAccount;
use crate::config::LogLimits;
use crate::queue::Item;
use crate::sequencing::Freshness;

/// One logged event: its sequence number, wire id (`None` for a generated
/// one, found by its number) and encoded frame.
#[derive(Clone, Debug)]
pub(crate) struct Logged {
    pub(crate) seq: u64,
    pub(crate) id: Option<ByteString>,
    pub(crate) item: Item,
}

/// The events a stream still remembers, oldest first, within [`LogLimits`]
/// and the server's memory budget.
#[derive(Debug)]
pub(crate) struct EventLog {
    events: VecDeque<Logged>,
    bytes: usize,
    limits: LogLimits,
    /// Where its bytes are charged against every log's budget.
    account: Option<Arc<LogAccount>>,
}

impl EventLog {
    pub(crate) fn new(limits: LogLimits) -> Self {
        EventLog {
            events: VecDeque::new(),
            bytes: 0,
            limits,
            account: None,
        }
    }

    /// A log whose bytes count against a [`LogBudget`](crate::budget::LogBudget).
    pub(crate) fn budgeted(limits: LogLimits, account: Arc<LogAccount>) -> Self {
        let mut log = EventLog::new(limits);
        log.account = Some(account);
        log
    }

    pub(crate) fn account(&self) -> Option<&Arc<LogAccount>> {
        self.account.as_ref()
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends an event, then evicts the oldest ones over any limit.
    pub(crate) fn add(&mut self, seq: u64, id: Option<ByteString>, item: Item) {
        self.bytes += item.frame.len();
        if let Some(account) = &self.account {
            account.charge(seq, item.frame.len());
        }
        let published = item.published;
        self.events.push_back(Logged { seq, id, item });
        self.evict(published);
    }

    /// Evicts the events the budget claimed, then those over the count or
    /// byte limit, or older than the age limit at `now`.
    pub(crate) fn evict(&mut self, now: Instant) {
        if let Some(account) = &self.account
            && account.take_claimed()
        {
            let claimed = account.gone_through();
            while self.events.front().is_some_and(|e| e.seq <= claimed) {
                self.pop_oldest();
            }
        }
        while let Some(oldest) = self.events.front() {
            let too_many = self.events.len() > self.limits.max_events;
            let too_big = self.bytes > self.limits.max_bytes;
            let too_old = self
                .limits
                .max_age
                .is_some_and(|age| now.saturating_duration_since(oldest.item.published) > age);
            if !(too_many || too_big || too_old) {
                break;
            }
            if let Some((seq, bytes)) = self.pop_oldest()
                && let Some(account) = &self.account
            {
                account.forgot(seq, bytes);
            }
        }
    }

    /// Drops the oldest event; answers its sequence number and size.
    fn pop_oldest(&mut self) -> Option<(u64, usize)> {
        let gone = self.events.pop_front()?;
        let (seq, bytes) = (gone.seq, gone.item.frame.len());
        self.bytes -= bytes;
        // Dropped before the budget hears of it: what another holder keeps
        // turns unlogged only after, so the budget never counts it twice.
        drop(gone);
        if let Some(account) = &self.account {
            account.dropped(bytes);
        }
        Some((seq, bytes))
    }

    pub(crate) fn clear(&mut self) {
        if let Some(account) = &self.account {
            account.forgot_all(self.events.iter().map(|e| (e.seq, e.item.frame.len())));
        }
        self.events = VecDeque::new();
        if let Some(account) = &self.account {
            account.dropped(self.bytes);
        }
        self.bytes = 0;
    }

    /// The sequence number of the newest logged event whose wire id is `id`
    /// (generated ids are not kept: they name their event by number).
    pub(crate) fn seq_of(&self, id: &str) -> Option<u64> {
        self.events
            .iter()
            .rev()
            .find(|e| e.id.as_deref() == Some(id))
            .map(|e| e.seq)
    }

    /// The wire id of the logged event numbered `seq`.
    /// `generated` names it when the log keeps none (a generated id).
    pub(crate) fn id_at(
        &self,
        seq: u64,
        generated: impl FnOnce(u64) -> Option<ByteString>,
    ) -> Option<ByteString> {
        let at = self.events.partition_point(|e| e.seq < seq);
        let logged = self.events.get(at).filter(|e| e.seq == seq)?;
        logged.id.clone().or_else(|| generated(seq))
    }

    /// The wire id of the newest logged event; `generated` names it when
    /// the log keeps none.
    pub(crate) fn newest_id(
        &self,
        generated: impl FnOnce(u64) -> Option<ByteString>,
    ) -> Option<ByteString> {
        let newest = self.events.back()?;
        newest.id.clone().or_else(|| generated(newest.seq))
    }

    /// The sequence number of the oldest logged event.
    pub(crate) fn first_seq(&self) -> Option<u64> {
        self.events.front().map(|e| e.seq)
    }

    /// The newest `n` logged events (all of them for `usize::MAX`), oldest
    /// first, skipping those no longer fresh.
    pub(crate) fn replay_last(
        &self,
        n: usize,
        fresh: Freshness,
    ) -> impl Iterator<Item = Item> + '_ {
        self.events
            .range(self.events.len().saturating_sub(n)..)
            .filter(move |e| fresh.admits(e.item.published))
            .map(|e| e.item.clone())
    }

    /// What a subscriber resuming after sequence number `seq` should be
    /// replayed, in order: the events with a later one that are still fresh.
    pub(crate) fn replay_after_seq(
        &self,
        seq: u64,
        fresh: Freshness,
    ) -> impl Iterator<Item = Item> + '_ {
        let start = self.events.partition_point(|e| e.seq <= seq);
        self.events
            .range(start..)
            .filter(move |e| fresh.admits(e.item.published))
            .map(|e| e.item.clone())
    }

    /// Every logged event, oldest first.
    pub(crate) fn items(&self) -> impl Iterator<Item = &Item> {
        self.events.iter().map(|e| &e.item)
    }

    #[cfg(test)]
    pub(crate) fn seqs(&self) -> Vec<u64> {
        self.events.iter().map(|e| e.seq).collect()
    }
}

impl Drop for EventLog {
    /// A log dropped without [`clear`](EventLog::clear) (its stream's
    /// arbiter stopped) no longer counts against the budget either.
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;

    fn item(frame: impl Into<Bytes>, published: Instant) -> Item {
        Item {
            frame: frame.into(),
            published,
            position: None,
            id_line: 0,
            topics: None,
        }
    }

    fn all(now: Instant) -> Freshness {
        Freshness { ttl: None, now }
    }

    fn log_with(limits: LogLimits, n: u64) -> (EventLog, Instant) {
        let mut log = EventLog::new(limits);
        let now = Instant::now();
        for seq in 1..=n {
            log.add(
                seq,
                Some(seq.to_string().into()),
                item(format!("data: {seq}\n\n"), now),
            );
        }
        (log, now)
    }

    /// What a subscriber resuming after `last` is replayed (all of the log
    /// without one); `None` when the log does not hold `last`.
    fn frames(log: &EventLog, last: Option<&str>, now: Instant) -> Option<Vec<Bytes>> {
        let replay = match last {
            None => log.replay_last(usize::MAX, all(now)).collect::<Vec<_>>(),
            Some(id) => log.replay_after_seq(log.seq_of(id)?, all(now)).collect(),
        };
        Some(replay.into_iter().map(|i| i.frame).collect())
    }

    #[test]
    fn event_log_add_and_clear() {
        let (mut log, _) = log_with(LogLimits::default(), 2);
        assert_eq!(log.len(), 2);
        log.clear();
        assert_eq!(log.len(), 0);
        assert_eq!(log.bytes(), 0);
    }

    #[test]
    fn event_log_unbounded_growth_is_capped_by_count() {
        let limits = LogLimits {
            max_events: 3,
            ..LogLimits::default()
        };
        let (log, _) = log_with(limits, 10);
        assert_eq!(log.seqs(), [8, 9, 10]);
    }

    #[test]
    fn event_log_unbounded_growth_is_capped_by_bytes() {
        // "data: N\n\n" is 9 bytes for one digit, 10 for two.
        let limits = LogLimits {
            max_bytes: 25,
            ..LogLimits::default()
        };
        let (log, _) = log_with(limits, 10);
        assert_eq!(log.seqs(), [9, 10]);
        assert!(log.bytes() <= 25);
    }

    #[test]
    fn event_log_unbounded_growth_is_capped_by_age() {
        let limits = LogLimits {
            max_age: Some(Duration::from_secs(10)),
            ..LogLimits::default()
        };
        let mut log = EventLog::new(limits);
        let t0 = Instant::now();
        log.add(1, Some("1".into()), item("data: 1\n\n", t0));
        log.add(
            2,
            Some("2".into()),
            item("data: 2\n\n", t0 + Duration::from_secs(5)),
        );
        log.evict(t0 + Duration::from_secs(12));
        assert_eq!(log.seqs(), [2]);
    }

    #[test]
    fn the_id_at_a_sequence_number_is_that_of_a_held_event_only() {
        let (log, _) = log_with(
            LogLimits {
                max_events: 2,
                ..LogLimits::default()
            },
            4,
        );
        let id_at = |seq| log.id_at(seq, |seq| Some(format!("generated-{seq}").into()));
        assert_eq!(id_at(4).as_deref(), Some("4"));
        assert_eq!(id_at(3).as_deref(), Some("3"));
        assert_eq!(id_at(2), None, "evicted");
        assert_eq!(id_at(5), None, "not yet published");
        let mut log = log;
        log.add(5, None, item("data: 5\n\n", Instant::now()));
        assert_eq!(
            log.id_at(5, |seq| Some(format!("generated-{seq}").into()))
                .as_deref(),
            Some("generated-5"),
            "a generated id is kept as its number"
        );
    }

    #[test]
    fn replay_inclusive_last_event_id_is_now_exclusive() {
        let (log, now) = log_with(LogLimits::default(), 4);
        let replayed = frames(&log, Some("2"), now).unwrap();
        assert_eq!(
            replayed,
            [Bytes::from("data: 3\n\n"), Bytes::from("data: 4\n\n")]
        );
        assert!(frames(&log, Some("4"), now).unwrap().is_empty());
    }

    #[test]
    fn an_unknown_or_evicted_id_is_not_held_and_the_newest_n_are() {
        let (log, now) = log_with(
            LogLimits {
                max_events: 2,
                ..LogLimits::default()
            },
            4,
        );
        let held = [Bytes::from("data: 3\n\n"), Bytes::from("data: 4\n\n")];
        assert_eq!(frames(&log, Some("not-a-number"), now), None);
        assert_eq!(frames(&log, Some("1"), now), None, "evicted id");
        assert_eq!(log.first_seq(), Some(3));
        assert_eq!(frames(&log, None, now).unwrap(), held);
        let newest = |n| -> Vec<Bytes> { log.replay_last(n, all(now)).map(|i| i.frame).collect() };
        assert_eq!(newest(1), held[1..]);
        assert!(newest(0).is_empty());
    }

    #[test]
    fn replay_after_a_sequence_number_is_exclusive_and_bounded_by_the_log() {
        let (log, now) = log_with(
            LogLimits {
                max_events: 3,
                ..LogLimits::default()
            },
            6,
        );
        let after = |seq| -> Vec<Bytes> {
            log.replay_after_seq(seq, all(now))
                .map(|i| i.frame)
                .collect()
        };
        assert_eq!(
            after(4),
            [Bytes::from("data: 5\n\n"), Bytes::from("data: 6\n\n")]
        );
        assert!(after(6).is_empty());
        assert_eq!(after(0).len(), 3, "evicted events are not replayed");
    }

    #[test]
    fn replay_uses_opaque_string_ids_and_the_newest_match() {
        let mut log = EventLog::new(LogLimits::default());
        let now = Instant::now();
        for (seq, id) in [(1, "a"), (2, "x"), (3, "b"), (4, "x"), (5, "c")] {
            log.add(seq, Some(id.into()), item(id, now));
        }
        let replayed = frames(&log, Some("x"), now).unwrap();
        assert_eq!(replayed, [Bytes::from("c")]);
    }

    #[test]
    fn replay_skips_events_past_their_ttl() {
        let mut log = EventLog::new(LogLimits::default());
        let t0 = Instant::now();
        log.add(1, Some("1".into()), item("old", t0));
        log.add(
            2,
            Some("2".into()),
            item("new", t0 + Duration::from_secs(9)),
        );
        let fresh = Freshness {
            ttl: Some(Duration::from_secs(5)),
            now: t0 + Duration::from_secs(10),
        };
        let replayed: Vec<_> = log
            .replay_last(usize::MAX, fresh)
            .map(|i| i.frame)
            .collect();
        assert_eq!(replayed, [Bytes::from("new")]);
    }
}
