//! Why a subscription request was refused, and the HTTP answer for each case.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

/// A subscription request that cannot become an event stream.
///
/// Each variant maps to one status code and a one-line plain-text body that
/// says what was wrong, so a person reading `curl -i` output or a client's
/// error log knows what to fix. Client mistakes are 4xx; capacity and
/// shutdown are 503 so clients and load balancers retry elsewhere or later.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// The request names no stream: 400.
    #[error("missing stream name: pass it as the `{param}` query parameter")]
    MissingStream {
        /// Where the name was expected (query parameter or path segment).
        param: String,
    },
    /// The stream name is empty, too long or has characters outside the
    /// allowed set: 400.
    #[error("invalid stream name {name:?}: {reason}")]
    InvalidStreamName {
        /// The rejected name (lossily decoded, cut to a readable length).
        name: String,
        /// Which rule it broke.
        reason: String,
    },
    /// The request names more streams than one connection may serve
    /// ([`SseConfig::max_streams_per_connection`](crate::server::SseConfig::max_streams_per_connection)): 400.
    #[error("too many streams in one request: {named} named, at most {limit} per connection")]
    TooManyStreamsInRequest {
        /// Streams the request named.
        named: usize,
        /// The handler's limit.
        limit: usize,
    },
    /// The request names a stream twice: 400 (each stream's place in the
    /// request is part of the events' ids, so a repeat is not a shorthand).
    #[error("stream {name:?} is named more than once")]
    DuplicateStream {
        /// The repeated name.
        name: String,
    },
    /// The query string or a header cannot be understood: 400.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The stream does not exist and streams are not created on demand: 404.
    #[error("unknown stream {name:?}")]
    UnknownStream {
        /// The requested stream.
        name: String,
    },
    /// The handler already serves its configured maximum of connections: 503.
    #[error("too many connections: the limit of {limit} open event streams is reached")]
    TooManyConnections {
        /// The configured limit.
        limit: usize,
    },
    /// The stream already has its configured maximum of subscribers: 503.
    #[error("too many subscribers on stream {name:?}: the limit is reached")]
    TooManySubscribers {
        /// The stream.
        name: String,
    },
    /// The stream does not exist and the server already has as many
    /// auto-created streams as it allows: 503.
    #[error(
        "too many streams: {name:?} does not exist and the limit of {limit} auto-created streams is reached"
    )]
    TooManyStreams {
        /// The requested stream.
        name: String,
        /// The server's limit.
        limit: usize,
    },
    /// The authorization check refused the request: 401.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The server is shutting down or was closed: 503.
    #[error("the event server is shutting down")]
    Closed,
    /// The event server failed in a way the request cannot fix: 500.
    #[error("event server error: {0}")]
    Internal(String),
}

impl ResponseError for SseError {
    fn status_code(&self) -> StatusCode {
        match self {
            SseError::MissingStream { .. }
            | SseError::InvalidStreamName { .. }
            | SseError::TooManyStreamsInRequest { .. }
            | SseError::DuplicateStream { .. }
            | SseError::BadRequest(_) => StatusCode::BAD_REQUEST,
            SseError::UnknownStream { .. } => StatusCode::NOT_FOUND,
            SseError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            SseError::TooManyConnections { .. }
            | SseError::TooManySubscribers { .. }
            | SseError::TooManyStreams { .. }
            | SseError::Closed => StatusCode::SERVICE_UNAVAILABLE,
            SseError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if matches!(self, SseError::Unauthorized(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if matches!(
            self,
            SseError::TooManyConnections { .. }
                | SseError::TooManySubscribers { .. }
                | SseError::TooManyStreams { .. }
                | SseError::Closed
        ) {
            // EventSource gives up on any non-200 answer; other clients and
            // proxies honour this hint.
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.body(format!("{self}\n"))
    }
}
