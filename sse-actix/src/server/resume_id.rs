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
//! | 1 | format: `1` sequence numbers (one node), `2` global ids (a backplane) |
//! | 4 | CRC-32 of the stream names in request order, each followed by `\n` (big-endian) |
//! | varint | `n`, how many streams |
//! | format 1 | per stream, a varint: the sequence number of the last event the client got (or where it started) |
//! | format 2 | a varint `BASE`, the newest millis among the streams' positions; per stream, varints `BASE - millis` and `seq` |
//!
//! Varints are LEB128 (7 bits a byte, least significant first). Sizes: at
//! most `25 + 20 n` bytes before base64; in practice one to three bytes a
//! stream on one node and about four in a cluster, so 32 streams take 50 to
//! 140 characters on one node and about 190 in a cluster. A later format
//! (ids that survive restarts, say) takes a new format byte; an id of a
//! format, stream list or shape this code does not know is no position at
//! all.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sse_actors::{GlobalId, Position};

const FORMAT_SEQ: u8 = 1;
const FORMAT_GLOBAL: u8 = 2;

/// Longest `STATE` decoded; anything longer is no id of ours (32 streams
/// take at most about 870 characters, 200 streams about 5,400).
const MAX_STATE_LEN: usize = 8 * 1024;

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
    Seq(Vec<u64>),
    Global(Vec<GlobalId>),
}

impl Cursor {
    /// The cursor of a connection to `names`, each starting at its `starts`.
    pub(crate) fn new<'a>(
        names: impl IntoIterator<Item = &'a str> + Clone,
        starts: &[Position],
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
            _ => Positions::Seq(
                starts
                    .iter()
                    .map(|start| match start {
                        Position::Seq(seq) => *seq,
                        _ => 0,
                    })
                    .collect(),
            ),
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
            (Positions::Seq(seqs), Position::Seq(seq)) => {
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
            Positions::Seq(seqs) => {
                binary.push(FORMAT_SEQ);
                binary.extend_from_slice(&self.names_crc.to_be_bytes());
                put_varint(binary, seqs.len() as u64);
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

/// The positions that `id`, a Last-Event-ID, holds for a connection to
/// `names`; `None` when it is not an id of such a connection.
pub(crate) fn decode<'a>(
    id: &str,
    names: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<Vec<Position>> {
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
    let mut positions = Vec::with_capacity(count);
    match format {
        FORMAT_SEQ => {
            for _ in 0..count {
                positions.push(Position::Seq(take_varint(&mut rest)?));
            }
        }
        FORMAT_GLOBAL => {
            let base = take_varint(&mut rest)?;
            for _ in 0..count {
                let millis = base.checked_sub(take_varint(&mut rest)?)?;
                let seq = take_varint(&mut rest)?;
                positions.push(Position::Global(GlobalId { millis, seq }));
            }
        }
        _ => return None,
    }
    rest.is_empty().then_some(positions)
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

    #[test]
    fn an_id_carries_every_streams_position_back() {
        let starts = [Position::Seq(0), Position::Seq(7), Position::Seq(1 << 40)];
        let mut cursor = Cursor::new(names(), &starts);
        cursor.advance(1, Position::Seq(8));
        let id = id_of(&mut cursor, 1);
        assert!(id.starts_with("1."), "{id}");
        assert_eq!(
            decode(&id, names()),
            Some(vec![
                Position::Seq(0),
                Position::Seq(8),
                Position::Seq(1 << 40)
            ])
        );

        let starts = [
            gid(1_700_000_000_000, 0),
            gid(1_700_000_050_000, 3),
            gid(0, 0),
        ];
        let mut cursor = Cursor::new(names(), &starts);
        cursor.advance(0, gid(1_700_000_060_000, 1));
        let id = id_of(&mut cursor, 0);
        assert_eq!(
            decode(&id, names()),
            Some(vec![
                gid(1_700_000_060_000, 1),
                gid(1_700_000_050_000, 3),
                gid(0, 0)
            ])
        );
    }

    #[test]
    fn the_documented_example_is_what_the_code_writes() {
        let mut cursor = Cursor::new(["a", "b"], &[Position::Seq(7), Position::Seq(4)]);
        assert_eq!(
            id_of(&mut cursor, 1),
            "1.ARhXKpcCBwQ",
            "README, ARCHITECTURE.md"
        );
    }

    #[test]
    fn thirty_two_streams_fit_in_a_few_hundred_bytes() {
        let names: Vec<String> = (0..32).map(|i| format!("stream-{i}")).collect();
        let names = || names.iter().map(String::as_str);
        let seqs: Vec<_> = (0..32).map(|i| Position::Seq(100_000 + i)).collect();
        let id = id_of(&mut Cursor::new(names(), &seqs), 31);
        assert!(id.len() <= 140, "{} bytes: {id}", id.len());
        // Streams active within the last half hour of a cluster.
        let now = 1_765_000_000_000;
        let ids: Vec<_> = (0..32).map(|i| gid(now - i * 50_000, i % 3)).collect();
        let id = id_of(&mut Cursor::new(names(), &ids), 5);
        assert!(id.len() <= 200, "{} bytes: {id}", id.len());
        assert_eq!(decode(&id, names()), Some(ids));
    }

    #[test]
    fn an_id_for_other_streams_or_of_another_shape_is_no_position() {
        let mut cursor = Cursor::new(names(), &[Position::Seq(1); 3]);
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
