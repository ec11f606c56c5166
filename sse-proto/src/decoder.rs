//! The push-bytes, pull-frames decoder implementing the WHATWG parsing rules.

use std::mem;
use std::ops::Range;
use std::time::Duration;

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::DecodeError;
use crate::event::{Event, EventRef, Frame, FrameRef};
use crate::line::{Breaks, has_break, has_nul, split_field};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// [`Decoder::feed_bytes`] copies chunks shorter than this, as `feed` does:
/// for a few bytes a copy costs less than slicing (a reference count) and
/// the extra split it takes to keep the chunk apart.
const COPY_BELOW: usize = 64;

/// A sans-IO event-stream decoder: [`feed`](Decoder::feed) it bytes as they
/// arrive (or hand it [`Bytes`] with [`feed_bytes`](Decoder::feed_bytes)),
/// then pull [`Frame`]s until it returns `None` (it needs more input).
///
/// Output is identical however the input is split. Work is linear in the
/// input: bytes already scanned for a line terminator are never scanned again.
/// Event strings are slices of the input where possible: with `feed_bytes`,
/// of the caller's own `Bytes` for every line that lies within one chunk, so
/// such an event costs no copy and no allocation.
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
/// `None` after each `feed`. A chunk given to `feed_bytes` is held (shared,
/// not copied) until its lines are pulled, and by the events sliced from it
/// for as long as they live; the last event ID is kept as a copy, so it
/// holds no chunk.
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
    /// A chunk given to [`feed_bytes`](Decoder::feed_bytes), after `buf`, not
    /// yet split: its lines become `ready` without a copy.
    next: Bytes,
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
    /// Where `ready`'s line terminators are, found as the lines are read.
    breaks: Breaks,
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
    /// The last event ID string: the buffer as of the last dispatch, copied:
    /// an event with its own `id:` gets the input's slice, and remembering it
    /// costs no reference count and pins no input buffer.
    last_event_id: String,
    /// `last_event_id` as shared text for the events that carry it without
    /// an `id:` line of their own: made once an event needs it, or the text
    /// it was set from; `None` when the copy is all there is.
    last_event_id_text: Option<ByteString>,
    retry: Option<Duration>,
    /// The frame the last [`next_ref`](Decoder::next_ref) lent out, when it
    /// was built by the line-by-line path; dropped by the next pull that
    /// decodes anything.
    held: Option<Frame>,
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
    #[inline(always)]
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
            next: Bytes::new(),
            scanned: 0,
            ready: Ready::default(),
            ready_pos: 0,
            ready_scanned: 0,
            breaks: Breaks::default(),
            skip_lf: false,
            at_stream_start: true,
            discarding_line: false,
            discarding_event: false,
            pending: PendingEvent::default(),
            pending_id: None,
            last_event_id: String::new(),
            last_event_id_text: None,
            retry: None,
            held: None,
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
        let id = id.into();
        self.last_event_id.clear();
        self.last_event_id.push_str(&id);
        self.last_event_id_text = Some(id);
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
        self.buf.len() + self.next.len() + self.ready.as_bytes().len() - self.ready_pos
    }

    /// Appends received bytes (copied). Pull frames with
    /// [`next`](Iterator::next) afterwards.
    // Always inlined: a caller feeding a few bytes at a time would otherwise
    // pay a call frame per feed, a tenth of the cost of a small feed.
    #[inline(always)]
    pub fn feed(&mut self, chunk: &[u8]) {
        self.buffer_next();
        // While the buffer holds only part of a line, a chunk with no
        // terminator only extends it: scan it here, while it is hot, so the
        // next pull knows at once that there is nothing to decode.
        let clean = self.scanned == self.buf.len() && !self.at_stream_start && !self.skip_lf;
        extend(&mut self.buf, chunk);
        if clean && !has_break(chunk, false) {
            self.scanned = self.buf.len();
        }
    }

    /// Appends received bytes without copying them: every line that lies
    /// within `chunk` is decoded from `chunk`'s own memory, so the `data`,
    /// `id` and `event` of its events are slices of it (and keep it alive
    /// while they live). Copied all the same: the piece of a line that began
    /// in an earlier chunk (to join it), a chunk under 64 bytes (a copy
    /// costs less), and a chunk fed before the previous one was pulled to
    /// `None`. The output is the same as with [`feed`](Decoder::feed).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use sse_proto::{Decoder, Frame};
    ///
    /// let chunk = Bytes::from_static(b"id: 7\nevent: greeting\ndata: hello from a chunk of 64 bytes or more\n\n");
    /// let mut decoder = Decoder::new();
    /// decoder.feed_bytes(chunk.clone());
    /// let Some(Ok(Frame::Event(event))) = decoder.next() else { panic!() };
    /// assert_eq!(event.data, "hello from a chunk of 64 bytes or more");
    /// // The data is the chunk's own memory, not a copy.
    /// let at = chunk.len() - 2 - event.data.len();
    /// assert_eq!(event.data.as_bytes().as_ptr(), chunk[at..].as_ptr());
    /// ```
    #[inline(always)]
    pub fn feed_bytes(&mut self, mut chunk: Bytes) {
        if self.at_stream_start && self.buf.is_empty() && self.next.is_empty() {
            // The stream starts with this chunk: skip its BOM here.
            if chunk.len() >= COPY_BELOW {
                if chunk.starts_with(BOM) {
                    chunk.advance(BOM.len());
                }
                self.at_stream_start = false;
            }
        }
        // Kept apart only after a full pull (all of `buf` scanned: at most
        // part of a line). Otherwise it is copied, as `feed` does.
        if chunk.len() < COPY_BELOW
            || self.at_stream_start
            || !self.next.is_empty()
            || self.scanned != self.buf.len()
        {
            self.feed(&chunk);
            return;
        }
        if !self.buf.is_empty() {
            // The line in `buf` ends in this chunk, or the chunk only
            // extends it: copy what it takes, so `buf` and the rest stay
            // apart and the next pull knows at once if there is nothing.
            let Some(end) = memchr::memchr2(b'\n', b'\r', &chunk) else {
                extend(&mut self.buf, &chunk);
                self.scanned = self.buf.len();
                return;
            };
            extend(&mut self.buf, &chunk[..=end]);
            chunk.advance(end + 1);
        }
        self.next = chunk;
    }

    /// Moves a `feed_bytes` chunk not yet split into `buf`, which must then
    /// take what is fed after it.
    #[inline]
    fn buffer_next(&mut self) {
        if !self.next.is_empty() {
            self.copy_next();
        }
    }

    #[cold]
    fn copy_next(&mut self) {
        extend(&mut self.buf, &mem::take(&mut self.next));
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
                .is_some_and(|id| **id != *self.last_event_id)
            || self.discarding_event;
        self.buf.clear();
        self.next = Bytes::new();
        self.scanned = 0;
        self.ready = Ready::default();
        self.ready_pos = 0;
        self.ready_scanned = 0;
        self.breaks = Breaks::default();
        self.skip_lf = false;
        self.at_stream_start = true;
        self.discarding_line = false;
        self.discarding_event = false;
        self.pending = PendingEvent::default();
        self.pending_id = None;
        self.held = None;
        discarded
    }

    /// Decodes the next frame, or returns `None` when more input is needed.
    fn decode_next<P: Pull>(&mut self) -> Option<P::Item<'_>> {
        P::release(self);
        loop {
            if self.ready_pos == self.ready.as_bytes().len() {
                match self.fill() {
                    Fill::Lines => {}
                    Fill::NeedInput => return None,
                    Fill::Unterminated => {
                        if self.discarding_line {
                            self.buf.clear();
                            self.scanned = 0;
                        } else if self.buf.len() > self.max_line_length {
                            let e = self.reject_line();
                            return Some(P::frame(self, Err(e)));
                        }
                        return None;
                    }
                }
            }

            if self.at_event_start() {
                // The usual case, a whole event in one pass.
                if let Some(event) = self.decode_whole_event() {
                    return Some(P::whole_event(self, event));
                }
            }
            let start = self.ready_pos;
            let lines = self.ready.as_bytes();
            let end = self
                .breaks
                .find(lines, start + self.ready_scanned)
                .expect("a batch ends with a line terminator");
            self.ready_pos = match lines.get(end + 1) {
                Some(b'\n') if lines[end] == b'\r' => end + 2,
                Some(_) => end + 1,
                // The batch ends with this terminator; if it is a CR, an LF
                // opening the next batch belongs to it.
                None => {
                    self.skip_lf = lines[end] == b'\r';
                    end + 1
                }
            };
            self.ready_scanned = 0;
            if mem::take(&mut self.discarding_line) {
                continue;
            }
            if end - start > self.max_line_length {
                let e = self.reject_line_content();
                return Some(P::frame(self, Err(e)));
            }
            if let Some(frame) = self.process_line(start, end) {
                return Some(P::frame(self, frame));
            }
        }
    }

    /// The `id` of a dispatched event: the last event ID, `None` if empty.
    fn last_event_id_for_event(&mut self) -> Option<ByteString> {
        if self.last_event_id.is_empty() {
            return None;
        }
        let id = self
            .last_event_id_text
            .get_or_insert_with(|| ByteString::from(self.last_event_id.clone()));
        Some(id.clone())
    }

    /// Nothing of an event is pending: the next line starts one.
    #[inline]
    fn at_event_start(&self) -> bool {
        let p = &self.pending;
        matches!(p.data, DataBuffer::Empty)
            && p.size == 0
            && p.event.is_none()
            && p.retry.is_none()
            && p.comment.is_none()
            && p.fields.is_empty()
            && self.pending_id.is_none()
            && !self.discarding_event
            && !self.discarding_line
            && !self.base64
    }

    /// The common case in one pass: a whole event of `id`, `event` and one
    /// `data` line within a text batch, its fields found once and handed
    /// straight to the event. Anything else (another field, a second data
    /// line, a line or event over a limit, a NUL in an id, the batch ending
    /// first, invalid UTF-8) yields `None` with nothing changed, for the
    /// line-by-line path to decode.
    #[inline(always)]
    fn decode_whole_event(&mut self) -> Option<WholeEvent> {
        let Ready::Text(text) = &self.ready else {
            return None;
        };
        let lines = text.as_bytes();
        let mut breaks = self.breaks;
        let (mut pos, mut scan) = (self.ready_pos, self.ready_pos + self.ready_scanned);
        let (mut id, mut event, mut data) = (None, None, None);
        let mut size = 0;
        let after_event = loop {
            let end = breaks.find(lines, scan)?;
            let next = match lines.get(end + 1) {
                Some(b'\n') if lines[end] == b'\r' => end + 2,
                Some(_) => end + 1,
                // An LF opening the next batch may belong to this CR.
                None if lines[end] == b'\r' => return None,
                None => end + 1,
            };
            let line = &lines[pos..end];
            if line.len() > self.max_line_length {
                return None;
            }
            // After the colon, one space is not part of the value.
            let value = |name: usize| {
                let start = pos + name + 1 + usize::from(line.get(name + 1) == Some(&b' '));
                start.min(end)..end
            };
            match line {
                [] => break next,
                [b'd', b'a', b't', b'a', b':', ..] if data.is_none() => {
                    let value = value(4);
                    size += value.len() + 1;
                    data = Some(value);
                }
                [b'i', b'd', b':', ..] => {
                    let value = value(2);
                    if has_nul(&lines[value.clone()]) {
                        return None;
                    }
                    id = Some(value);
                }
                [b'e', b'v', b'e', b'n', b't', b':', ..] => {
                    let value = value(5);
                    size += value.len();
                    event = Some(value);
                }
                _ => return None,
            }
            if size > self.max_event_size {
                return None;
            }
            (pos, scan) = (next, next);
        };
        let data = data?;
        self.breaks = breaks;
        self.ready_pos = after_event;
        self.ready_scanned = 0;
        Some(WholeEvent {
            id,
            event: event.filter(|event| !event.is_empty()),
            data,
        })
    }

    /// The owned event of a [`WholeEvent`]: its fields are slices of the
    /// batch (the event's own id too; the decoder keeps a copy).
    #[inline(always)]
    fn whole_event(&mut self, whole: WholeEvent) -> Event {
        let id = match whole.id {
            Some(id) => {
                self.last_event_id.clear();
                self.last_event_id_text = None;
                (!id.is_empty()).then(|| {
                    let id = self.ready.text(id);
                    self.last_event_id.push_str(&id);
                    id
                })
            }
            None => self.last_event_id_for_event(),
        };
        Event {
            id,
            event: whole.event.map(|event| self.ready.text(event)),
            data: self.ready.text(whole.data),
            ..Event::default()
        }
    }

    /// The borrowed event of a [`WholeEvent`]: its id is the decoder's last
    /// event ID, set from the event's own if it has one.
    #[inline(always)]
    fn whole_event_ref(&mut self, whole: WholeEvent) -> EventRef<'_> {
        let Ready::Text(text) = &self.ready else {
            unreachable!("the one-pass path reads text batches only");
        };
        if let Some(id) = whole.id {
            self.last_event_id.clear();
            self.last_event_id.push_str(&text[id]);
            self.last_event_id_text = None;
        }
        EventRef {
            id: (!self.last_event_id.is_empty()).then_some(self.last_event_id.as_str()),
            event: whole.event.map(|event| &text[event]),
            data: &text[whole.data],
            ..EventRef::default()
        }
    }

    /// Like [`next`](Iterator::next), but the frame borrows from the decoder:
    /// the strings of an event decoded in one pass (the usual case: `id`,
    /// `event` and one `data` line, all in one batch) point into the input,
    /// so pulling it costs no reference count, no allocation and no copy.
    /// Other frames are decoded as by `next` and held by the decoder until
    /// the next pull that finds more input to decode. The same frames as
    /// `next` yields, in the same order; the two may be mixed.
    ///
    /// ```
    /// use sse_proto::{Decoder, FrameRef};
    ///
    /// let mut decoder = Decoder::new();
    /// decoder.feed(b"data: a\n\ndata: b\n\n");
    /// let mut data = Vec::new();
    /// while let Some(frame) = decoder.next_ref() {
    ///     if let FrameRef::Event(event) = frame? {
    ///         data.push(event.data.to_owned());
    ///     }
    /// }
    /// assert_eq!(data, ["a", "b"]);
    /// # Ok::<(), sse_proto::DecodeError>(())
    /// ```
    #[inline]
    pub fn next_ref(&mut self) -> Option<Result<FrameRef<'_>, DecodeError>> {
        self.pull::<Lent>()
    }

    /// The next frame, or `None` when all fed input is decoded.
    #[inline(always)]
    fn pull<P: Pull>(&mut self) -> Option<P::Item<'_>> {
        // A pull after feeds that only extended a line has nothing to do.
        if self.ready_pos == self.ready.as_bytes().len()
            && self.scanned == self.buf.len()
            && self.next.is_empty()
            && !self.discarding_line
            && self.buf.len() <= self.max_line_length
        {
            return None;
        }
        self.decode_next::<P>()
    }

    /// Moves the next complete lines into `ready`, in one piece: every
    /// complete line of `buf`; else the line that `next` completes (copied
    /// onto its start in `buf`); else every complete line of `next` (a slice
    /// of it, no copy).
    fn fill(&mut self) -> Fill {
        if self.skip_lf {
            match (self.buf.first(), self.next.first()) {
                (Some(b'\n'), _) => self.buf.advance(1),
                (None, Some(b'\n')) => self.next.advance(1),
                (None, None) => return Fill::NeedInput,
                _ => {}
            }
            self.skip_lf = false;
        }
        if self.at_stream_start {
            // Only before the first line: the BOM may span chunks.
            self.buffer_next();
            if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                return Fill::NeedInput;
            }
            if self.buf.starts_with(BOM) {
                self.buf.advance(BOM.len());
            }
            self.at_stream_start = false;
        }
        if let Some(last) = rfind_terminator(&self.buf[self.scanned..]) {
            let lines = self.buf.split_to(self.scanned + last + 1).freeze();
            self.set_ready(lines, self.scanned);
            self.scanned = 0;
            return Fill::Lines;
        }
        // `buf` holds at most part of one line.
        if !self.next.is_empty() && self.buf.is_empty() {
            // Every complete line of `next`, without a copy.
            if let Some(last) = rfind_terminator(&self.next) {
                let lines = self.next.split_to(last + 1);
                self.set_ready(lines, 0);
                self.buffer_next();
                self.scanned = self.buf.len();
                return Fill::Lines;
            }
        }
        if self.next.is_empty() {
            self.scanned = self.buf.len();
            return Fill::Unterminated;
        }
        // `next` continues the part of a line in `buf` (feeds came in an
        // order `feed_bytes` could not keep apart): join them.
        self.buffer_next();
        self.fill()
    }

    /// `lines` (ending with a terminator, none in its first `scanned` bytes)
    /// become the batch to decode.
    fn set_ready(&mut self, lines: Bytes, scanned: usize) {
        self.ready = Ready::new(lines);
        self.ready_pos = 0;
        self.ready_scanned = scanned;
        self.breaks = Breaks::default();
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
        // The fields of nearly every event, told apart without a search for
        // the colon (their names hold none, so it follows the name).
        let (kind, name_end) = match line {
            [] => return self.dispatch(),
            [b'd', b'a', b't', b'a', b':', ..] => (FieldKind::Data, 4),
            [b'i', b'd', b':', ..] => (FieldKind::Id, 2),
            [b'e', b'v', b'e', b'n', b't', b':', ..] => (FieldKind::Event, 5),
            _ => {
                let (name_end, _) = split_field(line).expect("not blank");
                let kind = match &line[..name_end] {
                    b"" => FieldKind::Comment,
                    b"data" => FieldKind::Data,
                    b"event" => FieldKind::Event,
                    b"id" => FieldKind::Id,
                    b"retry" => FieldKind::Retry,
                    name if self.kept_fields.iter().any(|kept| **kept == *name) => FieldKind::Kept,
                    _ => FieldKind::Ignored,
                };
                (kind, name_end)
            }
        };
        if self.discarding_event {
            return None;
        }
        // After the colon (if any), one space is not part of the value.
        let value_start = match line.get(name_end + 1) {
            _ if name_end == line.len() => name_end,
            Some(b' ') => name_end + 2,
            _ => name_end + 1,
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
                if !has_nul(&self.ready.as_bytes()[value.clone()]) {
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
            self.last_event_id.clear();
            self.last_event_id.push_str(&id);
            self.last_event_id_text = Some(id);
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
            id: self.last_event_id_for_event(),
            event: pending.event,
            data,
            retry: pending.retry,
            comment: pending.comment.map(ByteString::from),
            fields: pending.fields,
        })))
    }
}

