//! How one node names events: generated ids that never repeat, and the
//! rules a publisher's own id must follow.
//!
//! A generated id is `EPOCH-SEQ`: `SEQ` is the event's sequence number in
//! decimal, `EPOCH` names one life of the stream, in base36: the server's
//! start time in milliseconds since the Unix epoch (eight characters until
//! 2059), then the stream's instance number within that server. A stream
//! removed and created again, or a server restarted, takes a new epoch, so
//! an id from an earlier life is never one of the new life's: resuming from
//! it is a visible gap, not a silent resume after a different event.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use bytestring::ByteString;

/// A server's start time for its streams' epochs: the clock's milliseconds
/// since the Unix epoch, and later than any earlier server's in this
/// process (two servers built within one millisecond differ too).
pub(crate) fn boot_millis(unix_now: std::time::Duration) -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(unix_now.as_millis()).unwrap_or(u64::MAX);
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last.saturating_add(1)))
        })
        .unwrap_or(0);
    now.max(previous.saturating_add(1))
}

/// The epoch of a stream's generated ids (see the module's docs).
pub(crate) fn epoch(boot_millis: u64, instance: u64) -> String {
    let mut out = String::with_capacity(16);
    push_base36(&mut out, boot_millis, 8);
    push_base36(&mut out, instance, 1);
    out
}

fn push_base36(out: &mut String, mut n: u64, width: usize) {
    let mut digits = [0u8; 13];
    let mut len = 0;
    while n > 0 || len < width {
        digits[len] = b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize];
        n /= 36;
        len += 1;
    }
    out.extend(digits[..len].iter().rev().map(|&d| char::from(d)));
}

/// The generated id of event `seq` of the stream with `epoch`.
pub(crate) fn generated(epoch: &str, seq: u64) -> ByteString {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(seq);
    let mut id = String::with_capacity(epoch.len() + 1 + digits.len());
    id.push_str(epoch);
    id.push('-');
    id.push_str(digits);
    ByteString::from(id)
}

/// The sequence number `id` names if it is a generated id of `epoch`.
pub(crate) fn parse_generated(epoch: &str, id: &str) -> Option<u64> {
    let digits = id.strip_prefix(epoch)?.strip_prefix('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Why a publisher's own event id is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidId {
    /// It starts or ends with whitespace, which HTTP strips from the
    /// `Last-Event-ID` header: a client could never resume after it.
    #[error("the event id starts or ends with whitespace, which HTTP strips from Last-Event-ID")]
    SurroundingWhitespace,
    /// It holds a control character (U+0000 to U+001F, U+007F to U+009F),
    /// which browsers do not send back in `Last-Event-ID`.
    #[error("the event id holds a control character, which browsers do not send back")]
    ControlCharacter,
    /// It has the form of the stream's own generated ids (`EPOCH-SEQ` of
    /// this stream's epoch), so a Last-Event-ID could name two events.
    #[error("the event id has the form of the stream's generated ids ({epoch}-N)")]
    GeneratedForm {
        /// The stream's epoch.
        epoch: String,
    },
    /// Through a backplane, it has the form of the shared log's ids
    /// (`MILLIS-SEQ`, the ids of events published without one), so a
    /// Last-Event-ID could name two events.
    #[error("the event id has the form of the backplane's generated ids (MILLIS-SEQ)")]
    GlobalForm,
}

/// Refuses a publisher's id that a client could not resume after (see
/// [`InvalidId`]); the generated form is checked by the stream.
pub(crate) fn check_publisher_id(id: &str) -> Result<(), InvalidId> {
    if id.chars().any(char::is_control) {
        return Err(InvalidId::ControlCharacter);
    }
    let trimmed = id.trim();
    if trimmed.len() != id.len() {
        return Err(InvalidId::SurroundingWhitespace);
    }
    Ok(())
}

/// The publishers' ids among a stream's last `window` events, so a repeated
/// publication (a retry) is recognised and not stored twice.
#[derive(Debug, Default)]
pub(crate) struct RecentIds {
    by_id: HashMap<ByteString, u64>,
    /// `(seq, id)`, oldest first.
    order: VecDeque<(u64, ByteString)>,
}

impl RecentIds {
    /// The sequence number of the event published with `id`, if it is one
    /// of the last `window` before `next_seq`.
    pub(crate) fn find(&mut self, id: &str, next_seq: u64, window: u64) -> Option<u64> {
        self.forget_before(next_seq.saturating_sub(window));
        self.by_id.get(id).copied()
    }

    /// Remembers that event `seq` was published with `id`.
    pub(crate) fn insert(&mut self, id: ByteString, seq: u64) {
        self.by_id.insert(id.clone(), seq);
        self.order.push_back((seq, id));
    }

    /// Forgets the ids of events before `seq`.
    fn forget_before(&mut self, seq: u64) {
        while let Some((oldest, _)) = self.order.front() {
            if *oldest >= seq {
                break;
            }
            if let Some((oldest, id)) = self.order.pop_front()
                && self.by_id.get(&id) == Some(&oldest)
            {
                self.by_id.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_short_distinct_and_round_trip_their_ids() {
        let boot = 1_764_763_800_123;
        let a = epoch(boot, 1);
        assert_eq!(a.len(), 9);
        assert_ne!(a, epoch(boot, 2), "a recreated stream");
        assert_ne!(a, epoch(boot + 1, 1), "a restarted server");
        let id = generated(&a, 42);
        assert_eq!(id.len(), 12);
        assert_eq!(parse_generated(&a, &id), Some(42));
        assert_eq!(parse_generated(&epoch(boot + 1, 1), &id), None);
        assert_eq!(parse_generated(&a, &format!("{a}-")), None);
        assert_eq!(parse_generated(&a, &format!("{a}-+4")), None);
        assert_eq!(parse_generated(&a, "42"), None);
    }

    #[test]
    fn servers_started_within_one_millisecond_have_distinct_boots() {
        let now = std::time::Duration::from_millis(1_764_763_800_123);
        let first = boot_millis(now);
        assert!(first >= 1_764_763_800_123);
        assert!(boot_millis(now) > first);
    }

    #[test]
    fn publisher_ids_a_client_cannot_send_back_are_refused() {
        assert_eq!(check_publisher_id("order-7"), Ok(()));
        assert_eq!(check_publisher_id("a b"), Ok(()));
        assert_eq!(check_publisher_id(""), Ok(()));
        for id in [" a", "a ", "\u{a0}a"] {
            assert_eq!(
                check_publisher_id(id),
                Err(InvalidId::SurroundingWhitespace),
                "{id:?}"
            );
        }
        for id in ["a\u{1}", "\tb", "c\u{7f}", "d\u{85}e"] {
            assert_eq!(
                check_publisher_id(id),
                Err(InvalidId::ControlCharacter),
                "{id:?}"
            );
        }
    }

    #[test]
    fn recent_ids_are_remembered_for_their_window() {
        let mut recent = RecentIds::default();
        recent.insert("a".into(), 1);
        recent.insert("b".into(), 3);
        assert_eq!(recent.find("a", 4, 3), Some(1));
        assert_eq!(recent.find("b", 5, 3), Some(3));
        assert_eq!(recent.find("a", 5, 3), None, "event 1 left the window");
        assert_eq!(recent.order.len(), 1);
    }
}
