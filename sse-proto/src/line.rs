//! The zero-copy lower layer: splitting a byte buffer into lines and a line
//! into a field, for callers who build their own dispatch.
//!
//! ```
//! use sse_proto::line::{parse_line, Line};
//!
//! assert_eq!(parse_line(b"data: x"), Line::Field { name: b"data", value: b"x" });
//! assert_eq!(parse_line(b": ping"), Line::Comment(b"ping"));
//! assert_eq!(parse_line(b""), Line::Blank);
//! ```

/// One line of an event stream, without its terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// An empty line: dispatches the pending event.
    Blank,
    /// A line starting with `:`; the text after it, minus one leading space.
    Comment(&'a [u8]),
    /// `name: value`. A line without `:` is a field with an empty value.
    Field {
        /// Everything before the first `:`.
        name: &'a [u8],
        /// Everything after the first `:`, minus one leading space.
        value: &'a [u8],
    },
}

/// Parses one line (without its terminator) by the WHATWG rules.
pub fn parse_line(line: &[u8]) -> Line<'_> {
    match split_field(line) {
        None => Line::Blank,
        Some((0, value_start)) if line.first() == Some(&b':') => {
            Line::Comment(&line[value_start..])
        }
        Some((name_end, value_start)) => Line::Field {
            name: &line[..name_end],
            value: &line[value_start..],
        },
    }
}

/// `(name_end, value_start)` offsets of a non-blank line; `None` for a blank one.
#[inline]
pub(crate) fn split_field(line: &[u8]) -> Option<(usize, usize)> {
    // The fields of nearly every event, recognised without a search (their
    // names hold no `:`, so the first colon is the one after the name).
    let colon = match line {
        [] => return None,
        [b'd', b'a', b't', b'a', b':', ..] => 4,
        [b'i', b'd', b':', ..] => 2,
        [b'e', b'v', b'e', b'n', b't', b':', ..] => 5,
        _ => match memchr::memchr(b':', line) {
            None => return Some((line.len(), line.len())),
            Some(colon) => colon,
        },
    };
    let value_start = if line.get(colon + 1) == Some(&b' ') {
        colon + 2
    } else {
        colon + 1
    };
    Some((colon, value_start))
}

/// Where the next line of a buffer ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEnd {
    /// The line is `buf[..len]`, followed by a terminator of `terminator` bytes
    /// (1 for LF or CR, 2 for CRLF).
    Complete {
        /// Length of the line, without terminator.
        len: usize,
        /// Length of the terminator.
        terminator: usize,
    },
    /// The line is `buf[..len]` and ends with a CR that is the last byte of the
    /// buffer: the line is complete, but an LF at the start of the next chunk
    /// belongs to this terminator and must be skipped.
    CarriageReturnAtEnd {
        /// Length of the line, without the CR.
        len: usize,
    },
}

/// Finds the end of the first line of `buf`, scanning only from `from` (the
/// caller guarantees no terminator lies before it). `None`: no terminator yet.
#[inline]
pub fn find_line_end(buf: &[u8], from: usize) -> Option<LineEnd> {
    let at = from + find_break(&buf[from..])?;
    Some(if buf[at] == b'\n' {
        LineEnd::Complete {
            len: at,
            terminator: 1,
        }
    } else {
        match buf.get(at + 1) {
            None => LineEnd::CarriageReturnAtEnd { len: at },
            Some(b'\n') => LineEnd::Complete {
                len: at,
                terminator: 2,
            },
            Some(_) => LineEnd::Complete {
                len: at,
                terminator: 1,
            },
        }
    })
}

