//! How a stream orders its events and names them on the wire: by itself
//! ([`Local`], one node), or by a shared log ([`Global`], a backplane).
//!
//! This is the one seam between the two modes. Everything else about a
//! stream (its subscribers, log, fan-out, retirement) is the same code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::backplane::GlobalId;
use crate::config::{FirstReplay, ReplayRules, ResumeGap};
use crate::ids;
use crate::log::EventLog;
use crate::position::Position;
use crate::queue::{Item, Queue};
use crate::topics::{self, TopicFilter, Topics};

/// An event the stream took: its place in the order, its wire id, and its
/// frame with the `id:` line.
#[derive(Debug)]
pub(crate) struct Accepted<P> {
    /// What catch-up compares (see [`Sequencing::Position`]).
    pub(crate) position: P,
    /// The stream's own count: 1 for the first event it took.
    pub(crate) seq: u64,
    /// The publisher's or the backplane's id; `None` for a generated one,
    /// which a log need not keep: a Last-Event-ID of this life's generated
    /// form names its event by number, and no other id can take that form.
    pub(crate) id: Option<ByteString>,
    pub(crate) item: Item,
}

/// Where a new subscriber asks to resume.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Resume<'a> {
    /// Exactly after this position; when given, `last_event_id` is not read.
    pub(crate) after: Option<Position>,
    /// The epoch `after` was taken in, if known.
    pub(crate) epoch: Option<&'a str>,
    pub(crate) last_event_id: Option<&'a str>,
    pub(crate) rules: ReplayRules,
    /// The subscriber's topic filter: replay only what it accepts (the
    /// Last-Event-ID is looked up among every event).
    pub(crate) filter: Option<&'a TopicFilter>,
}

impl Resume<'_> {
    /// Whether the subscriber gets `item` (see [`crate::topics`]).
    fn admits(&self, item: &Item) -> bool {
        topics::admits(self.filter, item.topics.as_deref())
    }
}

/// What replaying a new subscriber did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Replayed<P> {
    /// The position it was replayed up to, when that is ahead of what the
    /// stream has taken: live events up to it are to be skipped.
    pub(crate) caught_up_to: Option<P>,
    /// Where its subscription starts: every event it gets comes after this.
    pub(crate) start: Position,
    /// Whether it was sent the [`GAP_EVENT`] first.
    pub(crate) gap: bool,
}

/// A stream's ordering rule.
pub(crate) trait Sequencing: Send + Unpin + 'static {
    /// What the driver hands the stream for one event.
    type Input: Send;
    /// An event's place in the order. A subscriber replayed up to some
    /// position skips the live events at or before it (it has them).
    type Position: Copy + Ord + Send + Unpin + 'static;
    /// What a resuming subscriber brings besides its Last-Event-ID.
    type Backfill: Send;

    /// Names an incoming event, or `None` if it is one the stream already took.
    fn accept(&mut self, input: Self::Input) -> Option<Accepted<Self::Position>>;

    /// Queues a new subscriber's replay.
    fn replay(
        &self,
        resume: Resume<'_>,
        backfill: Self::Backfill,
        log: Option<&EventLog>,
        fresh: Freshness,
        queue: &Queue,
    ) -> Replayed<Self::Position>;

    /// The wire id of the event numbered `seq` when [`Accepted::id`] was
    /// `None` (a generated id, which logs keep as its number only).
    fn generated_id(&self, seq: u64) -> Option<ByteString>;
}

/// Whether an event is still young enough to deliver.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Freshness {
    pub(crate) ttl: Option<Duration>,
    pub(crate) now: Instant,
}

impl Freshness {
    pub(crate) fn admits(self, published: Instant) -> bool {
        self.ttl
            .is_none_or(|ttl| self.now.saturating_duration_since(published) <= ttl)
    }
}

/// One node is the whole truth: publishers take sequence numbers under the
/// stream's lock, so arrival order is sequence order and nothing repeats.
#[derive(Debug)]
pub(crate) struct Local {
    /// The newest sequence number taken.
    last: u64,
    /// The epoch of the generated ids (see [`ids`]).
    epoch: std::sync::Arc<str>,
}

impl Local {
    pub(crate) fn new(epoch: std::sync::Arc<str>) -> Self {
        Local { last: 0, epoch }
    }
}

/// Where a subscriber's replay starts, by what it brought.
enum From {
    /// Nothing: it is new.
    Start,
    /// Exactly after this sequence number, which the stream reached.
    After(u64),
    /// After an event the stream cannot place (an earlier life's, say).
    Unknown,
}

impl ReplayRules {
    /// How many of the newest logged events a subscriber gets when it is
    /// new (`resumed` false) or resumes past the log.
    fn newest(self, resumed: bool) -> usize {
        match (resumed, self.gap, self.first) {
            (true, ResumeGap::LiveOnly, _) | (false, _, FirstReplay::Nothing) => 0,
            (false, _, FirstReplay::Last(n)) => n,
            _ => usize::MAX,
        }
    }
}

