//! Typed errors of the server API.

use sse_proto::EncodeError;

use std::time::Duration;

use crate::backplane::BackplaneError;
use crate::ids::InvalidId;

/// [`Server::publish`](crate::Server::publish) did not accept the event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// No stream has this name (only [`Server::publish_creating`](crate::Server::publish_creating)
    /// creates one, with auto-stream on).
    #[error("no stream named {stream:?}")]
    UnknownStream {
        /// The stream name given.
        stream: String,
    },
    /// The stream was removed while the event waited for buffer space.
    #[error("stream {stream:?} was removed before the event was accepted")]
    StreamRemoved {
        /// The stream name given.
        stream: String,
    },
    /// [`Server::publish_creating`](crate::Server::publish_creating): the
    /// stream does not exist and auto-stream may not create more.
    #[error(
        "no stream named {stream:?}, and the server already has its limit of {limit} auto-created streams"
    )]
    TooManyStreams {
        /// The stream name given.
        stream: String,
        /// The limit ([`ServerBuilder::max_auto_streams`](crate::ServerBuilder::max_auto_streams)).
        limit: usize,
    },
    /// The server is closed.
    #[error("the server is closed")]
    ServerClosed,
    /// The event's id, type or custom fields cannot be written safely.
    #[error("the event cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// The event's own id is one a client could not resume after; nothing
    /// was published.
    #[error("the event was not published: {0}")]
    InvalidId(#[from] InvalidId),
    /// The event's `retry:` is above the server's
    /// [`max_retry`](crate::ServerBuilder::max_retry): it would keep every
    /// client away that long. Nothing was published.
    #[error("the event's retry of {retry:?} is above the limit of {max:?}")]
    RetryTooLong {
        /// The event's retry.
        retry: Duration,
        /// The limit.
        max: Duration,
    },
    /// The backplane did not take the event (it is unreachable, say); nothing
    /// was published.
    #[error("the event was not published: {0}")]
    Backplane(#[from] BackplaneError),
}

/// [`Server::try_publish`](crate::Server::try_publish) did not accept the event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryPublishError {
    /// The stream's publish buffer is full; the event was dropped.
    #[error(
        "stream {stream:?} has {capacity} events waiting to be fanned out; the event was dropped"
    )]
    Full {
        /// The stream name given.
        stream: String,
        /// The stream's buffer size.
        capacity: usize,
    },
    /// No stream has this name.
    #[error("no stream named {stream:?}")]
    UnknownStream {
        /// The stream name given.
        stream: String,
    },
    /// The stream is being removed.
    #[error("stream {stream:?} was removed")]
    StreamRemoved {
        /// The stream name given.
        stream: String,
    },
    /// The server is closed.
    #[error("the server is closed")]
    ServerClosed,
    /// The event's id, type or custom fields cannot be written safely.
    #[error("the event cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// The event's own id is one a client could not resume after; nothing
    /// was published.
    #[error("the event was not published: {0}")]
    InvalidId(#[from] InvalidId),
    /// The event's `retry:` is above the server's
    /// [`max_retry`](crate::ServerBuilder::max_retry): it would keep every
    /// client away that long. Nothing was published.
    #[error("the event's retry of {retry:?} is above the limit of {max:?}")]
    RetryTooLong {
        /// The event's retry.
        retry: Duration,
        /// The limit.
        max: Duration,
    },
    /// The server publishes through a backplane, which assigns ids only after
    /// a round trip: use [`Server::publish`](crate::Server::publish).
    #[error(
        "stream {stream:?} publishes through a backplane; try_publish cannot wait for its id, use publish"
    )]
    Backplane {
        /// The stream name given.
        stream: String,
    },
}

/// [`Server::subscribe`](crate::Server::subscribe) did not subscribe.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// No stream has this name and auto-stream is off.
    #[error("no stream named {stream:?}")]
    UnknownStream {
        /// The stream name given.
        stream: String,
    },
    /// The stream already has as many subscribers as it accepts.
    #[error("stream {stream:?} already has its limit of {limit} subscribers")]
    TooManySubscribers {
        /// The stream name given.
        stream: String,
        /// The limit.
        limit: usize,
    },
    /// The stream does not exist and auto-stream may not create more.
    #[error(
        "no stream named {stream:?}, and the server already has its limit of {limit} auto-created streams"
    )]
    TooManyStreams {
        /// The stream name given.
        stream: String,
        /// The limit ([`ServerBuilder::max_auto_streams`](crate::ServerBuilder::max_auto_streams)).
        limit: usize,
    },
    /// The stream was removed while the subscription was being set up.
    #[error("stream {stream:?} was removed")]
    StreamRemoved {
        /// The stream name given.
        stream: String,
    },
    /// The server is closed.
    #[error("the server is closed")]
    ServerClosed,
}

/// The server is closed: it creates nothing any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the server is closed")]
pub struct ServerClosed;

/// A server cannot be built here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Actors need a running actix `System` on the calling thread.
    #[error(
        "no actix System is running on this thread; build the server inside one (e.g. within #[actix::main] or actix_rt::System::new().block_on)"
    )]
    NoSystem,
}