/// Iterates over the complete lines of a buffer that holds a whole stream (or
/// a prefix ending on a line boundary). Bytes after the last terminator are
/// not yielded: see [`Lines::remainder`].
///
/// ```
/// use sse_proto::line::Lines;
///
/// let mut lines = Lines::new(b"a\r\nb\rc\nrest");
/// assert_eq!(lines.by_ref().collect::<Vec<_>>(), [&b"a"[..], b"b", b"c"]);
/// assert_eq!(lines.remainder(), b"rest");
/// ```
#[derive(Clone, Debug)]
pub struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    /// Lines of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Lines { rest: buf }
    }

    /// The bytes after the last complete line.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, consumed) = match find_line_end(self.rest, 0)? {
            LineEnd::Complete { len, terminator } => (len, len + terminator),
            LineEnd::CarriageReturnAtEnd { len } => (len, len + 1),
        };
        let line = &self.rest[..len];
        self.rest = &self.rest[consumed..];
        Some(line)
    }
}

/// Whether `text` holds CR or LF, or NUL too when `nul`. Most values are
/// short (IDs, event types, small payloads): below a vector's width, eight
/// bytes at a time with no setup beat memchr and a byte loop alike.
#[inline]
pub(crate) fn has_break(text: &[u8], nul: bool) -> bool {
    if text.len() >= 32 {
        return if nul {
            memchr::memchr3(b'\n', b'\r', 0, text).is_some()
        } else {
            memchr::memchr2(b'\n', b'\r', text).is_some()
        };
    }
    let hit =
        |word: u64| word_has(word, b'\n') || word_has(word, b'\r') || (nul && word_has(word, 0));
    if text.len() < 8 {
        // Padding to a word would cost a variable-length copy: walk instead.
        return text
            .iter()
            .any(|&b| b == b'\n' || b == b'\r' || (nul && b == 0));
    }
    let mut words = text.chunks_exact(8);
    let tail: [u8; 8] = text[text.len() - 8..].try_into().expect("8 bytes");
    words.any(|word| hit(u64::from_ne_bytes(word.try_into().expect("8 bytes"))))
        || hit(u64::from_ne_bytes(tail))
}

/// Whether `text` holds a NUL byte. IDs are short: under a word, two
/// overlapping four-byte reads answer with no loop and no call.
#[inline]
pub(crate) fn has_nul(text: &[u8]) -> bool {
    let len = text.len();
    if len >= 8 {
        return has_byte(text, 0);
    }
    if len >= 4 {
        let head = u32::from_le_bytes(text[..4].try_into().expect("4 bytes"));
        let tail = u32::from_le_bytes(text[len - 4..].try_into().expect("4 bytes"));
        // Every byte of the word is one of `text`: no padding to mistake.
        return word_has(u64::from(head) << 32 | u64::from(tail), 0);
    }
    text.contains(&0)
}

/// Whether `text` (8 bytes or more) holds `byte`: a word at a time up to a
/// vector's width, memchr above it.
fn has_byte(text: &[u8], byte: u8) -> bool {
    if text.len() >= 32 {
        return memchr::memchr(byte, text).is_some();
    }
    let tail: [u8; 8] = text[text.len() - 8..].try_into().expect("8 bytes");
    text.chunks_exact(8)
        .any(|word| word_has(u64::from_ne_bytes(word.try_into().expect("8 bytes")), byte))
        || word_has(u64::from_ne_bytes(tail), byte)
}

/// The first CR or LF of `bytes`. Most lines are short: their end is found
/// a word at a time before memchr's setup would pay off.
#[inline]
fn find_break(bytes: &[u8]) -> Option<usize> {
    const WORDS: usize = 4;
    let mut at = 0;
    while at + 8 <= bytes.len() {
        if at == 8 * WORDS {
            return memchr::memchr2(b'\n', b'\r', &bytes[at..]).map(|i| at + i);
        }
        let word = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        // Little-endian: the lowest flagged byte comes first in memory, and
        // is always a real match (false ones only appear above a real one).
        let hits = matching_bytes(word, b'\n') | matching_bytes(word, b'\r');
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| at + i)
}