/// One published event, encoded without an `id:` line unless it has its
/// own id.
#[derive(Debug)]
pub(crate) struct LocalEvent {
    pub(crate) seq: u64,
    /// The publisher's own id, already the frame's leading `id:` line of
    /// `id_line` bytes; without one the wire id is `seq`.
    pub(crate) user_id: Option<ByteString>,
    pub(crate) frame: Bytes,
    pub(crate) id_line: usize,
    pub(crate) published: Instant,
    pub(crate) topics: Option<Arc<Topics>>,
}

impl Sequencing for Local {
    type Input = LocalEvent;
    type Position = u64;
    type Backfill = ();

    fn generated_id(&self, seq: u64) -> Option<ByteString> {
        Some(ids::generated(&self.epoch, seq))
    }

    fn accept(&mut self, event: LocalEvent) -> Option<Accepted<u64>> {
        self.last = event.seq;
        let (id, frame, id_line) = match event.user_id {
            Some(id) => (Some(id), event.frame, event.id_line),
            None => {
                let (frame, id_line) = with_generated_id(&self.epoch, event.seq, &event.frame);
                (None, frame, id_line)
            }
        };
        Some(Accepted {
            position: event.seq,
            seq: event.seq,
            id,
            item: Item {
                frame,
                published: event.published,
                position: Some(Position::Seq(event.seq)),
                id_line,
                topics: event.topics,
            },
        })
    }

    /// After a position the stream reached, else after the event the
    /// Last-Event-ID names (a generated id of this epoch, or a logged
    /// event's own id). One the stream cannot place (an earlier life's, a
    /// position past its end), or one whose successors were evicted, is a
    /// gap: the gap event, then what [`ResumeGap`] says. Without either,
    /// what [`FirstReplay`] says.
    fn replay(
        &self,
        resume: Resume<'_>,
        (): (),
        log: Option<&EventLog>,
        fresh: Freshness,
        queue: &Queue,
    ) -> Replayed<u64> {
        let from = match (resume.after, resume.last_event_id) {
            (Some(Position::Seq(seq)), _)
                if seq <= self.last && resume.epoch.is_none_or(|epoch| *epoch == *self.epoch) =>
            {
                From::After(seq)
            }
            (Some(_), _) => From::Unknown,
            (None, None) => From::Start,
            (None, Some(id)) => match ids::parse_generated(&self.epoch, id) {
                Some(seq) if seq <= self.last => From::After(seq),
                Some(_) => From::Unknown,
                None => log
                    .and_then(|log| log.seq_of(id))
                    .map_or(From::Unknown, From::After),
            },
        };
        let seq_start = |seq, gap| Replayed {
            caught_up_to: None,
            start: Position::Seq(seq),
            gap,
        };
        let Some(log) = log else {
            let start = match from {
                From::After(seq) => seq,
                _ => self.last,
            };
            return seq_start(start, false);
        };
        let (first, gap) = match from {
            From::After(seq)
                if seq == self.last || log.first_seq().is_some_and(|first| first <= seq + 1) =>
            {
                push_replay(queue, resume, log.replay_after_seq(seq, fresh));
                return seq_start(seq, false);
            }
            From::Start => {
                let newest = resume.rules.newest(false);
                (
                    push_replay(queue, resume, log.replay_last(newest, fresh)),
                    false,
                )
            }
            From::After(_) | From::Unknown => {
                let newest = resume.rules.newest(true);
                (
                    push_gap(queue, resume, log.replay_last(newest, fresh), fresh.now),
                    true,
                )
            }
        };
        let start = match first {
            Some(Position::Seq(first)) => first.saturating_sub(1),
            _ => self.last,
        };
        seq_start(start, gap)
    }
}

/// A backplane's shared log is the truth: events arrive with their
/// [`GlobalId`], possibly repeated after the backplane reconnects, and a
/// subscriber may resume from an id this node never delivered.
#[derive(Debug, Default)]
pub(crate) struct Global {
    /// The newest event taken, so a repeated delivery is dropped.
    last: Option<GlobalId>,
    taken: u64,
}

/// One event read from the backplane, encoded without an `id:` line.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) id: GlobalId,
    /// The publisher's own id: the wire id when given.
    pub(crate) own_id: Option<ByteString>,
    pub(crate) frame: Bytes,
    /// On this node's clock (see [`GlobalId::published_at`]).
    pub(crate) published: Instant,
    pub(crate) topics: Option<Arc<Topics>>,
}

/// What the backplane told a subscriber's stream before it joined.
#[derive(Debug, Default)]
pub(crate) struct Backfill {
    /// The id after which this node delivers the stream (see
    /// [`Backplane::watch`](crate::Backplane::watch)): where a subscriber
    /// joining before the node took any event starts.
    pub(crate) watched_from: GlobalId,
    /// What a subscriber resuming from a global id missed; `None` without
    /// one, or when the backplane could not be read.
    pub(crate) missed: Option<Missed>,
}

