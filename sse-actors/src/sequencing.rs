//! How a stream orders its events and names them on the wire: by itself
//! ([`Local`], one node), or by a shared log ([`Global`], a backplane).
//!
//! This is the one seam between the two modes. Everything else about a
//! stream (its subscribers, log, fan-out, retirement) is the same code.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::backplane::GlobalId;
use crate::log::EventLog;
use crate::queue::{Item, Queue};

/// An event the stream took: its place in the order, its wire id, and its
/// frame with the `id:` line.
#[derive(Debug)]
pub(crate) struct Accepted<P> {
    /// What catch-up compares (see [`Sequencing::Position`]).
    pub(crate) position: P,
    /// The stream's own count: 1 for the first event it took.
    pub(crate) seq: u64,
    pub(crate) id: ByteString,
    pub(crate) item: Item,
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

    /// Queues a new subscriber's replay; answers the position it was
    /// replayed up to when that is ahead of what the stream has taken.
    fn replay(
        &self,
        last_event_id: Option<&str>,
        backfill: Self::Backfill,
        log: Option<&EventLog>,
        fresh: Freshness,
        queue: &Queue,
    ) -> Option<Self::Position>;
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
#[derive(Debug, Default)]
pub(crate) struct Local;

/// One published event, encoded without an `id:` line.
#[derive(Debug)]
pub(crate) struct LocalEvent {
    pub(crate) seq: u64,
    /// The publisher's own id; without one the wire id is `seq`.
    pub(crate) user_id: Option<ByteString>,
    pub(crate) frame: Bytes,
    pub(crate) published: Instant,
}

impl Sequencing for Local {
    type Input = LocalEvent;
    type Position = u64;
    type Backfill = ();

    fn accept(&mut self, event: LocalEvent) -> Option<Accepted<u64>> {
        let (id, frame) = match event.user_id {
            // A publisher's id is already in its frame.
            Some(id) => (id, event.frame),
            None => {
                let mut digits = itoa::Buffer::new();
                let digits = digits.format(event.seq);
                (ByteString::from(digits), with_id(digits, &event.frame))
            }
        };
        Some(Accepted {
            position: event.seq,
            seq: event.seq,
            id,
            item: Item {
                frame,
                published: event.published,
            },
        })
    }

    fn replay(
        &self,
        last_event_id: Option<&str>,
        (): (),
        log: Option<&EventLog>,
        fresh: Freshness,
        queue: &Queue,
    ) -> Option<u64> {
        replay_log(last_event_id, log, fresh, queue);
        None
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
    pub(crate) frame: Bytes,
    /// On this node's clock (see [`GlobalId::published_at`]).
    pub(crate) published: Instant,
}

/// What a subscriber resuming from a global id missed, read from the
/// backplane before it joined: the events after `after`, oldest first.
#[derive(Debug)]
pub(crate) struct Backfill {
    pub(crate) after: GlobalId,
    pub(crate) events: Vec<Incoming>,
}

impl Sequencing for Global {
    type Input = Incoming;
    type Position = GlobalId;
    /// `None`: no global Last-Event-ID, or the backplane could not be read;
    /// the local log's replay applies.
    type Backfill = Option<Backfill>;

    fn accept(&mut self, event: Incoming) -> Option<Accepted<GlobalId>> {
        if self.last.is_some_and(|last| event.id <= last) {
            return None;
        }
        self.last = Some(event.id);
        self.taken += 1;
        let id = ByteString::from(event.id.to_string());
        let frame = with_id(&id, &event.frame);
        Some(Accepted {
            position: event.id,
            seq: self.taken,
            id,
            item: Item {
                frame,
                published: event.published,
            },
        })
    }

