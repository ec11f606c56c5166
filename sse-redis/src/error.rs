//! Typed errors of the Redis backplane.

use sse_actors::BackplaneError;

/// A [`RedisBackplane`](crate::RedisBackplane) cannot be set up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a Redis URL (`redis://host:port/db`).
    #[error("invalid Redis URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// One key prefix starts with the other, so a stream's key could be
    /// another stream's id map.
    #[error(
        "the key prefixes {key_prefix:?} and {ids_key_prefix:?} overlap: neither may start with the other"
    )]
    OverlappingPrefixes {
        /// [`RedisOptions::key_prefix`](crate::RedisOptions::key_prefix).
        key_prefix: String,
        /// [`RedisOptions::ids_key_prefix`](crate::RedisOptions::ids_key_prefix).
        ids_key_prefix: String,
    },
}

/// A Redis failure as the seam reports it: unreachable Redis (refused,
/// dropped, timed out) may pass; anything else is an unexpected answer.
pub(crate) fn unavailable(error: redis::RedisError) -> BackplaneError {
    if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
    {
        BackplaneError::Unavailable(format!("Redis: {error}"))
    } else {
        BackplaneError::Protocol(format!("Redis: {error}"))
    }
}
