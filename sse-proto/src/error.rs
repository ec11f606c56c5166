//! Error types of the codec.

/// A limit or data check failed while decoding. The decoder has already
/// recovered: it discarded what the message names and goes on with the next
/// line, so the caller may log the error and keep pulling frames.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A line grew past [`Decoder::with_max_line_length`](crate::Decoder::with_max_line_length).
    #[error("line longer than the limit of {limit} bytes: the line and its event were discarded")]
    LineTooLong {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// An event grew past [`Decoder::with_max_event_size`](crate::Decoder::with_max_event_size).
    #[error("event larger than the limit of {limit} bytes: the event was discarded")]
    EventTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// Base64 decoding was asked for and the event's data is not base64.
    #[error("event data is not valid base64 ({reason}): the event was discarded")]
    InvalidBase64 {
        /// What the base64 decoder reported.
        reason: String,
    },
}

/// An event cannot be written without changing its meaning on the wire.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The ID holds CR, LF or NUL: it would end the `id:` line early or be
    /// ignored by every receiver.
    #[error("event id {id:?} contains CR, LF or NUL, which cannot be sent in an `id:` field")]
    InvalidId {
        /// The rejected ID.
        id: String,
    },
    /// The event type holds CR or LF: it would inject another field.
    #[error("event type {event:?} contains CR or LF, which cannot be sent in an `event:` field")]
    InvalidEventType {
        /// The rejected event type.
        event: String,
    },
    /// A custom field name is empty, holds `:`, CR or LF, starts with U+FEFF
    /// (a receiver would strip it as a byte order mark at stream start), or is
    /// one of the names the protocol reserves (`data`, `event`, `id`, `retry`).
    #[error(
        "custom field name {name:?} is empty, reserved (data, event, id, retry), starts with U+FEFF or contains ':', CR or LF"
    )]
    InvalidFieldName {
        /// The rejected name.
        name: String,
    },
    /// A custom field value holds CR or LF.
    #[error("value of custom field {name:?} contains CR or LF")]
    InvalidFieldValue {
        /// The field whose value was rejected.
        name: String,
    },
}
