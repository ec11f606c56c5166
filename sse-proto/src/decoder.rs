//! The push-bytes, pull-frames decoder implementing the WHATWG parsing rules.

use std::mem;
use std::time::Duration;

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::DecodeError;
use crate::event::{Event, Frame};
use crate::line::{LineEnd, find_line_end, has_break, split_field};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A sans-IO event-stream decoder: [`feed`](Decoder::feed) it bytes as they
/// arrive, then pull [`Frame`]s until it returns `None` (it needs more input).
///
/// Output is identical however the input is split. Work is linear in the
/// input: bytes already scanned for a line terminator are never scanned again.
/// Event strings are slices of the input buffer where possible, so a
/// single-line event costs no copy and no allocation.
///
/// ```
/// use sse_proto::{Decoder, Frame};
///
/// let mut decoder = Decoder::new();
/// decoder.feed(b"id: 1\nevent: greet\ndata: hel");
/// assert!(decoder.next().is_none()); // the event is not complete yet
/// decoder.feed(b"lo\n\n");
/// let Some(Ok(Frame::Event(event))) = decoder.next() else { panic!() };
/// assert_eq!((event.event_type(), &*event.data), ("greet", "hello"));
/// assert_eq!(decoder.last_event_id(), "1");
/// ```
///
/// # Limits
/// The decoder holds at most one unterminated line (bounded by
/// [`with_max_line_length`](Decoder::with_max_line_length)) and one pending
/// event (bounded by [`with_max_event_size`](Decoder::with_max_event_size)),
/// plus whatever complete lines were fed but not yet pulled: pull until
/// `None` after each `feed`.
#[derive(Debug)]
pub struct Decoder {
    max_line_length: usize,
    max_event_size: usize,
    report_comments: bool,
    base64: bool,
    kept_fields: Vec<Box<[u8]>>,

    /// Fed bytes after `ready`: at most one unterminated line, until the next
    /// [`fill`](Decoder::fill) splits off the complete lines it gained.
    buf: BytesMut,
    /// Bytes at the front of `buf` known to hold no line terminator.
    scanned: usize,
    /// Complete lines split off `buf` in one piece, so that the whole batch
    /// is frozen and checked for UTF-8 once, not once per line or field.
    ready: Ready,
    /// Where the next line of `ready` starts.
    ready_pos: usize,
    /// Bytes at `ready_pos` known to hold no line terminator (the part of the
    /// first line already scanned while it sat unterminated in `buf`).
    ready_scanned: usize,
    /// The previous line ended with a CR at the end of a chunk.
    skip_lf: bool,
    at_stream_start: bool,
    discarding_line: bool,
    discarding_event: bool,

    pending: PendingEvent,
    /// The spec's last event ID buffer, when an `id:` field of the pending
    /// event changed it; otherwise it equals `last_event_id`. Kept apart so
    /// that dispatch moves it instead of cloning (each clone is an atomic
    /// increment, and there are several per event otherwise).
    pending_id: Option<ByteString>,
    /// The last event ID string: the buffer as of the last dispatch.
    last_event_id: ByteString,
    retry: Option<Duration>,
}

/// A batch of complete lines. Valid UTF-8 (the usual case) is kept as text
/// so each field is a slice of it with no further check; otherwise each field
/// is decoded on its own, replacing invalid sequences.
#[derive(Debug)]
enum Ready {
    Text(ByteString),
    Raw(Bytes),
}

impl Default for Ready {
    fn default() -> Self {
        Ready::Text(ByteString::new())
    }
}

impl Ready {
    fn new(lines: Bytes) -> Self {
        // One check for the batch. An invalid batch is rare enough that
        // checking it again field by field costs nothing worth saving.
        match ByteString::try_from(lines.clone()) {
            Ok(text) => Ready::Text(text),
            Err(_) => Ready::Raw(lines),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Ready::Text(text) => text.as_bytes(),
            Ready::Raw(bytes) => bytes,
        }
    }

    /// The text of `bytes[range]`. The range is delimited by ASCII bytes
    /// (terminators, `:` and space), so it lies on character boundaries.
    fn text(&self, range: std::ops::Range<usize>) -> ByteString {
        match self {
            Ready::Text(text) => text.slice_ref(&text[range]),
            Ready::Raw(bytes) => text(bytes.slice(range)),
        }
    }
}

