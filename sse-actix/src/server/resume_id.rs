//! The `id:` of an event on a connection serving several streams: which
//! stream it came from, and where the client is in every stream, so a
//! reconnect resumes each one exactly.
//!
//! An id is `INDEX.STATE`. `INDEX` is the event's stream, its place
//! (0-based, decimal) among the request's `stream` parameters. `STATE` is
//! opaque to clients: base64url without padding of
//!
//! | bytes | what |
//! |---|---|
//! | 1 | format: `3` epochs and sequence numbers (one node), `2` global ids (a backplane); `1` (sequence numbers without epochs) is still read |
//! | 4 | CRC-32 of the stream names in request order, each followed by `\n` (big-endian) |
//! | varint | `n`, how many streams |
//! | format 3 | the streams' epochs: a varint length and the bytes of their common prefix, then per stream a varint length and the bytes of the rest of its epoch; then per stream a varint, the sequence number of the last event the client got (or where it started) |
//! | format 2 | a varint `BASE`, the newest millis among the streams' positions; per stream, varints `BASE - millis` and `seq` |
//! | format 1 | per stream, a varint: the sequence number |
//!
//! Varints are LEB128 (7 bits a byte, least significant first). An epoch
//! names one life of a stream (`Subscription::epoch`): a position of
//! another life, as after a restart or a re-creation, is a gap, and so is
//! every position of format 1, which was written before epochs were. The
//! streams of one server share their epochs' prefix (its start time), so
//! an epoch costs about two bytes a stream. Sizes: at most
//! `25 + 20 n + epochs` bytes before base64 (an epoch longer than 64 bytes
//! is not decoded); in practice three to five bytes a stream on one node
//! and about four in a cluster, so 32 streams take 150 to 240 characters
//! on one node and about 190 in a cluster. A later
//! format takes a new format byte; an id of a format, stream list or shape
//! this code does not know is no position at all.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sse_actors::{GlobalId, Position};

const FORMAT_SEQ: u8 = 1;
const FORMAT_GLOBAL: u8 = 2;
const FORMAT_EPOCH_SEQ: u8 = 3;

/// Longest `STATE` decoded; anything longer is no id of ours (32 streams
/// take at most about 870 characters, 200 streams about 5,400).
const MAX_STATE_LEN: usize = 8 * 1024;

/// Longest epoch decoded (ours take about ten bytes).
const MAX_EPOCH_LEN: usize = 64;

/// Where an id says a client was in one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mark {
    pub(crate) position: Position,
    /// The life of the stream `position` was taken in; `None` with a
    /// backplane (global ids need none). Empty for an id of format 1,
    /// written before epochs were: it names no life, so it is a gap.
    pub(crate) epoch: Option<String>,
}

/// Where a client is in each stream of its connection, written as the id
/// of every event it is sent.
#[derive(Debug)]
pub(crate) struct Cursor {
    names_crc: u32,
    positions: Positions,
    /// The binary state, rebuilt for each id (kept for its capacity).
    scratch: Vec<u8>,
}

/// Every stream of one server orders events the same way.
#[derive(Debug)]
enum Positions {
    /// The streams' epochs, encoded once (they never change during a
    /// connection), and their sequence numbers.
    Seq {
        epochs: Vec<u8>,
        seqs: Vec<u64>,
    },
    Global(Vec<GlobalId>),
}

