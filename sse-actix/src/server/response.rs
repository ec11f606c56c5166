//! The event-stream response head.

use actix_web::HttpResponseBuilder;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};

/// `X-Accel-Buffering`, which tells nginx-style proxies not to buffer.
pub const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// A `200 OK` builder carrying the headers every event stream needs,
/// followed by `extra` (so a deliberate override wins):
///
/// - `Content-Type: text/event-stream`;
/// - `Cache-Control: no-cache`, so nothing caches a live stream;
/// - `X-Accel-Buffering: no`, so reverse proxies pass events at once;
/// - `Content-Encoding: identity`, so actix-web's `Compress` middleware
///   leaves the body alone instead of holding events until its buffer fills.
pub fn event_stream_head<'h>(
    extra: impl IntoIterator<Item = &'h (HeaderName, HeaderValue)>,
) -> HttpResponseBuilder {
    let mut builder = HttpResponseBuilder::new(StatusCode::OK);
    builder
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((X_ACCEL_BUFFERING, HeaderValue::from_static("no")))
        .insert_header((
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        ));
    for (name, value) in extra {
        builder.insert_header((name.clone(), value.clone()));
    }
    builder
}