/// What a field name asks for, decided before the line is interpreted.
enum FieldKind {
    Comment,
    Data,
    Event,
    Id,
    Retry,
    Kept,
    Ignored,
}

#[derive(Debug, Default)]
struct PendingEvent {
    data: DataBuffer,
    event: Option<ByteString>,
    retry: Option<Duration>,
    comment: Option<String>,
    fields: Vec<(ByteString, ByteString)>,
    size: usize,
}

/// The spec's data buffer. A lone `data:` line is kept as a slice of the
/// input (its trailing LF implied), so the common case copies nothing. Lines
/// are text already, so joining them needs no second UTF-8 check.
#[derive(Debug, Default)]
enum DataBuffer {
    #[default]
    Empty,
    OneLine(ByteString),
    Lines(String),
}

impl DataBuffer {
    fn push_line(&mut self, value: ByteString) {
        *self = match mem::take(self) {
            DataBuffer::Empty => DataBuffer::OneLine(value),
            DataBuffer::OneLine(first) => {
                let mut lines = String::with_capacity(first.len() + value.len() + 2);
                lines.push_str(&first);
                lines.push('\n');
                lines.push_str(&value);
                lines.push('\n');
                DataBuffer::Lines(lines)
            }
            DataBuffer::Lines(mut lines) => {
                lines.push_str(&value);
                lines.push('\n');
                DataBuffer::Lines(lines)
            }
        }
    }

    /// The dispatched data (trailing LF removed), or `None` when the spec's
    /// buffer is empty and nothing must be dispatched.
    fn into_data(self) -> Option<ByteString> {
        match self {
            DataBuffer::Empty => None,
            DataBuffer::OneLine(line) => Some(line),
            DataBuffer::Lines(mut lines) => {
                lines.pop();
                Some(ByteString::from(lines))
            }
        }
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// Default for [`with_max_line_length`](Decoder::with_max_line_length): 8 MiB.
    pub const DEFAULT_MAX_LINE_LENGTH: usize = 8 << 20;
    /// Default for [`with_max_event_size`](Decoder::with_max_event_size): 8 MiB.
    pub const DEFAULT_MAX_EVENT_SIZE: usize = 8 << 20;

    /// A decoder with the default limits, comments not reported, no base64
    /// and no custom fields kept.
    pub fn new() -> Self {
        Decoder {
            max_line_length: Self::DEFAULT_MAX_LINE_LENGTH,
            max_event_size: Self::DEFAULT_MAX_EVENT_SIZE,
            report_comments: false,
            base64: false,
            kept_fields: Vec::new(),
            buf: BytesMut::new(),
            scanned: 0,
            ready: Ready::default(),
            ready_pos: 0,
            ready_scanned: 0,
            skip_lf: false,
            at_stream_start: true,
            discarding_line: false,
            discarding_event: false,
            pending: PendingEvent::default(),
            pending_id: None,
            last_event_id: ByteString::new(),
            retry: None,
        }
    }

    /// Longest line accepted, in bytes without terminator. A longer line is
    /// reported as [`DecodeError::LineTooLong`] and discarded with its event.
    #[must_use]
    pub fn with_max_line_length(mut self, bytes: usize) -> Self {
        self.max_line_length = bytes;
        self
    }

    /// Largest event accepted: the sum of its data, type, comment and kept
    /// field lengths. A larger one is reported as
    /// [`DecodeError::EventTooLarge`] and discarded.
    #[must_use]
    pub fn with_max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// Report comment lines as [`Frame::Comment`] and attach them to the
    /// event they precede ([`Event::comment`]).
    #[must_use]
    pub fn with_comments(mut self, report: bool) -> Self {
        self.report_comments = report;
        self
    }

    /// Decode each event's data from base64 (the counterpart of
    /// [`Encoder::with_base64`](crate::Encoder::with_base64)).
    #[must_use]
    pub fn with_base64(mut self, decode: bool) -> Self {
        self.base64 = decode;
        self
    }

    /// Keep custom fields with these names in [`Event::fields`] instead of
    /// ignoring them.
    #[must_use]
    pub fn with_fields<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.kept_fields
            .extend(names.into_iter().map(|n| n.as_ref().as_bytes().into()));
        self
    }

