//! The push-bytes, pull-frames decoder implementing the WHATWG parsing rules.

use std::mem;
use std::time::Duration;

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::DecodeError;
use crate::event::{Event, Frame};
use crate::line::{LineEnd, find_line_end, split_field};

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

    buf: BytesMut,
    /// Bytes at the front of `buf` known to hold no line terminator.
    scanned: usize,
    /// The previous line ended with a CR at the end of a chunk.
    skip_lf: bool,
    at_stream_start: bool,
    discarding_line: bool,
    discarding_event: bool,

    pending: PendingEvent,
    /// The last event ID buffer: set by `id:` fields.
    id_buffer: ByteString,
    /// The last event ID string: the buffer as of the last dispatch.
    last_event_id: ByteString,
    retry: Option<Duration>,
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
/// input (its trailing LF implied), so the common case copies nothing.
#[derive(Debug, Default)]
enum DataBuffer {
    #[default]
    Empty,
    OneLine(Bytes),
    Lines(BytesMut),
}

impl DataBuffer {
    fn push_line(&mut self, value: Bytes) {
        *self = match mem::take(self) {
            DataBuffer::Empty => DataBuffer::OneLine(value),
            DataBuffer::OneLine(first) => {
                let mut lines = BytesMut::with_capacity(first.len() + value.len() + 2);
                lines.extend_from_slice(&first);
                lines.extend_from_slice(b"\n");
                lines.extend_from_slice(&value);
                lines.extend_from_slice(b"\n");
                DataBuffer::Lines(lines)
            }
            DataBuffer::Lines(mut lines) => {
                lines.extend_from_slice(&value);
                lines.extend_from_slice(b"\n");
                DataBuffer::Lines(lines)
            }
        }
    }

    /// The dispatched data (trailing LF removed), or `None` when the spec's
    /// buffer is empty and nothing must be dispatched.
    fn into_data(self) -> Option<Bytes> {
        match self {
            DataBuffer::Empty => None,
            DataBuffer::OneLine(line) => Some(line),
            DataBuffer::Lines(mut lines) => {
                lines.truncate(lines.len() - 1);
                Some(lines.freeze())
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
            skip_lf: false,
            at_stream_start: true,
            discarding_line: false,
            discarding_event: false,
            pending: PendingEvent::default(),
            id_buffer: ByteString::new(),
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
        self.id_buffer = self.last_event_id.clone();
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
        self.buf.len()
    }

    /// Appends received bytes. Pull frames with [`next`](Iterator::next)
    /// afterwards.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The stream ended (or the connection was lost): discards any incomplete
    /// line and event, as the spec requires, and prepares for a new stream
    /// (a BOM is skipped again). The last event ID and retry persist.
    /// Returns whether anything was discarded.
    pub fn end_stream(&mut self) -> bool {
        let discarded = !self.buf.is_empty()
            || !matches!(self.pending.data, DataBuffer::Empty)
            || self.id_buffer != self.last_event_id
            || self.discarding_event;
        self.buf.clear();
        self.scanned = 0;
        self.skip_lf = false;
        self.at_stream_start = true;
        self.discarding_line = false;
        self.discarding_event = false;
        self.pending = PendingEvent::default();
        self.id_buffer = self.last_event_id.clone();
        discarded
    }

    /// Decodes the next frame, or returns `None` when more input is needed.
    fn decode_next(&mut self) -> Option<Result<Frame, DecodeError>> {
        loop {
            if self.skip_lf {
                let &first = self.buf.first()?;
                if first == b'\n' {
                    self.buf.advance(1);
                }
                self.skip_lf = false;
            }
            if self.at_stream_start {
                if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                    return None;
                }
                if self.buf.starts_with(BOM) {
                    self.buf.advance(BOM.len());
                }
                self.at_stream_start = false;
            }

            let Some(end) = find_line_end(&self.buf, self.scanned) else {
                self.scanned = self.buf.len();
                if self.discarding_line {
                    self.buf.clear();
                    self.scanned = 0;
                } else if self.buf.len() > self.max_line_length {
                    return Some(Err(self.reject_line()));
                }
                return None;
            };
            self.scanned = 0;
            let (len, terminator) = match end {
                LineEnd::Complete { len, terminator } => (len, terminator),
                LineEnd::CarriageReturnAtEnd { len } => {
                    self.skip_lf = true;
                    (len, 1)
                }
            };
            if mem::take(&mut self.discarding_line) {
                self.buf.advance(len + terminator);
                continue;
            }
            if len > self.max_line_length {
                self.buf.advance(len + terminator);
                return Some(Err(self.reject_line_content()));
            }
            if let Some(frame) = self.process_line(len, terminator) {
                return Some(frame);
            }
        }
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
        self.id_buffer = self.last_event_id.clone();
        self.discarding_event = true;
    }

    /// Interprets `buf[..len]`, consuming it and its terminator.
    fn process_line(
        &mut self,
        len: usize,
        terminator: usize,
    ) -> Option<Result<Frame, DecodeError>> {
        let Some((name_end, value_start)) = split_field(&self.buf[..len]) else {
            self.buf.advance(terminator);
            return self.dispatch();
        };
        if self.discarding_event {
            self.buf.advance(len + terminator);
            return None;
        }
        let mut line = self.buf.split_to(len);
        self.buf.advance(terminator);
        let value_len = len - value_start;

        match &line[..name_end] {
            b"" => {
                if !self.report_comments {
                    return None;
                }
                line.advance(value_start);
                let text = text(line.freeze());
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
            b"data" => {
                if let Err(e) = self.grow_event(value_len + 1) {
                    return Some(Err(e));
                }
                line.advance(value_start);
                self.pending.data.push_line(line.freeze());
                None
            }
            b"event" => {
                if let Err(e) = self.grow_event(value_len) {
                    return Some(Err(e));
                }
                line.advance(value_start);
                self.pending.event = (!line.is_empty()).then(|| text(line.freeze()));
                None
            }
            b"id" => {
                if memchr::memchr(0, &line[value_start..]).is_none() {
                    line.advance(value_start);
                    self.id_buffer = text(line.freeze());
                }
                None
            }
            b"retry" => {
                let value = &line[value_start..];
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
            name => {
                if !self.kept_fields.iter().any(|kept| **kept == *name) {
                    return None;
                }
                if let Err(e) = self.grow_event(len) {
                    return Some(Err(e));
                }
                let line = line.freeze();
                let name = text(line.slice(..name_end));
                let value = text(line.slice(value_start..));
                self.pending.fields.push((name, value));
                None
            }
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
        self.last_event_id = self.id_buffer.clone();
        let pending = mem::take(&mut self.pending);
        let data = pending.data.into_data()?;
        let data = if self.base64 {
            match base64::engine::general_purpose::STANDARD.decode(&data) {
                Ok(decoded) => text(Bytes::from(decoded)),
                Err(e) => {
                    return Some(Err(DecodeError::InvalidBase64 {
                        reason: e.to_string(),
                    }));
                }
            }
        } else {
            text(data)
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

impl Iterator for Decoder {
    type Item = Result<Frame, DecodeError>;

    /// The next frame, or `None` when all fed input has been decoded. Unlike
    /// most iterators, it yields again after more [`feed`](Decoder::feed).
    fn next(&mut self) -> Option<Self::Item> {
        self.decode_next()
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