impl Cursor {
    /// The cursor of a connection to `names`, each starting at its `starts`
    /// in its `epochs` (see [`Mark::epoch`]).
    pub(crate) fn new<'a>(
        names: impl IntoIterator<Item = &'a str> + Clone,
        starts: &[Position],
        epochs: &[Option<&str>],
    ) -> Cursor {
        let positions = match starts.first() {
            Some(Position::Global(_)) => Positions::Global(
                starts
                    .iter()
                    .map(|start| match start {
                        Position::Global(id) => *id,
                        _ => GlobalId::default(),
                    })
                    .collect(),
            ),
            _ => Positions::Seq {
                epochs: encode_epochs(
                    (0..starts.len()).map(|at| epochs.get(at).copied().flatten().unwrap_or("")),
                ),
                seqs: starts
                    .iter()
                    .map(|start| match start {
                        Position::Seq(seq) => *seq,
                        _ => 0,
                    })
                    .collect(),
            },
        };
        Cursor {
            names_crc: names_crc(names),
            positions,
            scratch: Vec::new(),
        }
    }

    /// The client got an event of stream `index` at `position`.
    pub(crate) fn advance(&mut self, index: usize, position: Position) {
        match (&mut self.positions, position) {
            (Positions::Seq { seqs, .. }, Position::Seq(seq)) => {
                if let Some(slot) = seqs.get_mut(index) {
                    *slot = seq;
                }
            }
            (Positions::Global(ids), Position::Global(id)) => {
                if let Some(slot) = ids.get_mut(index) {
                    *slot = id;
                }
            }
            // A stream cannot change how it orders events; ignore the impossible.
            _ => {}
        }
    }

    /// Appends the id of an event of stream `index`, as the cursor is now.
    pub(crate) fn write_id(&mut self, index: usize, out: &mut String) {
        let binary = &mut self.scratch;
        binary.clear();
        match &self.positions {
            Positions::Seq { epochs, seqs } => {
                binary.push(FORMAT_EPOCH_SEQ);
                binary.extend_from_slice(&self.names_crc.to_be_bytes());
                put_varint(binary, seqs.len() as u64);
                binary.extend_from_slice(epochs);
                for &seq in seqs {
                    put_varint(binary, seq);
                }
            }
            Positions::Global(ids) => {
                binary.push(FORMAT_GLOBAL);
                binary.extend_from_slice(&self.names_crc.to_be_bytes());
                put_varint(binary, ids.len() as u64);
                let base = ids.iter().map(|id| id.millis).max().unwrap_or(0);
                put_varint(binary, base);
                for id in ids {
                    put_varint(binary, base - id.millis);
                    put_varint(binary, id.seq);
                }
            }
        }
        out.push_str(itoa::Buffer::new().format(index));
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&*binary, out);
    }
}

/// Where `id`, a Last-Event-ID, says the client was in each stream of a
/// connection to `names`; `None` when it is not an id of such a connection.
pub(crate) fn decode<'a>(
    id: &str,
    names: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<Vec<Mark>> {
    let (index, state) = id.split_once('.')?;
    if state.len() > MAX_STATE_LEN || index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let index: usize = index.parse().ok()?;
    let binary = URL_SAFE_NO_PAD.decode(state).ok()?;
    let (&format, mut rest) = binary.split_first()?;
    let (crc, tail) = rest.split_first_chunk::<4>()?;
    rest = tail;
    let count = names.clone().into_iter().count();
    if u32::from_be_bytes(*crc) != names_crc(names)
        || take_varint(&mut rest)? != count as u64
        || index >= count
    {
        return None;
    }
    let mut marks = Vec::with_capacity(count);
    match format {
        FORMAT_EPOCH_SEQ => {
            let prefix = take_bytes(&mut rest)?;
            let mut epochs = Vec::with_capacity(count);
            for _ in 0..count {
                let tail = take_bytes(&mut rest)?;
                if prefix.len() + tail.len() > MAX_EPOCH_LEN {
                    return None;
                }
                let mut epoch = Vec::from(prefix);
                epoch.extend_from_slice(tail);
                epochs.push(String::from_utf8(epoch).ok()?);
            }
            for epoch in epochs {
                marks.push(Mark {
                    position: Position::Seq(take_varint(&mut rest)?),
                    epoch: Some(epoch),
                });
            }
        }
        FORMAT_SEQ => {
            for _ in 0..count {
                marks.push(Mark {
                    position: Position::Seq(take_varint(&mut rest)?),
                    epoch: Some(String::new()),
                });
            }
        }
        FORMAT_GLOBAL => {
            let base = take_varint(&mut rest)?;
            for _ in 0..count {
                let millis = base.checked_sub(take_varint(&mut rest)?)?;
                let seq = take_varint(&mut rest)?;
                marks.push(Mark {
                    position: Position::Global(GlobalId { millis, seq }),
                    epoch: None,
                });
            }
        }
        _ => return None,
    }
    rest.is_empty().then_some(marks)
}

