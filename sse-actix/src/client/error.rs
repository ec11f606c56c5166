//! Why a connection was lost, refused or given up on.

use std::time::Duration;

use awc::http::StatusCode;

/// An error reported by the client.
///
/// Most errors are *transient*: the connection was lost or refused and the
/// client reconnects after a delay. A stream of events yields them as `Err` items and goes on. It ends (yields `None`)
/// right after an error that stops the client (an invalid request; a
/// refused certificate; an unacceptable response the
/// [`HttpErrorPolicy`](super::HttpErrorPolicy) does not retry; any loss the
/// [`ReconnectPolicy`](super::ReconnectPolicy) does not reconnect after; any
/// error once the [`ReconnectStrategy`](super::ReconnectStrategy) gives up),
/// or without an error when the server answered `204 No Content` or, under
/// [`ReconnectPolicy::UntilAccepted`](super::ReconnectPolicy::UntilAccepted),
/// ended the response; then
/// [`EventStream::stop_reason`](super::EventStream::stop_reason) tells which.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be built (bad URL, header name or value, TLS
    /// settings). Fatal: no connection is attempted.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A TLS certificate was refused: the server's, by this client (an
    /// unknown issuer, a name it is not valid for, expired…), or the
    /// client's, by the server. Fatal: retrying cannot fix it; see
    /// [`TlsConfig`](super::TlsConfig) to trust a private CA or present a
    /// client certificate.
    #[error("TLS certificate refused: {0}")]
    Certificate(String),
    /// Connecting or sending the request failed, or no response head arrived
    /// within the response timeout.
    #[error("connecting to the event source failed: {0}")]
    Connect(String),
    /// The server answered with a status other than 2xx.
    #[error("the event source answered HTTP {status}, expected 200{}", status_hint(.status))]
    Status {
        /// The status received.
        status: StatusCode,
        /// The delay its `Retry-After` header asked for, if any.
        retry_after: Option<Duration>,
    },
    /// The response's `Content-Type` is not `text/event-stream`.
    #[error(
        "the event source answered with Content-Type {content_type:?}, expected text/event-stream"
    )]
    ContentType {
        /// The content type received (`None` when the header is absent).
        content_type: Option<String>,
    },
    /// The server sent an HTTP/1.1 body delimited by closing the connection
    /// (neither `Content-Length` nor `Transfer-Encoding`), which awc cannot
    /// read: it sees an empty body (actix/actix-web#2287). Reported instead
    /// of reconnecting forever to an apparently empty stream; put a proxy
    /// that re-chunks (e.g. nginx `proxy_pass`) in front of such a server.
    #[error(
        "the event source sent a close-delimited HTTP/1.1 body (no Content-Length, no Transfer-Encoding), which awc cannot read"
    )]
    CloseDelimitedBody,
    /// The user's response validator rejected the response.
    #[error("the response validator rejected the response: {0}")]
    Rejected(String),
    /// Reading the response body failed (connection reset, bad chunking…).
    #[error("reading the event stream failed: {0}")]
    Body(String),
    /// No byte arrived for the configured idle timeout.
    #[error("no data received for {0:?}: the connection is presumed dead")]
    IdleTimeout(Duration),
    /// The server ended the response normally. Event streams are meant to be
    /// endless, so the client reconnects (under
    /// [`ReconnectPolicy::Always`](super::ReconnectPolicy::Always)).
    #[error("the server closed the event stream")]
    StreamEnded,
    /// An event broke a limit or could not be decoded; it was discarded and
    /// the connection goes on.
    #[error(transparent)]
    Decode(#[from] sse_proto::DecodeError),
}

impl Error {
    /// Whether this error comes from an unacceptable response (status,
    /// content type or validator), the errors subject to the
    /// [`HttpErrorPolicy`](super::HttpErrorPolicy).
    pub fn is_http_error(&self) -> bool {
        matches!(
            self,
            Error::Status { .. }
                | Error::ContentType { .. }
                | Error::CloseDelimitedBody
                | Error::Rejected(_)
        )
    }

    /// Whether this error ended a connection (or a connection attempt), as
    /// opposed to a discarded event on a live connection.
    pub fn is_disconnect(&self) -> bool {
        !matches!(self, Error::Decode(_))
    }
}

/// Why retrying a refused status will not help, when it will not.
fn status_hint(status: &StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 403 => " (check the credentials: retrying will not help)",
        404 | 410 => " (no such event stream: retrying will not help)",
        _ => "",
    }
}