/// What the backplane holds for a Last-Event-ID, oldest first, framed
/// with the wire ids once: the subscribers resuming from the same id share
/// one read and one copy of its frames, those resuming shortly after only
/// adding what was published since (see [`extended`](Self::extended)).
#[derive(Clone, Debug)]
pub(crate) struct Missed {
    /// The event the Last-Event-ID names; `None` when the backplane does
    /// not hold it: then the items are the newest it holds.
    pub(crate) found: Option<GlobalId>,
    /// A shared read, of which the first `skip` are no longer kept.
    shared: Arc<[Item]>,
    skip: usize,
    /// Read later, after the last of `shared`.
    tail: Arc<[Item]>,
}

impl Missed {
    /// Frames `events` (oldest first), keeping the newest whose frames fit
    /// in `max_bytes`, as a log of that size would.
    pub(crate) fn new(found: Option<GlobalId>, events: Vec<Incoming>, max_bytes: usize) -> Missed {
        let mut items: Vec<Item> = events.into_iter().map(framed).collect();
        let kept = kept(items.iter().rev(), max_bytes, usize::MAX);
        items.drain(..items.len() - kept);
        Missed {
            found,
            shared: items.into(),
            skip: 0,
            tail: Arc::default(),
        }
    }

    /// These items, then `later` (what the backplane holds after the
    /// newest of them), keeping the newest `max_events` whose frames fit in
    /// `max_bytes`: the items kept of this read are shared, not copied.
    pub(crate) fn extended(
        &self,
        later: Vec<Incoming>,
        max_bytes: usize,
        max_events: usize,
    ) -> Missed {
        let held = &self.shared[self.skip..];
        let later: Vec<Item> = later.into_iter().map(framed).collect();
        let newest_first = (later.iter().rev())
            .chain(self.tail.iter().rev())
            .chain(held.iter().rev());
        let dropped = self.len() + later.len() - kept(newest_first, max_bytes, max_events);
        let from_held = dropped.min(held.len());
        let tail: Vec<Item> = (self.tail.iter().cloned())
            .chain(later)
            .skip(dropped - from_held)
            .collect();
        Missed {
            found: self.found,
            shared: Arc::clone(&self.shared),
            skip: self.skip + from_held,
            tail: tail.into(),
        }
    }

    /// Oldest first.
    pub(crate) fn items(&self) -> impl DoubleEndedIterator<Item = &Item> {
        self.shared[self.skip..].iter().chain(self.tail.iter())
    }

    pub(crate) fn len(&self) -> usize {
        self.shared.len() - self.skip + self.tail.len()
    }

    /// The newest event held, if any.
    pub(crate) fn newest(&self) -> Option<GlobalId> {
        match self.items().next_back()?.position? {
            Position::Global(id) => Some(id),
            Position::Seq(_) => None,
        }
    }
}

/// An event read from the backplane, framed with its wire id.
fn framed(event: Incoming) -> Item {
    let (frame, id_line) = match &event.own_id {
        Some(own) => with_id(own, &event.frame),
        None => with_id(&event.id.to_string(), &event.frame),
    };
    Item {
        frame,
        published: event.published,
        position: Some(Position::Global(event.id)),
        id_line,
        topics: event.topics,
    }
}

/// How many of `newest_first` a log of `max_events` and `max_bytes` keeps.
fn kept<'a>(
    newest_first: impl Iterator<Item = &'a Item>,
    max_bytes: usize,
    max_events: usize,
) -> usize {
    let mut bytes = 0usize;
    newest_first
        .take(max_events)
        .take_while(|item| {
            bytes = bytes.saturating_add(item.frame.len());
            bytes <= max_bytes
        })
        .count()
}

impl Resume<'_> {
    /// The global id to resume after: the position, else a Last-Event-ID
    /// that is one.
    pub(crate) fn global(&self) -> Option<GlobalId> {
        match self.after {
            Some(Position::Global(id)) => Some(id),
            Some(_) => None,
            None => self.last_event_id?.parse().ok(),
        }
    }

    /// The wire id the backplane resolves: a global position, else the
    /// Last-Event-ID (a global id or an own id).
    pub(crate) fn wire_id(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self.after {
            Some(Position::Global(id)) => Some(id.to_string().into()),
            Some(_) => None,
            None => self.last_event_id.map(Into::into),
        }
    }
}

impl Sequencing for Global {
    type Input = Incoming;
    type Position = GlobalId;
    type Backfill = Backfill;

    /// Every event through a backplane keeps its id.
    fn generated_id(&self, _seq: u64) -> Option<ByteString> {
        None
    }

    fn accept(&mut self, event: Incoming) -> Option<Accepted<GlobalId>> {
        if self.last.is_some_and(|last| event.id <= last) {
            return None;
        }
        self.last = Some(event.id);
        self.taken += 1;
        let id = event
            .own_id
            .unwrap_or_else(|| ByteString::from(event.id.to_string()));
        let (frame, id_line) = with_id(&id, &event.frame);
        Some(Accepted {
            position: event.id,
            seq: self.taken,
            id: Some(id),
            item: Item {
                frame,
                published: event.published,
                position: Some(Position::Global(event.id)),
                id_line,
                topics: event.topics,
            },
        })
    }