    /// Start from a known last event ID, e.g. one saved before a restart.
    #[must_use]
    pub fn with_last_event_id(mut self, id: impl Into<ByteString>) -> Self {
        self.set_last_event_id(id);
        self
    }

    /// Replaces the last event ID.
    pub fn set_last_event_id(&mut self, id: impl Into<ByteString>) {
        self.last_event_id = id.into();
        self.pending_id = None;
    }

    /// The ID a reconnecting client sends as `Last-Event-ID`: the last event
    /// ID as of the most recent dispatch (empty if none).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The most recent valid `retry:` value seen, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Bytes fed but not yet decoded.
    pub fn buffered_len(&self) -> usize {
        self.buf.len() + self.ready.as_bytes().len() - self.ready_pos
    }

    /// Appends received bytes. Pull frames with [`next`](Iterator::next)
    /// afterwards.
    #[inline]
    pub fn feed(&mut self, chunk: &[u8]) {
        // While the buffer holds only part of a line, a chunk with no
        // terminator only extends it: scan it here, while it is hot, so the
        // next pull knows at once that there is nothing to decode.
        let clean = self.scanned == self.buf.len() && !self.at_stream_start && !self.skip_lf;
        self.buf.extend_from_slice(chunk);
        if clean && !has_break(chunk, false) {
            self.scanned = self.buf.len();
        }
    }

    /// The stream ended (or the connection was lost): discards any incomplete
    /// line and event, as the spec requires, and prepares for a new stream
    /// (a BOM is skipped again). The last event ID and retry persist.
    /// Returns whether anything was discarded.
    pub fn end_stream(&mut self) -> bool {
        let discarded = self.buffered_len() != 0
            || !matches!(self.pending.data, DataBuffer::Empty)
            || self
                .pending_id
                .as_ref()
                .is_some_and(|id| *id != self.last_event_id)
            || self.discarding_event;
        self.buf.clear();
        self.scanned = 0;
        self.ready = Ready::default();
        self.ready_pos = 0;
        self.ready_scanned = 0;
        self.skip_lf = false;
        self.at_stream_start = true;
        self.discarding_line = false;
        self.discarding_event = false;
        self.pending = PendingEvent::default();
        self.pending_id = None;
        discarded
    }

    /// Decodes the next frame, or returns `None` when more input is needed.
    fn decode_next(&mut self) -> Option<Result<Frame, DecodeError>> {
        loop {
            if self.ready_pos == self.ready.as_bytes().len() {
                match self.fill() {
                    Fill::Lines => {}
                    Fill::NeedInput => return None,
                    Fill::Unterminated => {
                        self.scanned = self.buf.len();
                        if self.discarding_line {
                            self.buf.clear();
                            self.scanned = 0;
                        } else if self.buf.len() > self.max_line_length {
                            return Some(Err(self.reject_line()));
                        }
                        return None;
                    }
                }
            }

            let start = self.ready_pos;
            let rest = &self.ready.as_bytes()[start..];
            let (len, terminator) = match find_line_end(rest, self.ready_scanned) {
                Some(LineEnd::Complete { len, terminator }) => (len, terminator),
                // The batch ends with this CR; an LF opening the next batch
                // belongs to it.
                Some(LineEnd::CarriageReturnAtEnd { len }) => {
                    self.skip_lf = true;
                    (len, 1)
                }
                None => unreachable!("a batch ends with a line terminator"),
            };
            self.ready_pos += len + terminator;
            self.ready_scanned = 0;
            if mem::take(&mut self.discarding_line) {
                continue;
            }
            if len > self.max_line_length {
                return Some(Err(self.reject_line_content()));
            }
            if let Some(frame) = self.process_line(start, start + len) {
                return Some(frame);
            }
        }
    }