/// What a pull hands out: the decoding is the same, only the form of its
/// result differs ([`Owned`] for `next`, [`Lent`] for `next_ref`).
trait Pull {
    type Item<'a>;
    /// Called before decoding: what an earlier pull lent is no longer used.
    fn release(_: &mut Decoder) {}
    /// An event decoded in one pass.
    fn whole_event(decoder: &mut Decoder, event: WholeEvent) -> Self::Item<'_>;
    /// Anything else, built by the line-by-line path.
    fn frame(decoder: &mut Decoder, frame: Result<Frame, DecodeError>) -> Self::Item<'_>;
}

/// Frames that own their strings (slices of the input).
struct Owned;

impl Pull for Owned {
    type Item<'a> = Result<Frame, DecodeError>;

    #[inline(always)]
    fn whole_event(decoder: &mut Decoder, event: WholeEvent) -> Self::Item<'_> {
        Ok(Frame::Event(decoder.whole_event(event)))
    }

    #[inline(always)]
    fn frame(_: &mut Decoder, frame: Result<Frame, DecodeError>) -> Self::Item<'_> {
        frame
    }
}

/// Frames borrowed from the decoder.
struct Lent;

impl Pull for Lent {
    type Item<'a> = Result<FrameRef<'a>, DecodeError>;

