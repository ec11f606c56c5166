//! Errors of the hub's HTTP API, answered as JSON.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};

use sse_actix::SseError;

/// A hub API request that failed. The body is `{"error": "<message>"}`
/// with the status code of the variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The request addressed a stream badly, or the stream is missing: the
    /// handler's own status (400, 404, 503).
    #[error(transparent)]
    Stream(#[from] SseError),
    /// No token, a wrong one, or an invalid or expired JWT: 401.
    #[error(
        "unauthorized: {action} requires a valid token (`Authorization: Bearer <token>`): {reason}"
    )]
    Unauthorized {
        /// What was refused (`"subscribing"`, say).
        action: &'static str,
        /// Why.
        reason: Refusal,
    },
    /// A valid JWT whose claims do not cover the stream: 403.
    #[error("forbidden: the token does not allow {action} to stream {stream:?}")]
    Forbidden {
        /// What was refused.
        action: &'static str,
        /// The stream the claims do not cover.
        stream: String,
    },
    /// A valid JWT whose `mercure` claims do not cover a topic: 403.
    #[error("forbidden: the token does not allow {action} to topic {topic:?}")]
    ForbiddenTopic {
        /// What was refused.
        action: &'static str,
        /// The topic the claims do not cover.
        topic: String,
    },
    /// A Mercure request the protocol does not allow (no topic, say): 400.
    #[error("invalid Mercure request: {0}")]
    Mercure(String),
    /// The publish body exceeds the limit: 413.
    #[error("request body too large: the limit is {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// The request body could not be read (the client went away, or sent a
    /// malformed chunked body): 400.
    #[error("cannot read request body: {0}")]
    Payload(String),
    /// A plain-text body that is not UTF-8: 400.
    #[error(
        "request body is not valid UTF-8 (event data is text; send binary data base64-encoded)"
    )]
    NotUtf8,
    /// A JSON body that does not parse as an event: 400.
    #[error(
        "invalid JSON event: {0} (expected {{\"data\": string, \"event\"?: string, \"id\"?: string, \"retry\"?: milliseconds}})"
    )]
    InvalidJson(String),
    /// The event cannot be sent as given (an ID with a line break, say): 400.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// The stream does not exist: 404.
    #[error("unknown stream {0:?}")]
    UnknownStream(String),
    /// No open Mercure subscription at this URL (or not a listing's URL).
    #[error("no active Mercure subscription at {0:?}")]
    UnknownSubscription(String),
    /// Publishing would create a stream past the auto-stream limit: 503.
    #[error(
        "too many streams: {0:?} does not exist and the limit of {1} auto-created streams is reached"
    )]
    TooManyStreams(String, usize),
    /// The server is shutting down: 503.
    #[error("the event server is shutting down")]
    Closed,
    /// The cluster's backplane (Redis) cannot take the event now: 503, the
    /// event was not published and may be retried.
    #[error("the event was not published: {0}")]
    Backplane(String),
    /// The cluster's list of active Mercure subscriptions (in Redis)
    /// cannot be read now: 503, may be retried.
    #[error("the cluster's active subscriptions cannot be read: {0}")]
    Subscriptions(String),
    /// The event server failed: 500.
    #[error("event server error: {0}")]
    Internal(String),
}

/// Why a request's token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The request carries no token.
    #[error("no token was given")]
    NoToken,
    /// The token is not the configured one (and no JWT key is set).
    #[error("the token is wrong")]
    WrongToken,
    /// The token is not a JWT the hub accepts: the reason (expired, bad
    /// signature, another algorithm, malformed claims).
    #[error("{0}")]
    Jwt(String),
}

impl ResponseError for HubError {
    fn status_code(&self) -> StatusCode {
        match self {
            HubError::Stream(error) => error.status_code(),
            HubError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            HubError::Forbidden { .. } | HubError::ForbiddenTopic { .. } => StatusCode::FORBIDDEN,
            HubError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            HubError::Payload(_)
            | HubError::NotUtf8
            | HubError::InvalidJson(_)
            | HubError::InvalidEvent(_)
            | HubError::Mercure(_) => StatusCode::BAD_REQUEST,
            HubError::UnknownStream(_) | HubError::UnknownSubscription(_) => StatusCode::NOT_FOUND,
            HubError::TooManyStreams(..)
            | HubError::Closed
            | HubError::Backplane(_)
            | HubError::Subscriptions(_) => StatusCode::SERVICE_UNAVAILABLE,
            HubError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        // RFC 6750's challenges, so clients can tell "log in" from "renew".
        let challenge = match self {
            HubError::Unauthorized {
                reason: Refusal::NoToken,
                ..
            } => Some("Bearer"),
            HubError::Unauthorized { .. } => Some("Bearer error=\"invalid_token\""),
            HubError::Forbidden { .. } | HubError::ForbiddenTopic { .. } => {
                Some("Bearer error=\"insufficient_scope\"")
            }
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        response.json(serde_json::json!({ "error": self.to_string() }))
    }
}