    /// Moves every complete line of `buf` into `ready`, in one piece.
    fn fill(&mut self) -> Fill {
        if self.skip_lf {
            let Some(&first) = self.buf.first() else {
                return Fill::NeedInput;
            };
            if first == b'\n' {
                self.buf.advance(1);
            }
            self.skip_lf = false;
        }
        if self.at_stream_start {
            if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                return Fill::NeedInput;
            }
            if self.buf.starts_with(BOM) {
                self.buf.advance(BOM.len());
            }
            self.at_stream_start = false;
        }
        let Some(last) = rfind_terminator(&self.buf[self.scanned..]) else {
            return Fill::Unterminated;
        };
        let lines = self.buf.split_to(self.scanned + last + 1).freeze();
        self.ready = Ready::new(lines);
        self.ready_pos = 0;
        self.ready_scanned = self.scanned;
        self.scanned = 0;
        Fill::Lines
    }

    /// The unterminated line in the buffer is over the limit: drop it, skip
    /// the rest of it as it arrives, and drop its event.
    fn reject_line(&mut self) -> DecodeError {
        self.buf.clear();
        self.scanned = 0;
        self.discarding_line = true;
        self.reject_line_content()
    }

    fn reject_line_content(&mut self) -> DecodeError {
        self.discard_event();
        DecodeError::LineTooLong {
            limit: self.max_line_length,
        }
    }

    fn discard_event(&mut self) {
        self.pending = PendingEvent::default();
        self.pending_id = None;
        self.discarding_event = true;
    }

    /// Interprets the line `ready[start..end]`.
    fn process_line(&mut self, start: usize, end: usize) -> Option<Result<Frame, DecodeError>> {
        let line = &self.ready.as_bytes()[start..end];
        let Some((name_end, value_start)) = split_field(line) else {
            return self.dispatch();
        };
        if self.discarding_event {
            return None;
        }
        let kind = match &line[..name_end] {
            b"" => FieldKind::Comment,
            b"data" => FieldKind::Data,
            b"event" => FieldKind::Event,
            b"id" => FieldKind::Id,
            b"retry" => FieldKind::Retry,
            name if self.kept_fields.iter().any(|kept| **kept == *name) => FieldKind::Kept,
            _ => FieldKind::Ignored,
        };
        let value = start + value_start..end;
        let value_len = value.len();

        match kind {
            FieldKind::Comment => {
                if !self.report_comments {
                    return None;
                }
                let text = self.ready.text(value);
                if let Err(e) = self.grow_event(text.len() + 1) {
                    return Some(Err(e));
                }
                match &mut self.pending.comment {
                    Some(comment) => {
                        comment.push('\n');
                        comment.push_str(&text);
                    }
                    None => self.pending.comment = Some(text.to_string()),
                }
                Some(Ok(Frame::Comment(text)))
            }
            FieldKind::Data => {
                if let Err(e) = self.grow_event(value_len + 1) {
                    return Some(Err(e));
                }
                let value = self.ready.text(value);
                self.pending.data.push_line(value);
                None
            }
            FieldKind::Event => {
                if let Err(e) = self.grow_event(value_len) {
                    return Some(Err(e));
                }
                self.pending.event = (value_len != 0).then(|| self.ready.text(value));
                None
            }
            FieldKind::Id => {
                if !self.ready.as_bytes()[value.clone()].contains(&0) {
                    self.pending_id = Some(self.ready.text(value));
                }
                None
            }
            FieldKind::Retry => {
                let value = &self.ready.as_bytes()[value];
                if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                let millis = value.iter().fold(0u64, |n, d| {
                    n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                let retry = Duration::from_millis(millis);
                self.retry = Some(retry);
                self.pending.retry = Some(retry);
                Some(Ok(Frame::Retry(retry)))
            }
            FieldKind::Kept => {
                if let Err(e) = self.grow_event(end - start) {
                    return Some(Err(e));
                }
                let name = self.ready.text(start..start + name_end);
                let value = self.ready.text(value);
                self.pending.fields.push((name, value));
                None
            }
            FieldKind::Ignored => None,
        }
    }

    fn grow_event(&mut self, bytes: usize) -> Result<(), DecodeError> {
        self.pending.size += bytes;
        if self.pending.size > self.max_event_size {
            self.discard_event();
            return Err(DecodeError::EventTooLarge {
                limit: self.max_event_size,
            });
        }
        Ok(())
    }

    /// The spec's "dispatch the event" steps, on a blank line.
    fn dispatch(&mut self) -> Option<Result<Frame, DecodeError>> {
        if mem::take(&mut self.discarding_event) {
            return None;
        }
        if let Some(id) = self.pending_id.take() {
            self.last_event_id = id;
        }
        let pending = mem::take(&mut self.pending);
        let data = pending.data.into_data()?;
        let data = if self.base64 {
            match base64::engine::general_purpose::STANDARD.decode(data.as_bytes()) {
                Ok(decoded) => text(Bytes::from(decoded)),
                Err(e) => {
                    return Some(Err(DecodeError::InvalidBase64 {
                        reason: e.to_string(),
                    }));
                }
            }
        } else {
            data
        };
        Some(Ok(Frame::Event(Event {
            id: (!self.last_event_id.is_empty()).then(|| self.last_event_id.clone()),
            event: pending.event,
            data,
            retry: pending.retry,
            comment: pending.comment.map(ByteString::from),
            fields: pending.fields,
        })))
    }
}

/// What [`Decoder::fill`] found.
enum Fill {
    /// `ready` holds complete lines.
    Lines,
    /// `buf` holds no line terminator: at most part of one line.
    Unterminated,
    /// Too little input to tell where the next line starts (a possible BOM
    /// or the LF of a CRLF split between chunks).
    NeedInput,
}

impl Iterator for Decoder {
    type Item = Result<Frame, DecodeError>;

    /// The next frame, or `None` when all fed input has been decoded. Unlike
    /// most iterators, it yields again after more [`feed`](Decoder::feed).
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // A pull after feeds that only extended a line has nothing to do.
        if self.ready_pos == self.ready.as_bytes().len()
            && self.scanned == self.buf.len()
            && !self.discarding_line
            && self.buf.len() <= self.max_line_length
        {
            return None;
        }
        self.decode_next()
    }
}