    #[inline(always)]
    fn release(decoder: &mut Decoder) {
        if decoder.held.is_some() {
            decoder.held = None;
        }
    }

    #[inline(always)]
    fn whole_event(decoder: &mut Decoder, event: WholeEvent) -> Self::Item<'_> {
        Ok(FrameRef::Event(decoder.whole_event_ref(event)))
    }

    #[inline(always)]
    fn frame(decoder: &mut Decoder, frame: Result<Frame, DecodeError>) -> Self::Item<'_> {
        frame.map(|frame| FrameRef::from(&*decoder.held.insert(frame)))
    }
}

/// Where the fields of an event decoded in one pass lie in the text batch.
struct WholeEvent {
    /// The event's own `id:` value (possibly empty), `None` if it has none.
    id: Option<Range<usize>>,
    /// The `event:` value, `None` if absent or empty.
    event: Option<Range<usize>>,
    data: Range<usize>,
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
    // Always inlined, as `feed` is: a call frame per pull is a tenth of the
    // cost of a small event.
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        self.pull::<Owned>()
    }
}

/// Appends to `buf`, at least doubling its capacity when it must grow, so a
/// long line costs a logarithmic number of regrowths.
#[inline]
fn extend(buf: &mut BytesMut, bytes: &[u8]) {
    if buf.capacity() - buf.len() < bytes.len() {
        grow(buf, bytes.len());
    }
    buf.extend_from_slice(bytes);
}

#[cold]
fn grow(buf: &mut BytesMut, additional: usize) {
    buf.reserve(additional.max(buf.len()));
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
