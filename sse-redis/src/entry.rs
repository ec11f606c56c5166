//! How an event is stored in a Redis stream entry, and read back.
//!
//! An entry holds the fields, in this order: [`FRAME`], then [`OWN_ID`]
//! when the publisher gave an id, then [`TOPICS`] and [`PRIVATE`] when the
//! event was published tagged. An untagged entry is exactly what it was
//! before topics existed, so entries of either age read the same.

use std::sync::Arc;

use bytes::Bytes;
use bytestring::ByteString;
use redis::Value;
use redis::streams::StreamId;
use sse_actors::{BackplaneError, BackplaneEvent, GlobalId, Topics};

/// The field holding the encoded event (without an `id:` line); the Lua
/// scripts in `scripts/` name every field too.
pub(crate) const FRAME: &str = "f";
/// The field holding the publisher's own event id, when it gave one.
pub(crate) const OWN_ID: &str = "u";
/// The field holding a tagged event's topics (see [`topics_field`]);
/// absent when the event was published untagged.
pub(crate) const TOPICS: &str = "t";
/// The field present (as `1`) when a tagged event is private.
pub(crate) const PRIVATE: &str = "p";

/// The [`TOPICS`] field of `topics`: each topic as its length in bytes
/// (decimal), `:`, then the topic, one after the other, so any string
/// (with `:`, newlines or NULs) is stored as given. No topic is an empty
/// field.
pub(crate) fn topics_field(topics: &Topics) -> Vec<u8> {
    let mut out = Vec::with_capacity(topics.iter().map(|topic| topic.len() + 4).sum());
    for topic in topics.iter() {
        out.extend_from_slice(topic.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(topic.as_bytes());
    }
    out
}

/// The topics of a [`TOPICS`] field, `None` when it is not one
/// [`topics_field`] wrote.
fn parse_topics(mut field: &[u8]) -> Option<Vec<Box<str>>> {
    let mut topics = Vec::new();
    while !field.is_empty() {
        let colon = field.iter().position(|&b| b == b':')?;
        let digits = &field[..colon];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let len: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
        let rest = &field[colon + 1..];
        let topic = rest.get(..len)?;
        topics.push(std::str::from_utf8(topic).ok()?.into());
        field = &rest[len..];
    }
    Some(topics)
}

/// A field's bytes, if it is a string.
fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

/// The event an entry holds. An entry this crate did not write (no frame
/// field, a malformed one) is an error, never a panic: anyone may write to
/// a Redis key.
pub(crate) fn event(entry: &StreamId) -> Result<BackplaneEvent, BackplaneError> {
    let foreign = |what: &str| {
        BackplaneError::Protocol(format!(
            "stream entry {} {what}: not written by sse-redis",
            entry.id
        ))
    };
    let id = entry
        .id
        .parse::<GlobalId>()
        .map_err(|error| BackplaneError::Protocol(error.to_string()))?;
    let frame = match entry.map.get(FRAME).map(bytes) {
        Some(Some(frame)) => Bytes::copy_from_slice(frame),
        _ => return Err(foreign(&format!("has no {FRAME:?} field"))),
    };
    let own_id = match entry.map.get(OWN_ID).map(bytes) {
        None => None,
        Some(Some(own)) => Some(
            ByteString::try_from(Bytes::copy_from_slice(own))
                .map_err(|_| foreign("has an own id that is not UTF-8"))?,
        ),
        Some(None) => return Err(foreign("has an own id that is not a string")),
    };
    let topics = match entry.map.get(TOPICS).map(bytes) {
        None => None,
        Some(field) => {
            let topics = field
                .and_then(parse_topics)
                .ok_or_else(|| foreign(&format!("has a malformed {TOPICS:?} field")))?;
            let private = entry.map.contains_key(PRIVATE);
            Some(Arc::new(Topics::new(topics).private(private)))
        }
    };
    Ok(BackplaneEvent {
        id,
        own_id,
        frame,
        topics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_topics_read_back_as_written() {
        let cases: [&[&str]; 4] = [
            &[],
            &["a"],
            &[
                "https://example.com/books/1",
                "",
                "12:x",
                "line\nbreak\0nul",
            ],
            &["é", "日本"],
        ];
        for topics in cases {
            let field = topics_field(&Topics::new(topics.iter().copied()));
            let read = parse_topics(&field).expect("a field it wrote");
            assert_eq!(read.iter().map(|t| &**t).collect::<Vec<_>>(), topics);
        }
        assert_eq!(topics_field(&Topics::new(["ab", "c"])), b"2:ab1:c");
    }

    #[test]
    fn a_malformed_topics_field_is_refused() {
        for bad in [&b"3:ab"[..], b"x:a", b":a", b"1a", b"2:\xff\xfe", b"-1:a"] {
            assert!(parse_topics(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn an_entry_without_topics_is_untagged_and_one_with_them_keeps_the_private_flag() {
        let entry = |fields: &[(&str, &[u8])]| StreamId {
            id: "5-1".to_owned(),
            map: fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), Value::BulkString(value.to_vec())))
                .collect(),
            ..StreamId::default()
        };
        let plain = event(&entry(&[(FRAME, b"data: x\n\n")])).unwrap();
        assert_eq!(plain.topics, None);
        let tagged = event(&entry(&[(FRAME, b"data: x\n\n"), (TOPICS, b"1:a")])).unwrap();
        assert_eq!(tagged.topics.as_deref(), Some(&Topics::new(["a"])));
        let private = event(&entry(&[
            (FRAME, b"data: x\n\n"),
            (TOPICS, b""),
            (PRIVATE, b"1"),
        ]))
        .unwrap();
        let none: [&str; 0] = [];
        assert_eq!(
            private.topics.as_deref(),
            Some(&Topics::new(none).private(true))
        );
        assert!(event(&entry(&[(FRAME, b"data: x\n\n"), (TOPICS, b"9:a")])).is_err());
    }
}