/// The last CR or LF of `bytes`: the bytes fed since the last scan, often
/// only a few (a slow stream, or a client reading small pieces). Below a
/// vector's width a plain loop beats memchr's setup, which dominated the cost
/// of each small feed.
fn rfind_terminator(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 32 {
        // Most small feeds hold no terminator: rule that out a word at a time.
        if !has_break(bytes, false) {
            return None;
        }
        bytes.iter().rposition(|&b| b == b'\n' || b == b'\r')
    } else {
        memchr::memrchr2(b'\n', b'\r', bytes)
    }
}

/// UTF-8 text of `bytes`, sharing the buffer when it is valid and replacing
/// invalid sequences with U+FFFD otherwise.
fn text(bytes: Bytes) -> ByteString {
    match ByteString::try_from(bytes.clone()) {
        Ok(text) => text,
        Err(_) => ByteString::from(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]], max_line: usize) -> Vec<Result<Frame, DecodeError>> {
        let mut decoder = Decoder::new().with_max_line_length(max_line);
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk);
            out.extend(decoder.by_ref());
        }
        out
    }

    /// Long lines arriving in pieces (the `feed` fast path marks them
    /// scanned): the output must not depend on where chunks split
    /// characters, invalid sequences or CRLF, nor on how limits count bytes.
    #[test]
    fn long_lines_decode_the_same_however_split() {
        const LONG: usize = 16 << 10;
        let mut line = b"data: ".to_vec();
        while line.len() < LONG + 100 {
            line.extend_from_slice("aé€😀".as_bytes());
        }
        let mut invalid_mid = line.clone();
        invalid_mid.extend_from_slice(b"\xFF\xE2\x82x");
        invalid_mid.extend_from_slice(&line[6..]);
        let mut invalid_end = line.clone();
        invalid_end.extend_from_slice(b"\xE2\x82");
        let mut inputs = Vec::new();
        for body in [&line, &invalid_mid, &invalid_end] {
            for end in [&b"\n\n"[..], b"\r\n\r\n", b"\r\r", b"\rdata: x\n\n"] {
                let mut input = body.clone();
                input.extend_from_slice(end);
                input.extend_from_slice(b"data: next\n\n");
                inputs.push(input);
            }
        }
        for input in &inputs {
            for max_line in [usize::MAX, input.len() - 30, LONG + 50] {
                let whole = decode(&[input], max_line);
                for size in [1, 2, 3, 5, 7, 1000, 1460, LONG, LONG + 1] {
                    let chunks: Vec<&[u8]> = input.chunks(size).collect();
                    assert_eq!(decode(&chunks, max_line), whole, "chunks of {size}");
                }
            }
        }
    }
}
