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
