//! The seam between one node and a shared event log that makes many nodes
//! serve as one: where events are published, read back and replayed.
//!
//! Without a backplane (the default) a [`Server`](crate::Server) is its own
//! log: publishing hands the event straight to the stream's actor, exactly as
//! a single node always did. With one, publishing appends the encoded event
//! to the shared log, and every node (the publisher included) delivers it to
//! its local subscribers when it reads it back through [`Inbound`]. An
//! event's wire id is the publisher's own id when it gave one, else the
//! shared log's id; the log resolves either, so a client may resume on any
//! node.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use futures_util::future::BoxFuture;

use crate::server_actor::Registry;
use crate::topics::Topics;

/// A position in a backplane's log: totally ordered across every node,
/// written `MILLIS-SEQ` (the form of Redis stream entry ids), where `MILLIS`
/// is the publication time in Unix milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GlobalId {
    /// Publication time, Unix milliseconds.
    pub millis: u64,
    /// Order among events of the same millisecond.
    pub seq: u64,
}

impl fmt::Display for GlobalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.millis, self.seq)
    }
}

/// A string that is not `MILLIS-SEQ`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a global event id (expected MILLIS-SEQ, two decimal numbers)")]
pub struct InvalidGlobalId(pub String);

impl FromStr for GlobalId {
    type Err = InvalidGlobalId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidGlobalId(text.to_owned());
        let (millis, seq) = text.split_once('-').ok_or_else(invalid)?;
        let number = |part: &str| {
            (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u64>().ok())
                .flatten()
                .ok_or_else(invalid)
        };
        Ok(GlobalId {
            millis: number(millis)?,
            seq: number(seq)?,
        })
    }
}

impl GlobalId {
    /// When the event was published, on the monotonic clock that reads
    /// `now` while the wall clock reads `unix_now` (time since the Unix
    /// epoch): for the TTL and the log's age limit. Clock skew between nodes
    /// shifts it; an id from the future counts as published `now`.
    pub(crate) fn published_at(self, now: Instant, unix_now: Duration) -> Instant {
        let age = unix_now.saturating_sub(Duration::from_millis(self.millis));
        now.checked_sub(age).unwrap_or(now)
    }

    /// The id just before this one: resuming after it starts at this one.
    pub(crate) fn predecessor(self) -> GlobalId {
        match (self.millis, self.seq) {
            (millis, seq @ 1..) => GlobalId {
                millis,
                seq: seq - 1,
            },
            (millis @ 1.., 0) => GlobalId {
                millis: millis - 1,
                seq: u64::MAX,
            },
            (0, 0) => self,
        }
    }

    /// An id at the wall-clock time `unix_now`: a guess of where a log
    /// ends when it cannot be asked.
    pub(crate) fn at(unix_now: Duration) -> GlobalId {
        GlobalId {
            millis: u64::try_from(unix_now.as_millis()).unwrap_or(u64::MAX),
            seq: 0,
        }
    }
}

/// One event read from a backplane: its global id, the publisher's own id
/// if it gave one, its encoded frame without an `id:` line (the node
/// prefixes the wire id), and its topics if it was tagged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackplaneEvent {
    /// Its position in the stream's shared log; its wire id when it has no
    /// own id.
    pub id: GlobalId,
    /// The publisher's own id: its wire id when given.
    pub own_id: Option<ByteString>,
    /// The event as encoded by the publishing node, without an `id:` line.
    pub frame: Bytes,
    /// What the event is about, when it was published tagged
    /// ([`Server::publish_tagged`](crate::Server::publish_tagged)): every
    /// node delivers it only to the subscribers the
    /// [rule](crate::topics) admits, live and on replay.
    pub topics: Option<Arc<Topics>>,
}

/// What a backplane answers to a publication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The event's global id; with `duplicate`, the first event's.
    pub id: GlobalId,
    /// The log already held an event with this own id: this one was not
    /// appended again (a publisher's retry is safe).
    pub duplicate: bool,
}

/// What a client resuming from a Last-Event-ID is owed, as the log knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadAfter {
    /// The global id of the event the Last-Event-ID names, `None` when the
    /// log does not hold it (trimmed, or never seen): a gap.
    pub found: Option<GlobalId>,
    /// Oldest first: the events after it, or, in a gap, the newest the log
    /// holds.
    pub events: Vec<BackplaneEvent>,
}

/// Why a backplane could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackplaneError {
    /// The shared log cannot be reached now (it is down, or the connection
    /// broke); the operation may succeed later.
    #[error("the backplane is unavailable: {0}")]
    Unavailable(String),
    /// The shared log answered with something this node cannot use.
    #[error("the backplane answered unexpectedly: {0}")]
    Protocol(String),
}

