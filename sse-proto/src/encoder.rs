//! The injection-safe encoder.

use std::time::Duration;

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::EncodeError;
use crate::event::{Event, Frame};

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
        let mut dst = BytesMut::new();
        self.encode_into(event, &mut dst)?;
        Ok(dst.freeze())
    }

    /// Appends `event` to `dst`. On error nothing is written.
    pub fn encode_into(&self, event: &Event, dst: &mut BytesMut) -> Result<(), EncodeError> {
        validate(event)?;
        dst.reserve(encoded_len_hint(event));
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
        if self.base64 {
            let encoded = base64::engine::general_purpose::STANDARD.encode(event.data.as_bytes());
            write_field(b"data", encoded.as_bytes(), dst);
        } else {
            write_multiline(b"data", event.data.as_bytes(), dst);
        }
        dst.put_u8(b'\n');
        Ok(())
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
        let mut dst = BytesMut::with_capacity(text.len() + 3);
        write_comment(text, &mut dst);
        dst.freeze()
    }

    /// A lone `retry:` frame telling clients their reconnection delay.
    pub fn retry(retry: Duration) -> Bytes {
        let mut dst = BytesMut::with_capacity(32);
        write_retry(retry, &mut dst);
        dst.freeze()
    }
}

fn validate(event: &Event) -> Result<(), EncodeError> {
    if let Some(id) = &event.id
        && memchr::memchr3(b'\r', b'\n', 0, id.as_bytes()).is_some()
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
        if name.is_empty() || reserved || breaks_line(name) || name.contains(':') {
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
    memchr::memchr2(b'\r', b'\n', text.as_bytes()).is_some()
}

fn encoded_len_hint(event: &Event) -> usize {
    let optional = |s: &Option<bytestring::ByteString>| s.as_ref().map_or(0, |s| s.len() + 8);
    let fields: usize = event
        .fields
        .iter()
        .map(|(n, v)| n.len() + v.len() + 3)
        .sum();
    event.data.len()
        + 8
        + optional(&event.id)
        + optional(&event.event)
        + optional(&event.comment)
        + fields
        + if event.retry.is_some() { 28 } else { 0 }
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
    let mut rest = value;
    loop {
        match memchr::memchr2(b'\n', b'\r', rest) {
            None => return write_field(name, rest, dst),
            Some(at) => {
                write_field(name, &rest[..at], dst);
                let terminator = if rest[at..].starts_with(b"\r\n") {
                    2
                } else {
                    1
                };
                rest = &rest[at + terminator..];
            }
        }
    }
}

fn write_comment(text: &str, dst: &mut BytesMut) {
    write_multiline(b"", text.as_bytes(), dst);
}

fn write_retry(retry: Duration, dst: &mut BytesMut) {
    let millis = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
    write_field(b"retry", itoa::Buffer::new().format(millis).as_bytes(), dst);
}