    /// After a wire id the backplane holds: its events after that one, then
    /// the ones this node took since the backplane was read. One it does not
    /// hold (trimmed, never seen) is a gap, as on one node: the gap event,
    /// then what [`ResumeGap`] says of the newest it holds. When it could
    /// not be read, the local log stands in: the logged events after a
    /// global id, else a gap. Without an id, what [`FirstReplay`] says of
    /// what the backplane holds and the node took since, or, when it could
    /// not be read (or was not: nothing to replay), of the local log.
    fn replay(
        &self,
        resume: Resume<'_>,
        backfill: Backfill,
        log: Option<&EventLog>,
        fresh: Freshness,
        queue: &Queue,
    ) -> Replayed<GlobalId> {
        let missed = backfill.missed;
        let resumed = resume.after.is_some() || resume.last_event_id.is_some();
        // A new subscriber's read of the newest events the backplane holds:
        // what FirstReplay says is of those, then of what the node took since.
        let first = !resumed && missed.is_some();
        let gap = resumed && missed.as_ref().is_some_and(|missed| missed.found.is_none());
        let after = match &missed {
            Some(missed) => missed.found,
            // The backplane could not be read: the local log may hold it.
            None => resume.global().or_else(|| {
                let id = resume.last_event_id.filter(|_| resume.after.is_none())?;
                let logged = log?.items().find(|item| wire_id(item) == id.as_bytes())?;
                match logged.position? {
                    Position::Global(id) => Some(id),
                    Position::Seq(_) => None,
                }
            }),
        };
        if after.is_none() && !gap && !first {
            let newest = resume.rules.newest(resumed);
            let first = log.and_then(|log| {
                let replay = log.replay_last(newest, fresh);
                if resumed {
                    push_gap(queue, resume, replay, fresh.now)
                } else {
                    push_replay(queue, resume, replay)
                }
            });
            let start = match first {
                Some(Position::Global(first)) => first.predecessor(),
                _ => self.last.unwrap_or(backfill.watched_from),
            };
            return Replayed {
                caught_up_to: None,
                start: Position::Global(start),
                gap: resumed && log.is_some(),
            };
        }
        let held = missed.iter().flat_map(Missed::items);
        let count = missed.as_ref().map_or(0, Missed::len);
        // In a gap, the newest of what the backplane holds, as ResumeGap says.
        let newest_held = if gap || first {
            resume.rules.newest(resumed)
        } else {
            usize::MAX
        };
        let held = held.skip(count.saturating_sub(newest_held));
        let live_only = newest_held == 0;
        let mut newest = after.unwrap_or_default();
        let mut items = Vec::new();
        for item in held {
            let Some(Position::Global(id)) = item.position else {
                continue;
            };
            if id <= newest {
                continue;
            }
            newest = id;
            if fresh.admits(item.published) && resume.admits(item) {
                items.push(item.clone());
            }
        }
        let taken_since = log.into_iter().flat_map(EventLog::items);
        for item in taken_since.take_while(|_| !live_only) {
            let Some(Position::Global(id)) = item.position else {
                continue;
            };
            if id > newest {
                newest = id;
                if fresh.admits(item.published) && resume.admits(item) {
                    items.push(item.queued());
                }
            }
        }
        if first {
            // The node may hold more than the backplane (trimmed shorter).
            items.drain(..items.len().saturating_sub(newest_held));
        }
        let Some(after) = after else {
            let first_queued = if first {
                push_replay(queue, resume, items.into_iter())
            } else {
                push_gap(queue, resume, items.into_iter(), fresh.now)
            };
            let (caught_up_to, start) = match first_queued {
                Some(Position::Global(first)) => (
                    self.last.is_none_or(|last| newest > last).then_some(newest),
                    first.predecessor(),
                ),
                _ => (None, self.last.unwrap_or(backfill.watched_from)),
            };
            return Replayed {
                caught_up_to,
                start: Position::Global(start),
                gap: !first,
            };
        };
        queue.push_replay(items.into_iter());
        Replayed {
            caught_up_to: self.last.is_none_or(|last| newest > last).then_some(newest),
            start: Position::Global(after),
            gap: false,
        }
    }
}

/// Queues what `resume`'s subscriber accepts of `replay` ahead of live
/// frames; answers the first one's position.
fn push_replay(
    queue: &Queue,
    resume: Resume<'_>,
    replay: impl Iterator<Item = Item>,
) -> Option<Position> {
    let mut first = None;
    queue.push_replay(
        replay
            .filter(|item| resume.admits(item))
            .map(|item| item.queued())
            .inspect(|item| {
                first.get_or_insert(item.position);
            }),
    );
    first.flatten()
}

