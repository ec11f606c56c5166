//! The rule every stream name obeys, wherever it comes from.

use crate::server::SseError;

/// Characters allowed in a stream name besides ASCII letters and digits:
/// the URI "unreserved" set, so a name never needs percent-encoding in a
/// query string or a path segment and is safe to print in logs.
pub const STREAM_NAME_PUNCTUATION: &str = "-_.~";

/// The default maximum stream name length, in bytes.
pub const DEFAULT_MAX_STREAM_NAME_LEN: usize = 128;

/// Checks `name` against the stream name rule: 1 to `max_len` bytes of ASCII
/// letters, digits and [`STREAM_NAME_PUNCTUATION`].
///
/// ```
/// use sse_actix::server::validate_stream_name;
///
/// assert!(validate_stream_name("news.eu-west_1", 128).is_ok());
/// assert!(validate_stream_name("a b", 128).is_err());
/// assert!(validate_stream_name(&"x".repeat(129), 128).is_err());
/// ```
pub fn validate_stream_name(name: &str, max_len: usize) -> Result<(), SseError> {
    let reason = if name.is_empty() {
        "it is empty".to_owned()
    } else if name.len() > max_len {
        format!("it is {} bytes long, the limit is {max_len}", name.len())
    } else if let Some(bad) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !STREAM_NAME_PUNCTUATION.contains(*c))
    {
        format!(
            "character {bad:?} is not allowed (use ASCII letters, digits and {STREAM_NAME_PUNCTUATION})"
        )
    } else {
        return Ok(());
    };
    Err(SseError::InvalidStreamName {
        name: shorten(name),
        reason,
    })
}

/// Error messages quote the name; a 1 MiB name must not become a 1 MiB body.
fn shorten(name: &str) -> String {
    const SHOWN: usize = 64;
    match name.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_owned(),
    }
}