/// Finds the line terminators of one buffer in order, eight bytes at a time.
/// A batch of short lines (the usual case) is read once, a word per step,
/// with no call per line; a long line is handed to memchr after a few words.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Breaks {
    /// Where the word last read ends (it starts 8 bytes before).
    end: usize,
    /// The high bit of each CR or LF byte of that word.
    hits: u64,
}

impl Breaks {
    /// The first CR or LF of `buf` at or after `pos`. Calls on one buffer
    /// pass a `pos` that only grows, past the previous result.
    #[inline(always)]
    pub(crate) fn find(&mut self, buf: &[u8], pos: usize) -> Option<usize> {
        const WORDS: usize = 4;
        let mut at = pos;
        if pos < self.end {
            // `pos` lies in the word last read: its later hits come first.
            let later = self.hits & (u64::MAX << ((pos + 8 - self.end) * 8));
            if later != 0 {
                return Some(self.end - 8 + (later.trailing_zeros() / 8) as usize);
            }
            at = self.end;
        }
        for _ in 0..WORDS {
            if at >= buf.len() {
                return None;
            }
            let hits = break_bytes(word_at(buf, at));
            self.end = at + 8;
            self.hits = hits;
            if hits != 0 {
                return Some(at + (hits.trailing_zeros() / 8) as usize);
            }
            at += 8;
        }
        let found = at + memchr::memchr2(b'\n', b'\r', buf.get(at..)?)?;
        self.end = found + 1;
        self.hits = 0;
        Some(found)
    }
}

/// Eight bytes of `buf` from `at`, zero-padded past its end.
#[inline]
fn word_at(buf: &[u8], at: usize) -> u64 {
    match buf.get(at..at + 8) {
        Some(word) => u64::from_le_bytes(word.try_into().expect("8 bytes")),
        None => {
            let mut word = [0; 8];
            word[..buf.len() - at].copy_from_slice(&buf[at..]);
            u64::from_le_bytes(word)
        }
    }
}

/// The high bit of exactly each CR or LF byte of `word`, nothing else.
#[inline]
fn break_bytes(word: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const LOW7: u64 = u64::from_ne_bytes([0x7F; 8]);
    let lf = word ^ (ONES * u64::from(b'\n'));
    let cr = word ^ (ONES * u64::from(b'\r'));
    // The high bit of each byte of `x | (x & LOW7) + LOW7` says it is not
    // zero; no carry crosses bytes.
    let not_lf = lf | ((lf & LOW7) + LOW7);
    let not_cr = cr | ((cr & LOW7) + LOW7);
    !(not_lf & not_cr | LOW7)
}

/// Whether any byte of `word` is `byte` (the classic zero-byte test on
/// `word ^ byte * 0x0101..`).
fn word_has(word: u64, byte: u8) -> bool {
    matching_bytes(word, byte) != 0
}

