//! The event model shared by the encoder and the decoder.

use std::time::Duration;

use bytestring::ByteString;

/// One server-sent event.
///
/// Strings are [`ByteString`]s: UTF-8 text backed by reference-counted
/// [`bytes::Bytes`], so the decoder can hand out slices of its input without
/// copying and a server can clone an event cheaply.
///
/// ```
/// use sse_proto::Event;
///
/// let event = Event::data("hello").id("42").event("greeting");
/// assert_eq!(event.data, "hello");
/// assert_eq!(event.event_type(), "greeting");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Event {
    /// The event ID (`id:`). When decoding, this is the stream's last event ID
    /// at dispatch time (it persists across events), or `None` when it is empty.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub id: Option<ByteString>,
    /// The event type (`event:`); `None` means the default type, `message`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub event: Option<ByteString>,
    /// The payload (`data:`). Line breaks inside it travel as several `data:`
    /// lines and always decode as LF.
    pub data: ByteString,
    /// A reconnection delay (`retry:`) sent with, or decoded within, this event.
    #[cfg_attr(
        feature = "serde",
        serde(
            skip_serializing_if = "Option::is_none",
            with = "retry_millis",
            rename = "retry"
        )
    )]
    pub retry: Option<Duration>,
    /// A comment (`: text`) sent before, or decoded within, this event. The
    /// decoder fills it only when asked to report comments.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub comment: Option<ByteString>,
    /// Custom fields (`name: value`), in wire order. The decoder keeps only
    /// the names it was asked to keep.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub fields: Vec<(ByteString, ByteString)>,
}

impl Event {
    /// The event type used when none is given.
    pub const DEFAULT_TYPE: &'static str = "message";

    /// An event of the default type carrying `data`.
    pub fn data(data: impl Into<ByteString>) -> Self {
        Event {
            data: data.into(),
            ..Event::default()
        }
    }

    /// An event of type `event` carrying `data`.
    pub fn new(event: impl Into<ByteString>, data: impl Into<ByteString>) -> Self {
        Event::data(data).event(event)
    }

    /// Sets the ID.
    #[must_use]
    pub fn id(mut self, id: impl Into<ByteString>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the event type.
    #[must_use]
    pub fn event(mut self, event: impl Into<ByteString>) -> Self {
        self.event = Some(event.into());
        self
    }

    /// Sets the reconnection delay sent with this event.
    #[must_use]
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Sets a comment sent before this event's fields.
    #[must_use]
    pub fn comment(mut self, comment: impl Into<ByteString>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Adds a custom field.
    #[must_use]
    pub fn field(mut self, name: impl Into<ByteString>, value: impl Into<ByteString>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// The event type, `message` when none was set.
    pub fn event_type(&self) -> &str {
        self.event.as_deref().unwrap_or(Self::DEFAULT_TYPE)
    }

    /// The value of the first custom field called `name`.
    pub fn field_value(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| &**v)
    }
}

/// What the decoder produces and the encoder accepts: an event, or one of
/// the two out-of-band frames of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Frame {
    /// A dispatched event.
    Event(Event),
    /// A valid `retry:` field: the server's new reconnection delay. Reported
    /// when the field is read, even if its event is never dispatched.
    Retry(#[cfg_attr(feature = "serde", serde(with = "millis"))] Duration),
    /// A comment line (`: text`), reported only when the decoder is asked to.
    Comment(ByteString),
}

impl From<Event> for Frame {
    fn from(event: Event) -> Self {
        Frame::Event(event)
    }
}

/// An [`Event`] borrowed from the [`Decoder`](crate::Decoder) that decoded
/// it, from [`Decoder::next_ref`](crate::Decoder::next_ref): its strings
/// point into the decoder's input, so reading one costs no reference count
/// and no allocation. Valid until the decoder is used again; keep it with
/// [`to_event`](EventRef::to_event).
///
/// ```
/// use sse_proto::{Decoder, FrameRef};
///
/// let mut decoder = Decoder::new();
/// decoder.feed(b"id: 1\nevent: greet\ndata: hello\n\n");
/// let Some(Ok(FrameRef::Event(event))) = decoder.next_ref() else { panic!() };
/// assert_eq!((event.id, event.event_type(), event.data), (Some("1"), "greet", "hello"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EventRef<'a> {
    /// As [`Event::id`].
    pub id: Option<&'a str>,
    /// As [`Event::event`].
    pub event: Option<&'a str>,
    /// As [`Event::data`].
    pub data: &'a str,
    /// As [`Event::retry`].
    pub retry: Option<Duration>,
    /// As [`Event::comment`].
    pub comment: Option<&'a str>,
    /// As [`Event::fields`].
    pub fields: &'a [(ByteString, ByteString)],
}

impl EventRef<'_> {
    /// The event type, `message` when none was set.
    pub fn event_type(&self) -> &str {
        self.event.unwrap_or(Event::DEFAULT_TYPE)
    }

    /// The value of the first custom field called `name`.
    pub fn field_value(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| &**v)
    }

    /// An owned copy: its strings are copied, so it holds nothing of the
    /// decoder's input.
    pub fn to_event(&self) -> Event {
        Event {
            id: self.id.map(ByteString::from),
            event: self.event.map(ByteString::from),
            data: ByteString::from(self.data),
            retry: self.retry,
            comment: self.comment.map(ByteString::from),
            fields: self.fields.to_vec(),
        }
    }
}

impl<'a> From<&'a Event> for EventRef<'a> {
    fn from(event: &'a Event) -> Self {
        EventRef {
            id: event.id.as_deref(),
            event: event.event.as_deref(),
            data: &event.data,
            retry: event.retry,
            comment: event.comment.as_deref(),
            fields: &event.fields,
        }
    }
}

/// A [`Frame`] borrowed from the decoder: what
/// [`Decoder::next_ref`](crate::Decoder::next_ref) yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameRef<'a> {
    /// As [`Frame::Event`].
    Event(EventRef<'a>),
    /// As [`Frame::Retry`].
    Retry(Duration),
    /// As [`Frame::Comment`].
    Comment(&'a str),
}

impl FrameRef<'_> {
    /// An owned copy (see [`EventRef::to_event`]).
    pub fn to_frame(&self) -> Frame {
        match *self {
            FrameRef::Event(event) => Frame::Event(event.to_event()),
            FrameRef::Retry(retry) => Frame::Retry(retry),
            FrameRef::Comment(text) => Frame::Comment(ByteString::from(text)),
        }
    }
}

impl<'a> From<&'a Frame> for FrameRef<'a> {
    fn from(frame: &'a Frame) -> Self {
        match frame {
            Frame::Event(event) => FrameRef::Event(event.into()),
            Frame::Retry(retry) => FrameRef::Retry(*retry),
            Frame::Comment(text) => FrameRef::Comment(text),
        }
    }
}

#[cfg(feature = "serde")]
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(feature = "serde")]
mod retry_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::millis::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}