/// Queues the [`GAP_EVENT`] naming the first event of `replay` (empty data
/// when there is none), then `replay`; answers the first one's position.
fn push_gap(
    queue: &Queue,
    resume: Resume<'_>,
    replay: impl Iterator<Item = Item>,
    now: Instant,
) -> Option<Position> {
    let mut replay = replay
        .filter(|item| resume.admits(item))
        .map(|item| item.queued())
        .peekable();
    let first_id = replay.peek().map_or(&[][..], |item| wire_id(item));
    let mut frame = BytesMut::with_capacity(GAP_EVENT.len() + first_id.len() + 16);
    frame.put_slice(b"event: ");
    frame.put_slice(GAP_EVENT.as_bytes());
    frame.put_slice(b"\ndata: ");
    frame.put_slice(first_id);
    frame.put_slice(b"\n\n");
    let gap = Item {
        frame: frame.freeze(),
        published: now,
        position: None,
        id_line: 0,
        topics: None,
    };
    let first = replay.peek().and_then(|item| item.position);
    queue.push_replay(std::iter::once(gap).chain(replay));
    first
}

/// The type of the event a subscriber resuming from an id the log does
/// not hold (evicted, or from an earlier life of the stream) is sent before
/// anything else. Its data is the id of the first event replayed after it,
/// empty when none is (live only, or an empty log); it has no id of its
/// own. In a browser: `source.addEventListener("sse-gap", …)`.
pub const GAP_EVENT: &str = "sse-gap";

/// The wire id of a logged item: its `id:` line's value.
fn wire_id(item: &Item) -> &[u8] {
    let line = item.frame.get(..item.id_line).unwrap_or_default();
    let value = line
        .strip_prefix(b"id:")
        .unwrap_or_default()
        .strip_suffix(b"\n")
        .unwrap_or_default();
    value.strip_prefix(b" ").unwrap_or(value)
}

/// `id: <id>` followed by the event's encoding (field order within an event
/// does not matter to receivers), and the length of that `id:` line.
/// [`with_id`] of generated id `EPOCH-SEQ`, written straight into the frame.
fn with_generated_id(epoch: &str, seq: u64, frame: &Bytes) -> (Bytes, usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(seq);
    let id_line = epoch.len() + digits.len() + 6;
    let mut out = BytesMut::with_capacity(frame.len() + id_line);
    out.put_slice(b"id: ");
    out.put_slice(epoch.as_bytes());
    out.put_u8(b'-');
    out.put_slice(digits.as_bytes());
    out.put_u8(b'\n');
    out.put_slice(frame);
    (out.freeze(), id_line)
}

