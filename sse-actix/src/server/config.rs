//! How the handler reads requests and shapes responses.

use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};

use crate::server::request::LAST_EVENT_ID_PARAM;
use crate::server::stream_name::DEFAULT_MAX_STREAM_NAME_LEN;

/// Where a request names its stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamSource {
    /// A query parameter, `?stream=NAME` by default (r3labs style).
    Query(String),
    /// A path segment captured by the route pattern, e.g. `{stream}` in
    /// `/events/{stream}`.
    Path(String),
}

impl StreamSource {
    /// The parameter or segment name, for error messages.
    pub fn name(&self) -> &str {
        match self {
            StreamSource::Query(name) | StreamSource::Path(name) => name,
        }
    }
}

/// The handler's settings. Build it through the methods of
/// [`Sse`](crate::server::Sse); every limit is listed here with its default.
#[derive(Clone, Debug)]
pub struct SseConfig {
    /// Where the stream name comes from. Default: query parameter `stream`.
    pub stream_source: StreamSource,
    /// The query parameter accepted as a fallback for the `Last-Event-ID`
    /// header, for EventSource polyfills that cannot set headers. Default
    /// `lastEventId`; `None` disables it.
    pub last_event_id_param: Option<String>,
    /// Longest accepted stream name, in bytes. Default 128.
    pub max_stream_name_len: usize,
    /// Most streams one request may name by repeating the stream query
    /// parameter (`?stream=a&stream=b`), all served on one response whose
    /// event ids resume every one of them. Default 1: a repeated parameter
    /// is a 400, as for any parameter given twice. Values below 1 count as 1.
    pub max_streams_per_connection: usize,
    /// Most event streams this handler serves at once, over every stream;
    /// one more is answered 503. Default: no limit.
    pub max_connections: Option<usize>,
    /// A `retry:` value sent first on every response, telling clients how
    /// long to wait before reconnecting. Default: none (clients use their
    /// own default, 3 s in browsers).
    pub retry: Option<Duration>,
    /// Headers added to every event-stream response after the protocol's
    /// own, so a deliberate override (say, of `Cache-Control`) wins.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Default for SseConfig {
    fn default() -> Self {
        SseConfig {
            stream_source: StreamSource::Query("stream".to_owned()),
            last_event_id_param: Some(LAST_EVENT_ID_PARAM.to_owned()),
            max_stream_name_len: DEFAULT_MAX_STREAM_NAME_LEN,
            max_streams_per_connection: 1,
            max_connections: None,
            retry: None,
            headers: Vec::new(),
        }
    }
}
