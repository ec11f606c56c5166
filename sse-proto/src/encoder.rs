//! The injection-safe encoder.

use std::mem;
use std::time::Duration;

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::EncodeError;
use crate::event::{Event, Frame};
use crate::line::{Lines, has_break};

/// Writes events in the event-stream format, safe by construction: whatever
/// the strings hold, one [`Event`] becomes exactly one dispatched event.
///
/// Data with LF, CR or CRLF becomes one `data:` line per line; an ID or event
/// type that would break its line is rejected with an [`EncodeError`].
/// Encode once and share the resulting [`Bytes`] between every receiver.
///
/// ```
/// use sse_proto::{Encoder, Event};
///
/// let bytes = Encoder::new().encode(&Event::data("a\nb").id("7"))?;
/// assert_eq!(&bytes[..], b"id: 7\ndata: a\ndata: b\n\n");
/// # Ok::<(), sse_proto::EncodeError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Encoder {
    base64: bool,
}

impl Encoder {
    /// An encoder writing data as text.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Write each event's data as one base64 line (r3labs `EncodeBase64`);
    /// decode with [`Decoder::with_base64`](crate::Decoder::with_base64).
    #[must_use]
    pub fn with_base64(mut self, base64: bool) -> Self {
        self.base64 = base64;
        self
    }

    /// Encodes `event` into a new buffer.
    pub fn encode(&self, event: &Event) -> Result<Bytes, EncodeError> {
        validate(event)?;
        let data = self.data(event);
        // Exactly the encoded length: a buffer frozen full becomes `Bytes`
        // without the second allocation (a shared header) a partly filled
        // one needs, and nothing grows while writing.
        let len = encoded_len(event, &data);
        let mut dst = BytesMut::with_capacity(len);
        write_event(event, &data, &mut dst);
        debug_assert_eq!(dst.len(), len);
        Ok(dst.freeze())
    }

    /// Appends `event` to `dst`. On error nothing is written.
    pub fn encode_into(&self, event: &Event, dst: &mut BytesMut) -> Result<(), EncodeError> {
        validate(event)?;
        let data = self.data(event);
        dst.reserve(encoded_len(event, &data));
        write_event(event, &data, dst);
        Ok(())
    }

    fn data<'a>(&self, event: &'a Event) -> Data<'a> {
        let data = event.data.as_bytes();
        if self.base64 {
            Data::Base64(base64::engine::general_purpose::STANDARD.encode(data))
        } else if !has_break(data, false) {
            Data::OneLine(data)
        } else {
            Data::Lines(data)
        }
    }

    /// Appends any frame: an event, a lone `retry:` line, or a comment.
    pub fn encode_frame_into(&self, frame: &Frame, dst: &mut BytesMut) -> Result<(), EncodeError> {
        match frame {
            Frame::Event(event) => self.encode_into(event, dst)?,
            Frame::Retry(retry) => write_retry(*retry, dst),
            Frame::Comment(text) => write_comment(text, dst),
        }
        Ok(())
    }

    /// A comment frame (`: text`), one line per line of `text`: the usual
    /// keep-alive. Comments cannot fail to encode.
    pub fn comment(text: &str) -> Bytes {
        let mut dst = BytesMut::with_capacity(multiline_len(b"", text.as_bytes()));
        write_comment(text, &mut dst);
        dst.freeze()
    }

    /// A lone `retry:` frame telling clients their reconnection delay.
    pub fn retry(retry: Duration) -> Bytes {
        let mut dst = BytesMut::with_capacity(retry_len(retry));
        write_retry(retry, &mut dst);
        dst.freeze()
    }
}