fn with_id(id: &str, frame: &Bytes) -> (Bytes, usize) {
    let id_line = id.len() + 5;
    let mut out = BytesMut::with_capacity(frame.len() + id_line);
    out.put_slice(b"id: ");
    out.put_slice(id.as_bytes());
    out.put_u8(b'\n');
    out.put_slice(frame);
    (out.freeze(), id_line)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{LogLimits, SlowSubscriberPolicy};

    fn fresh(now: Instant) -> Freshness {
        Freshness { ttl: None, now }
    }

    fn gid(millis: u64) -> GlobalId {
        GlobalId { millis, seq: 0 }
    }

    fn incoming(millis: u64, now: Instant) -> Incoming {
        Incoming {
            id: gid(millis),
            own_id: None,
            frame: Bytes::from(format!("data: {millis}\n\n")),
            published: now,
            topics: None,
        }
    }

    fn queue() -> Queue {
        let limits = crate::queue::QueueLimits {
            frames: 8,
            bytes: usize::MAX,
        };
        Queue::new(limits, SlowSubscriberPolicy::Disconnect, &Arc::default())
    }

    fn local_event(seq: u64) -> LocalEvent {
        LocalEvent {
            seq,
            user_id: None,
            frame: Bytes::from(format!("data: {seq}\n\n")),
            id_line: 0,
            published: Instant::now(),
            topics: None,
        }
    }

    /// A local stream that took and logged events 1 to `n`.
    fn local_with(n: u64) -> (Local, EventLog) {
        let mut local = Local::new("e".into());
        let mut log = EventLog::new(LogLimits::default());
        for seq in 1..=n {
            let taken = local.accept(local_event(seq)).unwrap();
            log.add(taken.seq, taken.id, taken.item);
        }
        (local, log)
    }

    fn after(position: Position) -> Resume<'static> {
        Resume {
            after: Some(position),
            ..Resume::default()
        }
    }

    #[test]
    fn local_ids_are_the_publishers_or_the_sequence_number() {
        let now = Instant::now();
        let mut local = Local::new("e".into());
        let own = local
            .accept(LocalEvent {
                seq: 1,
                user_id: Some("mine".into()),
                frame: Bytes::from_static(b"id: mine\ndata: a\n\n"),
                id_line: 9,
                published: now,
                topics: None,
            })
            .unwrap();
        assert_eq!(
            (own.id.as_deref(), &own.item.frame[..], own.item.id_line),
            (Some("mine"), &b"id: mine\ndata: a\n\n"[..], 9)
        );
        let generated = local
            .accept(LocalEvent {
                seq: 2,
                user_id: None,
                frame: Bytes::from_static(b"data: b\n\n"),
                id_line: 0,
                published: now,
                topics: None,
            })
            .unwrap();
        assert_eq!(
            (
                generated.id,
                &generated.item.frame[..],
                generated.position,
                generated.item.id_line,
                generated.item.position,
            ),
            (
                None,
                &b"id: e-2\ndata: b\n\n"[..],
                2,
                8,
                Some(Position::Seq(2))
            )
        );
    }

    #[test]
    fn a_local_resume_after_a_position_replays_what_follows_and_starts_there() {
        let now = Instant::now();
        let (local, log) = local_with(5);
        let q = queue();
        let replayed = local.replay(after(Position::Seq(3)), (), Some(&log), fresh(now), &q);
        assert_eq!(replayed.start, Position::Seq(3));
        assert_eq!(q.len(), 2);

        // Without a position or id: the whole log, starting before its first event.
        let q = queue();
        let replayed = local.replay(Resume::default(), (), Some(&log), fresh(now), &q);
        assert_eq!((replayed.start, q.len()), (Position::Seq(0), 5));

        // A position past the stream's end is not one it holds: a gap, then
        // the whole log, and the last_event_id beside it is not read.
        let q = queue();
        let ahead = Resume {
            after: Some(Position::Seq(9)),
            last_event_id: Some("e-4"),
            ..Resume::default()
        };
        let replayed = local.replay(ahead, (), Some(&log), fresh(now), &q);
        assert_eq!((replayed.start, q.len()), (Position::Seq(0), 6));

        // Without a log: nothing to replay, it starts at the stream's end.
        let q = queue();
        let replayed = local.replay(Resume::default(), (), None, fresh(now), &q);
        assert_eq!((replayed.start, q.len()), (Position::Seq(5), 0));
    }

    /// The frames queued, as text.
    fn texts(queue: &Queue) -> Vec<String> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut out = Vec::new();
        while let std::task::Poll::Ready(Some(frame)) = queue.poll_pop(&mut cx, None) {
            out.push(String::from_utf8(frame.to_vec()).unwrap());
        }
        out
    }

    fn by_id(id: &str, rules: ReplayRules) -> Resume<'_> {
        Resume {
            last_event_id: Some(id),
            rules,
            ..Resume::default()
        }
    }

    #[test]
    fn a_local_last_event_id_resumes_after_its_event_or_is_a_visible_gap() {
        let now = Instant::now();
        let mut local = Local::new("e".into());
        let mut log = EventLog::new(LogLimits {
            max_events: 3,
            ..LogLimits::default()
        });
        for seq in 1..=5 {
            let mut event = local_event(seq);
            if seq == 4 {
                event.user_id = Some("order-7".into());
                event.frame = Bytes::from_static(b"id: order-7\ndata: 4\n\n");
                event.id_line = 12;
            }
            let taken = local.accept(event).unwrap();
            log.add(taken.seq, taken.id, taken.item);
        }
        let rules = ReplayRules::default();
        let replay = |resume| {
            let q = queue();
            let replayed = local.replay(resume, (), Some(&log), fresh(now), &q);
            (replayed.start, texts(&q))
        };
        // Held: exactly what follows, no gap.
        let (start, frames) = replay(by_id("e-3", rules));
        assert_eq!(start, Position::Seq(3));
        assert_eq!(frames, ["id: order-7\ndata: 4\n\n", "id: e-5\ndata: 5\n\n"]);
        assert_eq!(replay(by_id("order-7", rules)).1, ["id: e-5\ndata: 5\n\n"]);
        assert_eq!(
            replay(by_id("e-2", rules)).1.len(),
            3,
            "2 is evicted but 3 is held"
        );
        // Evicted successors, another life's id, an id never seen: a gap
        // naming the first event replayed, then what is held.
        let gap_then_all = [
            "event: sse-gap\ndata: e-3\n\n",
            "id: e-3\ndata: 3\n\n",
            "id: order-7\ndata: 4\n\n",
            "id: e-5\ndata: 5\n\n",
        ];
        for id in ["e-1", "d-4", "4", "never"] {
            let (start, frames) = replay(by_id(id, rules));
            assert_eq!(
                (start, frames),
                (Position::Seq(2), gap_then_all.map(String::from).to_vec()),
                "{id}"
            );
        }
        // Or, by the operator's choice, the gap and live events only.
        let live_only = ReplayRules {
            gap: ResumeGap::LiveOnly,
            ..rules
        };
        let (start, frames) = replay(by_id("e-1", live_only));
        assert_eq!(
            (start, &frames[..]),
            (
                Position::Seq(5),
                &["event: sse-gap\ndata: \n\n".to_owned()][..]
            )
        );
        // A subscriber without an id gets what FirstReplay says, no gap.
        let first = |first| {
            let resume = Resume {
                rules: ReplayRules { first, ..rules },
                ..Resume::default()
            };
            replay(resume)
        };
        assert_eq!(first(FirstReplay::AllHeld).1.len(), 3);
        assert_eq!(first(FirstReplay::Nothing), (Position::Seq(5), vec![]));
        assert_eq!(
            first(FirstReplay::Last(1)),
            (Position::Seq(4), vec!["id: e-5\ndata: 5\n\n".to_owned()])
        );
        // Without a log: nothing replayed and no gap signalled.
        let q = queue();
        let replayed = local.replay(by_id("e-1", rules), (), None, fresh(now), &q);
        assert_eq!((replayed.start, q.len()), (Position::Seq(1), 0));
        let replayed = local.replay(by_id("d-1", rules), (), None, fresh(now), &q);
        assert_eq!((replayed.start, q.len()), (Position::Seq(5), 0));
    }

    #[test]
    fn a_global_last_event_id_that_is_no_global_id_is_a_visible_gap() {
        let now = Instant::now();
        let mut global = Global::default();
        let mut log = EventLog::new(LogLimits::default());
        for millis in [8, 9] {
            let taken = global.accept(incoming(millis, now)).unwrap();
            log.add(taken.seq, taken.id, taken.item);
        }
        let q = queue();
        let resume = by_id("e-3", ReplayRules::default());
        global.replay(resume, Backfill::default(), Some(&log), fresh(now), &q);
        assert_eq!(
            texts(&q),
            [
                "event: sse-gap\ndata: 8-0\n\n",
                "id: 8-0\ndata: 8\n\n",
                "id: 9-0\ndata: 9\n\n"
            ]
        );
        let q = queue();
        let resume = Resume {
            rules: ReplayRules {
                first: FirstReplay::Nothing,
                ..ReplayRules::default()
            },
            ..Resume::default()
        };
        let replayed = global.replay(resume, Backfill::default(), Some(&log), fresh(now), &q);
        assert_eq!((replayed.start, q.len()), (Position::Global(gid(9)), 0));
    }

    #[test]
    fn global_drops_repeats_and_counts_what_it_took() {
        let now = Instant::now();
        let mut global = Global::default();
        let first = global.accept(incoming(5, now)).unwrap();
        assert_eq!((first.id.as_deref(), first.seq), (Some("5-0"), 1));
        assert_eq!(&first.item.frame[..], b"id: 5-0\ndata: 5\n\n");
        assert_eq!(first.item.id_line, 8);
        assert!(global.accept(incoming(5, now)).is_none());
        assert!(global.accept(incoming(4, now)).is_none());
        assert_eq!(global.accept(incoming(6, now)).unwrap().seq, 2);
    }

    #[test]
    fn a_global_resume_ahead_of_the_node_is_marked_for_catch_up() {
        let now = Instant::now();
        let mut global = Global::default();
        let mut log = EventLog::new(LogLimits::default());
        let taken = global.accept(incoming(1, now)).unwrap();
        log.add(taken.seq, taken.id, taken.item);
        let q = queue();
        let backfill = Backfill {
            watched_from: gid(0),
            missed: Some(Missed::new(
                Some(gid(0)),
                vec![incoming(1, now), incoming(2, now), incoming(3, now)],
                usize::MAX,
            )),
        };
        let by_id = Resume {
            last_event_id: Some("0-0"),
            ..Resume::default()
        };
        let replayed = global.replay(by_id, backfill, Some(&log), fresh(now), &q);
        assert_eq!(
            replayed,
            Replayed {
                caught_up_to: Some(gid(3)),
                start: Position::Global(gid(0)),
                gap: false,
            },
            "the node took only 1 of 3"
        );
        assert_eq!(q.len(), 3, "each once, though the log also held 1");

        let behind = Backfill {
            watched_from: gid(0),
            missed: Some(Missed::new(
                Some(gid(0)),
                vec![incoming(1, now)],
                usize::MAX,
            )),
        };
        let q = queue();
        let replayed = global.replay(
            after(Position::Global(gid(0))),
            behind,
            Some(&log),
            fresh(now),
            &q,
        );
        assert_eq!(replayed.caught_up_to, None, "nothing ahead of the node");
    }

    /// A Last-Event-ID the backplane does not hold is a gap, as on one
    /// node: the gap event naming the first replayed (by its own id when it
    /// has one), then the newest held as the rules say, or nothing when
    /// they say live only.
    #[test]
    fn a_resume_the_backplane_cannot_place_gets_the_gap_event_first() {
        let now = Instant::now();
        let global = Global::default();
        let held = || {
            let mut events: Vec<_> = (2..=4).map(|millis| incoming(millis, now)).collect();
            events[1].own_id = Some("order-3".into());
            Backfill {
                watched_from: gid(4),
                missed: Some(Missed::new(None, events, usize::MAX)),
            }
        };
        let mut rules = ReplayRules {
            first: FirstReplay::Nothing,
            ..ReplayRules::default()
        };
        let q = queue();
        let replayed = global.replay(by_id("order-1", rules), held(), None, fresh(now), &q);
        assert_eq!(
            (replayed.gap, replayed.start),
            (true, Position::Global(gid(2).predecessor()))
        );
        assert_eq!(
            texts(&q),
            [
                "event: sse-gap\ndata: 2-0\n\n",
                "id: 2-0\ndata: 2\n\n",
                "id: order-3\ndata: 3\n\n",
                "id: 4-0\ndata: 4\n\n",
            ]
        );

        rules.gap = ResumeGap::LiveOnly;
        let q = queue();
        let replayed = global.replay(by_id("order-1", rules), held(), None, fresh(now), &q);
        assert_eq!(
            (replayed.gap, replayed.start),
            (true, Position::Global(gid(4)))
        );
        assert_eq!(texts(&q), ["event: sse-gap\ndata: \n\n"]);
    }

    /// With the backplane unreadable, an own id the node's log holds
    /// resumes after it there, as a global id does.
    #[test]
    fn an_own_id_resumes_from_the_local_log_when_the_backplane_cannot_be_read() {
        let now = Instant::now();
        let mut global = Global::default();
        let mut log = EventLog::new(LogLimits::default());
        for millis in 1..=3 {
            let mut event = incoming(millis, now);
            event.own_id = Some(format!("own-{millis}").into());
            let taken = global.accept(event).unwrap();
            log.add(taken.seq, taken.id, taken.item);
        }
        let q = queue();
        let unread = Backfill::default();
        let replayed = global.replay(
            by_id("own-1", ReplayRules::default()),
            unread,
            Some(&log),
            fresh(now),
            &q,
        );
        assert_eq!(
            (replayed.gap, replayed.start),
            (false, Position::Global(gid(1)))
        );
        assert_eq!(
            texts(&q),
            ["id: own-2\ndata: 2\n\n", "id: own-3\ndata: 3\n\n"]
        );
    }

    #[test]
    fn an_extended_read_keeps_the_newest_and_shares_the_rest() {
        let now = Instant::now();
        let read = Missed::new(
            Some(gid(0)),
            (1..=4).map(|millis| incoming(millis, now)).collect(),
            usize::MAX,
        );
        let later = || (5..=6).map(|millis| incoming(millis, now)).collect();
        let positions =
            |missed: &Missed| -> Vec<_> { missed.items().map(|item| item.position).collect() };
        let extended = read.extended(later(), usize::MAX, 5);
        assert_eq!(
            positions(&extended),
            (2..=6)
                .map(|millis| Some(Position::Global(gid(millis))))
                .collect::<Vec<_>>(),
            "the newest 5 of 6"
        );
        assert_eq!(
            extended.items().next().unwrap().frame.as_ptr(),
            read.items().nth(1).unwrap().frame.as_ptr(),
            "the kept frames of the read are shared"
        );
        assert_eq!(extended.newest(), Some(gid(6)));
        // Each framed event is 17 bytes: two fit in 40.
        let extended = read.extended(later(), 40, usize::MAX);
        assert_eq!(
            positions(&extended),
            [5, 6].map(|millis| Some(Position::Global(gid(millis))))
        );
    }

    #[test]
    fn missed_events_keep_the_newest_within_the_byte_limit() {
        let now = Instant::now();
        let events = (1..=5).map(|millis| incoming(millis, now)).collect();
        // Each framed event is `id: N-0\n` (8 bytes) and `data: N\n\n` (9).
        let missed = Missed::new(Some(gid(0)), events, 3 * 17 + 16);
        let ids: Vec<_> = missed.items().map(|item| item.position).collect();
        assert_eq!(
            ids,
            [3, 4, 5].map(|millis| Some(Position::Global(gid(millis))))
        );
    }

    #[test]
    fn a_global_subscriber_without_an_id_starts_where_the_node_is() {
        let now = Instant::now();
        let mut global = Global::default();
        let watched = Backfill {
            watched_from: gid(7),
            missed: None,
        };
        let q = queue();
        let replayed = global.replay(Resume::default(), watched, None, fresh(now), &q);
        assert_eq!(
            replayed.start,
            Position::Global(gid(7)),
            "nothing taken yet"
        );

        let mut log = EventLog::new(LogLimits::default());
        for millis in [8, 9] {
            let taken = global.accept(incoming(millis, now)).unwrap();
            log.add(taken.seq, taken.id, taken.item);
        }
        let q = queue();
        let replayed = global.replay(
            Resume::default(),
            Backfill::default(),
            Some(&log),
            fresh(now),
            &q,
        );
        assert_eq!(
            (replayed.start, q.len()),
            (Position::Global(gid(8).predecessor()), 2),
            "replayed the log: it starts before its first event"
        );
        let replayed = global.replay(
            Resume::default(),
            Backfill::default(),
            None,
            fresh(now),
            &queue(),
        );
        assert_eq!(replayed.start, Position::Global(gid(9)));
    }
}