    /// The backplane's events after the subscriber's id, then the ones this
    /// node took since the backplane was read.
    fn replay(
        &self,
        last_event_id: Option<&str>,
        backfill: Option<Backfill>,
        log: Option<&EventLog>,
        fresh: Freshness,
        queue: &Queue,
    ) -> Option<GlobalId> {
        let Some(Backfill { after, events }) = backfill else {
            replay_log(last_event_id, log, fresh, queue);
            return None;
        };
        let mut newest = after;
        let mut items = Vec::with_capacity(events.len());
        for event in events {
            if event.id <= newest {
                continue;
            }
            newest = event.id;
            if fresh.admits(event.published) {
                items.push(Item {
                    frame: with_id(&event.id.to_string(), &event.frame),
                    published: event.published,
                });
            }
        }
        for (id, item) in log.into_iter().flat_map(EventLog::entries) {
            let Ok(id) = id.parse::<GlobalId>() else {
                continue;
            };
            if id > newest {
                newest = id;
                if fresh.admits(item.published) {
                    items.push(item.clone());
                }
            }
        }
        queue.push_replay(items.into_iter());
        self.last.is_none_or(|last| newest > last).then_some(newest)
    }
}

/// The logged events after `last_event_id` (all of them when it is absent
/// or not held) that are still fresh.
fn replay_log(
    last_event_id: Option<&str>,
    log: Option<&EventLog>,
    fresh: Freshness,
    queue: &Queue,
) {
    if let Some(log) = log {
        queue.push_replay(log.replay(last_event_id, fresh));
    }
}

/// `id: <id>` followed by the event's encoding (field order within an event
/// does not matter to receivers).
fn with_id(id: &str, frame: &Bytes) -> Bytes {
    let mut out = BytesMut::with_capacity(frame.len() + id.len() + 5);
    out.put_slice(b"id: ");
    out.put_slice(id.as_bytes());
    out.put_u8(b'\n');
    out.put_slice(frame);
    out.freeze()
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
            frame: Bytes::from(format!("data: {millis}\n\n")),
            published: now,
        }
    }

    #[test]
    fn local_ids_are_the_publishers_or_the_sequence_number() {
        let now = Instant::now();
        let mut local = Local;
        let own = local
            .accept(LocalEvent {
                seq: 1,
                user_id: Some("mine".into()),
                frame: Bytes::from_static(b"id: mine\ndata: a\n\n"),
                published: now,
            })
            .unwrap();
        assert_eq!(
            (&*own.id, &own.item.frame[..]),
            ("mine", &b"id: mine\ndata: a\n\n"[..])
        );
        let generated = local
            .accept(LocalEvent {
                seq: 2,
                user_id: None,
                frame: Bytes::from_static(b"data: b\n\n"),
                published: now,
            })
            .unwrap();
        assert_eq!(
            (
                &*generated.id,
                &generated.item.frame[..],
                generated.position
            ),
            ("2", &b"id: 2\ndata: b\n\n"[..], 2)
        );
    }

    #[test]
    fn global_drops_repeats_and_counts_what_it_took() {
        let now = Instant::now();
        let mut global = Global::default();
        let first = global.accept(incoming(5, now)).unwrap();
        assert_eq!((&*first.id, first.seq), ("5-0", 1));
        assert_eq!(&first.item.frame[..], b"id: 5-0\ndata: 5\n\n");
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
        let queue = Queue::new(8, SlowSubscriberPolicy::Disconnect, &Arc::default());
        let backfill = Backfill {
            after: gid(0),
            events: vec![incoming(1, now), incoming(2, now), incoming(3, now)],
        };
        let mark = global.replay(Some("0-0"), Some(backfill), Some(&log), fresh(now), &queue);
        assert_eq!(mark, Some(gid(3)), "the node took only 1 of 3");
        assert_eq!(queue.len(), 3, "each once, though the log also held 1");

        let behind = Backfill {
            after: gid(0),
            events: vec![incoming(1, now)],
        };
        let queue = Queue::new(8, SlowSubscriberPolicy::Disconnect, &Arc::default());
        let mark = global.replay(Some("0-0"), Some(behind), Some(&log), fresh(now), &queue);
        assert_eq!(mark, None, "nothing ahead of the node");
    }
}