/// An event's data as it will be written.
enum Data<'a> {
    /// No line break: one `data:` line, no further scan needed.
    OneLine(&'a [u8]),
    /// One `data:` line per line.
    Lines(&'a [u8]),
    /// Base64 of the data, which has no line break.
    Base64(String),
}

fn write_event(event: &Event, data: &Data<'_>, dst: &mut BytesMut) {
    if let Some(comment) = &event.comment {
        write_comment(comment, dst);
    }
    if let Some(id) = &event.id {
        write_field(b"id", id.as_bytes(), dst);
    }
    if let Some(event_type) = &event.event {
        write_field(b"event", event_type.as_bytes(), dst);
    }
    if let Some(retry) = event.retry {
        write_retry(retry, dst);
    }
    for (name, value) in &event.fields {
        write_field(name.as_bytes(), value.as_bytes(), dst);
    }
    match data {
        Data::OneLine(value) => write_field(b"data", value, dst),
        Data::Lines(value) => write_multiline(b"data", value, dst),
        Data::Base64(value) => write_field(b"data", value.as_bytes(), dst),
    }
    dst.put_u8(b'\n');
}

fn validate(event: &Event) -> Result<(), EncodeError> {
    if let Some(id) = &event.id
        && has_break(id.as_bytes(), true)
    {
        return Err(EncodeError::InvalidId { id: id.to_string() });
    }
    if let Some(event_type) = &event.event
        && breaks_line(event_type)
    {
        return Err(EncodeError::InvalidEventType {
            event: event_type.to_string(),
        });
    }
    for (name, value) in &event.fields {
        let reserved = matches!(&**name, "data" | "event" | "id" | "retry");
        // A receiver strips a U+FEFF that opens its stream, and this event may
        // be the first one sent: `\u{FEFF}data` would then arrive as `data`.
        let bom = name.starts_with('\u{FEFF}');
        if name.is_empty() || reserved || bom || breaks_line(name) || name.contains(':') {
            return Err(EncodeError::InvalidFieldName {
                name: name.to_string(),
            });
        }
        if breaks_line(value) {
            return Err(EncodeError::InvalidFieldValue {
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

fn breaks_line(text: &str) -> bool {
    has_break(text.as_bytes(), false)
}

/// The exact length `write_event` writes.
fn encoded_len(event: &Event, data: &Data<'_>) -> usize {
    let comment = event
        .comment
        .as_ref()
        .map_or(0, |c| multiline_len(b"", c.as_bytes()));
    let id = event.id.as_ref().map_or(0, |id| field_len(b"id", id.len()));
    let event_type = event
        .event
        .as_ref()
        .map_or(0, |e| field_len(b"event", e.len()));
    let retry = event.retry.map_or(0, retry_len);
    let fields: usize = event
        .fields
        .iter()
        .map(|(name, value)| field_len(name.as_bytes(), value.len()))
        .sum();
    let data = match data {
        Data::OneLine(value) => field_len(b"data", value.len()),
        Data::Lines(value) => multiline_len(b"data", value),
        Data::Base64(value) => field_len(b"data", value.len()),
    };
    comment + id + event_type + retry + fields + data + 1
}

/// The length `write_field` writes.
fn field_len(name: &[u8], value_len: usize) -> usize {
    let value = if value_len == 0 { 0 } else { value_len + 1 };
    name.len() + 2 + value
}

/// The length `write_multiline` writes.
fn multiline_len(name: &[u8], value: &[u8]) -> usize {
    value_lines(value)
        .map(|line| field_len(name, line.len()))
        .sum()
}

fn retry_len(retry: Duration) -> usize {
    field_len(
        b"retry",
        itoa::Buffer::new().format(retry_millis(retry)).len(),
    )
}

fn retry_millis(retry: Duration) -> u64 {
    u64::try_from(retry.as_millis()).unwrap_or(u64::MAX)
}

/// `name: value\n`, or `name:\n` for an empty value (so an empty comment
/// stays a comment). The space after the colon is the one receivers strip,
/// so a value starting with a space survives.
fn write_field(name: &[u8], value: &[u8], dst: &mut BytesMut) {
    dst.put_slice(name);
    dst.put_u8(b':');
    if !value.is_empty() {
        dst.put_u8(b' ');
        dst.put_slice(value);
    }
    dst.put_u8(b'\n');
}

/// One `name:` line per line of `value`, splitting on CRLF, LF and CR.
fn write_multiline(name: &[u8], value: &[u8], dst: &mut BytesMut) {
    for line in value_lines(value) {
        write_field(name, line, dst);
    }
}

/// The lines of `value` split on CRLF, LF and CR, the last one possibly
/// empty (a value ending with a line break ends with an empty line).
fn value_lines(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut lines = Lines::new(value);
    let mut last = true;
    std::iter::from_fn(move || {
        lines
            .next()
            .or_else(|| mem::take(&mut last).then(|| lines.remainder()))
    })
}

fn write_comment(text: &str, dst: &mut BytesMut) {
    write_multiline(b"", text.as_bytes(), dst);
}

fn write_retry(retry: Duration, dst: &mut BytesMut) {
    let millis = retry_millis(retry);
    write_field(b"retry", itoa::Buffer::new().format(millis).as_bytes(), dst);
}
