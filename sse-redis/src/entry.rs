//! How an event is stored in a Redis stream entry, and read back.

use bytes::Bytes;
use bytestring::ByteString;
use redis::Value;
use redis::streams::StreamId;
use sse_actors::{BackplaneError, BackplaneEvent, GlobalId};

/// The field holding the encoded event (without an `id:` line); the Lua
/// scripts in `scripts/` name both fields too.
pub(crate) const FRAME: &str = "f";
/// The field holding the publisher's own event id, when it gave one.
pub(crate) const OWN_ID: &str = "u";

/// The event an entry holds. An entry this crate did not write (no frame
/// field) is an error, never a panic: anyone may write to a Redis key.
pub(crate) fn event(entry: &StreamId) -> Result<BackplaneEvent, BackplaneError> {
    let id = entry
        .id
        .parse::<GlobalId>()
        .map_err(|error| BackplaneError::Protocol(error.to_string()))?;
    let frame = match entry.map.get(FRAME) {
        Some(Value::BulkString(bytes)) => Bytes::copy_from_slice(bytes),
        Some(Value::SimpleString(text)) => Bytes::copy_from_slice(text.as_bytes()),
        _ => {
            return Err(BackplaneError::Protocol(format!(
                "stream entry {} has no {FRAME:?} field: not written by sse-redis",
                entry.id
            )));
        }
    };
    let own_id = match entry.map.get(OWN_ID) {
        None => None,
        Some(Value::BulkString(bytes)) => Some(
            ByteString::try_from(Bytes::copy_from_slice(bytes)).map_err(|_| {
                BackplaneError::Protocol(format!(
                    "stream entry {} has an own id that is not UTF-8",
                    entry.id
                ))
            })?,
        ),
        Some(Value::SimpleString(text)) => Some(ByteString::from(text.as_str())),
        Some(_) => {
            return Err(BackplaneError::Protocol(format!(
                "stream entry {} has an own id that is not a string",
                entry.id
            )));
        }
    };
    Ok(BackplaneEvent { id, own_id, frame })
}