/// The epochs' section of format 3: their common prefix once, then the
/// rest of each.
fn encode_epochs<'a>(epochs: impl Iterator<Item = &'a str> + Clone) -> Vec<u8> {
    let prefix = epochs
        .clone()
        .map(str::as_bytes)
        .reduce(|common, epoch| {
            let same = common.iter().zip(epoch).take_while(|(a, b)| a == b).count();
            &common[..same]
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    put_varint(&mut out, prefix.len() as u64);
    out.extend_from_slice(prefix);
    for epoch in epochs {
        let rest = &epoch.as_bytes()[prefix.len()..];
        put_varint(&mut out, rest.len() as u64);
        out.extend_from_slice(rest);
    }
    out
}

/// Reads a varint length and that many bytes off the front of `bytes`.
fn take_bytes<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(take_varint(bytes)?).ok()?;
    if len > bytes.len() {
        return None;
    }
    let (taken, rest) = bytes.split_at(len);
    *bytes = rest;
    Some(taken)
}

fn names_crc<'a>(names: impl IntoIterator<Item = &'a str>) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    for name in names {
        crc.update(name.as_bytes());
        crc.update(b"\n");
    }
    crc.finalize()
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one varint off the front of `bytes`; `None` if it is cut short or
/// does not fit 64 bits.
fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["news", "sport", "weather"];

    fn names() -> impl Iterator<Item = &'static str> + Clone {
        NAMES.iter().copied()
    }

    fn id_of(cursor: &mut Cursor, index: usize) -> String {
        let mut out = String::new();
        cursor.write_id(index, &mut out);
        out
    }

    fn gid(millis: u64, seq: u64) -> Position {
        Position::Global(GlobalId { millis, seq })
    }

    /// Epochs as one server's streams have them: its start, then each
    /// stream's instance.
    const EPOCHS: [Option<&str>; 3] = [Some("mipb0yc81"), Some("mipb0yc82"), Some("mipb0yc8a")];

    fn marks(positions: &[Position], epochs: &[Option<&str>]) -> Vec<Mark> {
        positions
            .iter()
            .zip(epochs)
            .map(|(&position, epoch)| Mark {
                position,
                epoch: epoch.map(str::to_owned),
            })
            .collect()
    }

    #[test]
    fn an_id_carries_every_streams_position_and_epoch_back() {
        let starts = [Position::Seq(0), Position::Seq(7), Position::Seq(1 << 40)];
        let mut cursor = Cursor::new(names(), &starts, &EPOCHS);
        cursor.advance(1, Position::Seq(8));
        let id = id_of(&mut cursor, 1);
        assert!(id.starts_with("1."), "{id}");
        let moved = [Position::Seq(0), Position::Seq(8), Position::Seq(1 << 40)];
        assert_eq!(decode(&id, names()), Some(marks(&moved, &EPOCHS)));
        // Epochs with nothing in common, or none at all, come back too.
        let apart = [Some("a"), Some("bc"), Some("")];
        let id = id_of(&mut Cursor::new(names(), &starts, &apart), 0);
        assert_eq!(decode(&id, names()), Some(marks(&starts, &apart)));

        let starts = [
            gid(1_700_000_000_000, 0),
            gid(1_700_000_050_000, 3),
            gid(0, 0),
        ];
        let mut cursor = Cursor::new(names(), &starts, &[None; 3]);
        cursor.advance(0, gid(1_700_000_060_000, 1));
        let id = id_of(&mut cursor, 0);
        let moved = [
            gid(1_700_000_060_000, 1),
            gid(1_700_000_050_000, 3),
            gid(0, 0),
        ];
        assert_eq!(decode(&id, names()), Some(marks(&moved, &[None; 3])));
    }

    #[test]
    fn an_id_of_the_format_without_epochs_names_no_life_of_its_streams() {
        // Format 1, as written before epochs: `1.` then 1, the CRC of
        // "a\nb\n", 2 streams, sequence numbers 7 and 4.
        let old = "1.ARhXKpcCBwQ";
        let empty = [Some(""); 2];
        assert_eq!(
            decode(old, ["a", "b"]),
            Some(marks(&[Position::Seq(7), Position::Seq(4)], &empty))
        );
    }

    #[test]
    fn the_documented_example_is_what_the_code_writes() {
        let mut cursor = Cursor::new(
            ["a", "b"],
            &[Position::Seq(7), Position::Seq(4)],
            &[Some("mipb0yc81"), Some("mipb0yc82")],
        );
        assert_eq!(
            id_of(&mut cursor, 1),
            "1.AxhXKpcCCG1pcGIweWM4ATEBMgcE",
            "README, ARCHITECTURE.md"
        );
    }

    #[test]
    fn thirty_two_streams_fit_in_a_few_hundred_bytes() {
        let names: Vec<String> = (0..32).map(|i| format!("stream-{i}")).collect();
        let names = || names.iter().map(String::as_str);
        let seqs: Vec<_> = (0..32).map(|i| Position::Seq(100_000 + i)).collect();
        // One server's streams, instances 1 to 32 (base36: 1 to w).
        let epochs: Vec<String> = (1..=32)
            .map(|i| format!("mipb0yc8{}", char::from_digit(i, 36).unwrap()))
            .collect();
        let epochs: Vec<_> = epochs.iter().map(|e| Some(e.as_str())).collect();
        let id = id_of(&mut Cursor::new(names(), &seqs, &epochs), 31);
        assert!(id.len() <= 240, "{} bytes: {id}", id.len());
        assert_eq!(decode(&id, names()), Some(marks(&seqs, &epochs)));
        // Streams active within the last half hour of a cluster.
        let now = 1_765_000_000_000;
        let ids: Vec<_> = (0..32).map(|i| gid(now - i * 50_000, i % 3)).collect();
        let id = id_of(&mut Cursor::new(names(), &ids, &[None; 32]), 5);
        assert!(id.len() <= 200, "{} bytes: {id}", id.len());
        assert_eq!(decode(&id, names()), Some(marks(&ids, &[None; 32])));
    }

    #[test]
    fn an_id_for_other_streams_or_of_another_shape_is_no_position() {
        let mut cursor = Cursor::new(names(), &[Position::Seq(1); 3], &EPOCHS);
        let id = id_of(&mut cursor, 2);
        let reordered = ["sport", "news", "weather"];
        assert_eq!(decode(&id, reordered.iter().copied()), None);
        assert_eq!(decode(&id, ["news", "sport"].iter().copied()), None);
        for bad in [
            "",
            "7",
            "1-0",
            "0.",
            ".AQ",
            "x.AQ",
            "3.AQ",
            "0.!!!!",
            "99999999999999999999.AQ",
        ] {
            assert_eq!(decode(bad, names()), None, "{bad:?}");
        }
        // Every cut and every flipped character of a real id is refused or
        // read as some positions, never a panic.
        for end in 0..id.len() {
            let _ = decode(&id[..end], names());
        }
        let bytes = id.as_bytes();
        for at in 0..bytes.len() {
            for replacement in [b'A', b'_', b'-', b'9'] {
                let mut mutated = bytes.to_vec();
                mutated[at] = replacement;
                let _ = decode(std::str::from_utf8(&mutated).unwrap(), names());
            }
        }
        assert_eq!(
            decode(&format!("0.{}", "A".repeat(MAX_STATE_LEN + 1)), names()),
            None
        );
        let long = "e".repeat(MAX_EPOCH_LEN + 1);
        let id = id_of(
            &mut Cursor::new(names(), &[Position::Seq(1); 3], &[Some(long.as_str()); 3]),
            0,
        );
        assert_eq!(decode(&id, names()), None, "an epoch longer than ours");
    }

    #[test]
    fn varints_round_trip_and_refuse_overflow() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut bytes = Vec::new();
            put_varint(&mut bytes, value);
            let mut read = &bytes[..];
            assert_eq!(take_varint(&mut read), Some(value));
            assert!(read.is_empty());
        }
        let too_big = [0xff; 10];
        assert_eq!(take_varint(&mut &too_big[..]), None);
        assert_eq!(take_varint(&mut &[0x80][..]), None, "cut short");
    }
}