/// A shared event log many nodes publish to and read from.
///
/// Implementations must deliver, through the [`Inbound`] given to
/// [`attach`](Self::attach), every event of every watched stream exactly
/// once per node and in log order, resuming after the last delivered id when
/// they lose and regain the log. Delivering an id twice is harmless (each
/// stream drops ids not above the last one it delivered), skipping one is not.
pub trait Backplane: Send + Sync + 'static {
    /// Called once, when the server is built, with where to deliver events.
    /// Called inside the actix `System`, so it may spawn its reader task.
    fn attach(&self, inbound: Inbound);

    /// Appends an encoded event (without an `id:` line) to `stream`'s log;
    /// `own_id` is the publisher's own id, kept beside it and resolvable by
    /// [`read_after`](Self::read_after); `topics`, when the event was
    /// published tagged, are kept beside it too and handed back with it
    /// ([`BackplaneEvent::topics`]). When the log already holds an event
    /// with that own id, nothing is appended and the answer names that
    /// event as a duplicate; checked and appended atomically, so a retry
    /// after a lost answer is safe.
    fn publish(
        &self,
        stream: &str,
        frame: Bytes,
        own_id: Option<ByteString>,
        topics: Option<Arc<Topics>>,
    ) -> BoxFuture<'static, Result<Appended, BackplaneError>>;

    /// Starts delivering `stream`'s events published from now on. Once the
    /// future resolves, every event after the log's current end is delivered.
    /// Answers the id after which this node delivers them: the log's end
    /// when the stream was first watched, or the newest id read since.
    /// Watching a watched stream does nothing more.
    fn watch(&self, stream: &str) -> BoxFuture<'static, Result<GlobalId, BackplaneError>>;

    /// Stops delivering `stream`'s events (the node has no stream of that
    /// name any more).
    fn unwatch(&self, stream: &str);

    /// What a client resuming from the wire id `last_event_id` (a
    /// [`GlobalId`] or an own id) missed: up to `limit` events of `stream`
    /// after the event it names, or, when the log does not hold that event,
    /// the newest `limit` it holds (see [`ReadAfter`]). A new subscriber
    /// replayed what the log holds is read after `0-0`
    /// (`GlobalId::default()`), which names no event of any log.
    fn read_after(
        &self,
        stream: &str,
        last_event_id: &str,
        limit: usize,
    ) -> BoxFuture<'static, Result<ReadAfter, BackplaneError>>;
}

/// Where a [`Backplane`] delivers the events it reads: into the stream of
/// that name on this node, if there is one. Cheap to clone.
#[derive(Clone)]
pub struct Inbound {
    pub(crate) registry: Weak<Registry>,
}

impl Inbound {
    pub(crate) fn new(registry: &Arc<Registry>) -> Self {
        Inbound {
            registry: Arc::downgrade(registry),
        }
    }

    /// Delivers `event` to `stream`'s subscribers on this node, waiting
    /// while the stream already holds its
    /// [`buffer_size`](crate::ServerBuilder::buffer_size) of events not yet
    /// fanned out, so a reader that outpaces the stream waits instead of
    /// queueing without bound. Returns false when this node has no such
    /// stream (or is closed), so the backplane may stop watching it.
    pub async fn deliver(&self, stream: &str, event: BackplaneEvent) -> bool {
        let Some(handle) = self
            .registry
            .upgrade()
            .and_then(|registry| registry.get(stream))
        else {
            return false;
        };
        !handle.is_removed() && handle.deliver(event).await
    }

    /// Whether the server this delivers to is gone or closed.
    pub fn is_closed(&self) -> bool {
        self.registry.upgrade().is_none_or(|r| r.is_closed())
    }
}

impl fmt::Debug for Inbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbound")
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_parse_print_and_order() {
        let id: GlobalId = "1700000000000-3".parse().unwrap();
        assert_eq!(
            id,
            GlobalId {
                millis: 1_700_000_000_000,
                seq: 3
            }
        );
        assert_eq!(id.to_string(), "1700000000000-3");
        assert!(id < "1700000000000-10".parse().unwrap());
        assert!(id < "1700000000001-0".parse().unwrap());
        for bad in ["", "1", "1-", "-1", "a-1", "1-2-3", "+1-2", "1 -2"] {
            assert!(bad.parse::<GlobalId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_global_ids_predecessor_is_the_greatest_id_below_it() {
        let id = |millis, seq| GlobalId { millis, seq };
        assert_eq!(id(5, 3).predecessor(), id(5, 2));
        assert_eq!(id(5, 0).predecessor(), id(4, u64::MAX));
        assert_eq!(id(0, 0).predecessor(), id(0, 0));
        assert!(id(4, u64::MAX) < id(5, 0));
    }

    #[test]
    fn a_global_id_is_as_old_as_its_millis_say() {
        // Far enough from the monotonic clock's origin to subtract a minute.
        let now = Instant::now() + Duration::from_secs(3600);
        let unix_now = Duration::from_millis(1_700_000_060_000);
        let id = GlobalId {
            millis: 1_700_000_000_000,
            seq: 0,
        };
        assert_eq!(
            id.published_at(now, unix_now),
            now - Duration::from_secs(60)
        );
        let future = GlobalId {
            millis: 1_700_000_070_000,
            seq: 0,
        };
        assert_eq!(future.published_at(now, unix_now), now);
    }
}
