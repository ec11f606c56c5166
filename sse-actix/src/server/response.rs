//! The event-stream response head, shared by the actor-backed handler and
//! the per-request responder.

use actix_web::HttpResponseBuilder;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};

/// `X-Accel-Buffering`, which tells nginx-style proxies not to buffer.
pub const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The headers every event stream carries; see [`event_stream_head`].
pub(crate) const EVENT_STREAM_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    ),
    (
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    ),
    (X_ACCEL_BUFFERING, HeaderValue::from_static("no")),
    (
        header::CONTENT_ENCODING,
        HeaderValue::from_static("identity"),
    ),
];

/// A `200 OK` builder carrying the headers every event stream needs,
/// followed by `extra` (so a deliberate override wins):
///
/// - `Content-Type: text/event-stream`;
/// - `Cache-Control: no-cache, no-transform`, so nothing caches a live
///   stream, and proxies that transform bodies (compressing ones: Traefik,
///   Caddy) leave it alone instead of buffering it;
/// - `X-Accel-Buffering: no`, so nginx-style reverse proxies pass events at
///   once;
/// - `Content-Encoding: identity`, so actix-web's `Compress` middleware
///   leaves the body alone instead of holding events until its buffer fills.
///
/// [`SseResponse`](crate::responder::SseResponse) sends the same headers.
pub fn event_stream_head<'h>(
    extra: impl IntoIterator<Item = &'h (HeaderName, HeaderValue)>,
) -> HttpResponseBuilder {
    let mut builder = HttpResponseBuilder::new(StatusCode::OK);
    for header in EVENT_STREAM_HEADERS {
        builder.insert_header(header);
    }
    for (name, value) in extra {
        builder.insert_header((name.clone(), value.clone()));
    }
    builder
}