/// The high bit of each byte of `word` equal to `byte`, and possibly of
/// bytes above the lowest such one.
#[inline]
fn matching_bytes(word: u64, byte: u8) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_value_loses_exactly_one_leading_space() {
        assert_eq!(
            parse_line(b"data:  two"),
            Line::Field {
                name: b"data",
                value: b" two"
            }
        );
        assert_eq!(
            parse_line(b"data:none"),
            Line::Field {
                name: b"data",
                value: b"none"
            }
        );
    }

    #[test]
    fn line_without_colon_is_a_field_with_empty_value() {
        assert_eq!(
            parse_line(b"data"),
            Line::Field {
                name: b"data",
                value: b""
            }
        );
    }

    #[test]
    fn only_the_first_colon_splits() {
        assert_eq!(
            parse_line(b"data: a: b"),
            Line::Field {
                name: b"data",
                value: b"a: b"
            }
        );
    }

    #[test]
    fn comment_keeps_text_after_colon() {
        assert_eq!(parse_line(b":"), Line::Comment(b""));
        assert_eq!(parse_line(b":x"), Line::Comment(b"x"));
        assert_eq!(parse_line(b":  x"), Line::Comment(b" x"));
    }

    #[test]
    fn cr_at_buffer_end_is_reported() {
        assert_eq!(
            find_line_end(b"abc\r", 0),
            Some(LineEnd::CarriageReturnAtEnd { len: 3 })
        );
        assert_eq!(
            find_line_end(b"abc\r\n", 0),
            Some(LineEnd::Complete {
                len: 3,
                terminator: 2
            })
        );
        assert_eq!(find_line_end(b"abc", 0), None);
    }

    /// Every terminator, in order, from every start, over lines of every
    /// length, split by CR, LF and CRLF and padded with near-miss bytes.
    #[test]
    fn breaks_finds_every_terminator_in_order() {
        for filler in [b'x', 0x0B, 0x0C, 0x0E, 0x8A, 0x8D, 0xFF] {
            for a in 0..45 {
                for b in [0, 1, 7, 8, 9, 40] {
                    let mut buf = vec![filler; a];
                    buf.extend_from_slice(b"\r\n");
                    buf.extend(std::iter::repeat_n(filler, b));
                    buf.push(b'\r');
                    buf.extend(std::iter::repeat_n(filler, b));
                    buf.push(b'\n');
                    let expected: Vec<usize> = (0..buf.len())
                        .filter(|&i| buf[i] == b'\n' || buf[i] == b'\r')
                        .collect();
                    for start in 0..=a {
                        let mut breaks = Breaks::default();
                        let (mut pos, mut found) = (start, Vec::new());
                        while let Some(at) = breaks.find(&buf, pos) {
                            found.push(at);
                            pos = at + 1;
                        }
                        let wanted: Vec<usize> =
                            expected.iter().copied().filter(|&i| i >= start).collect();
                        assert_eq!(found, wanted, "{filler} a={a} b={b} from {start}");
                    }
                }
            }
        }
    }

    #[test]
    fn find_break_finds_the_first_terminator_at_every_position_and_length() {
        for filler in [b'x', 0x01, 0x0B, 0x0C, 0x0E, 0x8A, 0x8D, 0xFF] {
            for len in 0..80 {
                assert_eq!(find_break(&vec![filler; len]), None, "{filler} x {len}");
                for at in 0..len {
                    for byte in [b'\n', b'\r'] {
                        let mut text = vec![filler; len];
                        text[at] = byte;
                        // A later terminator of the other kind, and the
                        // byte just above (a false match of the word test).
                        if at + 1 < len {
                            text[at + 1] = byte ^ (b'\n' ^ b'\r');
                        }
                        if at + 3 < len {
                            text[at + 3] = b'\n';
                        }
                        assert_eq!(find_break(&text), Some(at), "{byte} at {at} of {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn has_nul_finds_a_nul_at_every_position_and_length() {
        for filler in [b'x', 0x01, 0x80, 0xFF] {
            for len in 0..70 {
                assert!(!has_nul(&vec![filler; len]), "{filler} x {len}");
                for at in 0..len {
                    let mut text = vec![filler; len];
                    text[at] = 0;
                    assert!(has_nul(&text), "NUL at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn has_break_finds_each_byte_at_every_position_and_length() {
        // Fillers next to the needles in value, or with the high bit set.
        for filler in [b'x', 0x01, 0x0B, 0x0C, 0x0E, 0x8A, 0x8D, 0xFF] {
            for len in 0..40 {
                assert!(!has_break(&vec![filler; len], true), "{filler} x {len}");
                for at in 0..len {
                    for byte in [b'\n', b'\r', 0] {
                        let mut text = vec![filler; len];
                        text[at] = byte;
                        assert!(has_break(&text, true), "{byte} at {at} of {len}");
                        assert_eq!(has_break(&text, false), byte != 0, "{byte} at {at}");
                    }
                }
            }
        }
    }
}
