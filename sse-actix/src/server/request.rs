//! Reading a subscription request: which stream, and where to resume.

use std::borrow::Cow;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;

use crate::server::SseError;
use crate::server::config::{SseConfig, StreamSource};
use crate::server::stream_name::validate_stream_name;

/// The `Last-Event-ID` request header.
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// The query parameter read when no `Last-Event-ID` header is sent, unless
/// configured otherwise: EventSource polyfills cannot set headers.
pub const LAST_EVENT_ID_PARAM: &str = "lastEventId";

/// What a subscription request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeParams {
    /// The validated stream names, in request order: one, unless the
    /// handler serves several on one connection
    /// ([`SseConfig::max_streams_per_connection`]).
    pub streams: Vec<String>,
    /// Where to resume: the `Last-Event-ID` header, else the configured
    /// query parameter; `None` when neither is given or it is empty.
    pub last_event_id: Option<String>,
}

/// Reads the stream names and the last event ID from `req`.
pub fn subscribe_params(
    req: &HttpRequest,
    config: &SseConfig,
) -> Result<SubscribeParams, SseError> {
    let query = QueryParams::parse(req.query_string());
    let streams = stream_names_in(req, &query, config)?;
    let last_event_id = last_event_id(req, &query, config.last_event_id_param.as_deref())?;
    Ok(SubscribeParams {
        streams,
        last_event_id,
    })
}

/// Where `req` asks to resume: the `Last-Event-ID` header, else the query
/// parameter `param`; `None` when neither is given or it is empty.
pub(crate) fn last_event_id(
    req: &HttpRequest,
    query: &QueryParams<'_>,
    param: Option<&str>,
) -> Result<Option<String>, SseError> {
    let header = req
        .headers()
        .get(LAST_EVENT_ID)
        // IDs are opaque UTF-8 strings that browsers send back as UTF-8
        // bytes; anything else cannot match a known ID, and an unknown ID
        // means "replay what the log holds", so decode lossily, never fail.
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let id = match (header, param) {
        (Some(id), _) => Some(id),
        (None, Some(param)) => query.single(param)?.map(Cow::into_owned),
        (None, None) => None,
    };
    Ok(id.filter(|id| !id.is_empty()))
}

/// Reads and validates the stream name `req` addresses, as configured: the
/// subscribe handler and any other endpoint about one stream (a publish
/// API, say) then agree on names. A name given twice is a
/// [`SseError::BadRequest`].
pub fn stream_name(req: &HttpRequest, config: &SseConfig) -> Result<String, SseError> {
    let query = QueryParams::parse(req.query_string());
    let stream = match &config.stream_source {
        StreamSource::Query(param) => query.single(param)?.map(Cow::into_owned),
        StreamSource::Path(segment) => req.match_info().get(segment).map(str::to_owned),
    };
    let stream = stream.ok_or_else(|| SseError::MissingStream {
        param: config.stream_source.name().to_owned(),
    })?;
    validate_stream_name(&stream, config.max_stream_name_len)?;
    Ok(stream)
}

/// Reads and validates the stream names a subscribe request addresses, in
/// request order: a repeated query parameter names several streams, up to
/// [`SseConfig::max_streams_per_connection`] (a path segment names one).
/// More than that, or one name twice, is a 400.
///
/// ```
/// use actix_web::test::TestRequest;
/// use sse_actix::server::{SseConfig, stream_names};
///
/// let config = SseConfig { max_streams_per_connection: 8, ..SseConfig::default() };
/// let req = TestRequest::get().uri("/events?stream=a&stream=b").to_http_request();
/// assert_eq!(stream_names(&req, &config).unwrap(), ["a", "b"]);
/// assert!(stream_names(&req, &SseConfig::default()).is_err(), "one stream by default");
/// ```
pub fn stream_names(req: &HttpRequest, config: &SseConfig) -> Result<Vec<String>, SseError> {
    stream_names_in(req, &QueryParams::parse(req.query_string()), config)
}

fn stream_names_in(
    req: &HttpRequest,
    query: &QueryParams<'_>,
    config: &SseConfig,
) -> Result<Vec<String>, SseError> {
    let param = match &config.stream_source {
        StreamSource::Query(param) if config.max_streams_per_connection > 1 => param,
        _ => return Ok(vec![stream_name(req, config)?]),
    };
    let names: Vec<String> = query.all(param).map(Cow::into_owned).collect();
    let limit = config.max_streams_per_connection;
    if names.is_empty() {
        return Err(SseError::MissingStream {
            param: param.clone(),
        });
    }
    if names.len() > limit {
        return Err(SseError::TooManyStreamsInRequest {
            named: names.len(),
            limit,
        });
    }
    for (at, name) in names.iter().enumerate() {
        validate_stream_name(name, config.max_stream_name_len)?;
        if names[..at].contains(name) {
            return Err(SseError::DuplicateStream { name: name.clone() });
        }
    }
    Ok(names)
}

/// The value of the query parameter `name` of `req`, percent-decoded
/// (lossily: invalid UTF-8 becomes U+FFFD). A parameter given more than once
/// is a [`SseError::BadRequest`]: which value the client meant is a guess.
///
/// ```
/// use actix_web::test::TestRequest;
///
/// let req = TestRequest::get().uri("/events?token=a%20b").to_http_request();
/// assert_eq!(sse_actix::server::query_param(&req, "token").unwrap().as_deref(), Some("a b"));
/// ```
pub fn query_param(req: &HttpRequest, name: &str) -> Result<Option<String>, SseError> {
    Ok(QueryParams::parse(req.query_string())
        .single(name)?
        .map(Cow::into_owned))
}

/// A decoded query string. Percent-decoding is lossy (invalid UTF-8 becomes
/// U+FFFD), so a malformed query never fails here; the values it yields then
/// fail validation with a message naming the parameter.
pub(crate) struct QueryParams<'q> {
    pairs: Vec<(Cow<'q, str>, Cow<'q, str>)>,
}

impl<'q> QueryParams<'q> {
    pub(crate) fn parse(query: &'q str) -> Self {
        QueryParams {
            pairs: form_urlencoded::parse(query.as_bytes()).collect(),
        }
    }

    /// Every value of `name`, in order.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Cow<'q, str>> + 'a {
        self.pairs
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    /// The value of `name`, refusing a parameter given twice: which one a
    /// client meant is a guess, and guessing the stream is a security smell.
    pub(crate) fn single(&self, name: &str) -> Result<Option<Cow<'q, str>>, SseError> {
        let mut values = self.pairs.iter().filter(|(key, _)| key == name);
        let first = values.next().map(|(_, value)| value.clone());
        if values.next().is_some() {
            return Err(SseError::BadRequest(format!(
                "query parameter `{name}` is given more than once"
            )));
        }
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn params(uri: &str, last_event_id: Option<&str>) -> Result<SubscribeParams, SseError> {
        let mut req = TestRequest::get().uri(uri);
        if let Some(id) = last_event_id {
            req = req.insert_header((LAST_EVENT_ID, id));
        }
        subscribe_params(&req.to_http_request(), &SseConfig::default())
    }

    #[test]
    fn reads_stream_and_resume_point() {
        let got = params("/events?stream=news&lastEventId=7", None).unwrap();
        assert_eq!(
            (&got.streams[..], got.last_event_id.as_deref()),
            (&["news".to_owned()][..], Some("7"))
        );
        let got = params("/events?stream=news&lastEventId=7", Some("9")).unwrap();
        assert_eq!(got.last_event_id.as_deref(), Some("9"), "the header wins");
        let got = params("/events?stream=news", Some("")).unwrap();
        assert_eq!(got.last_event_id, None, "an empty ID means start fresh");
        let got = params("/events?stream=n%65ws", None).unwrap();
        assert_eq!(got.streams, ["news"], "percent-decoded");
    }

    fn many(uri: &str, max: usize) -> Result<Vec<String>, SseError> {
        let config = SseConfig {
            max_streams_per_connection: max,
            ..SseConfig::default()
        };
        let req = TestRequest::get().uri(uri).to_http_request();
        subscribe_params(&req, &config).map(|params| params.streams)
    }

    #[test]
    fn reads_several_streams_in_order_up_to_the_limit() {
        assert_eq!(
            many("/events?stream=b&x=1&stream=a&stream=c", 3).unwrap(),
            ["b", "a", "c"]
        );
        assert_eq!(
            many("/events?stream=a&stream=b&stream=c", 2),
            Err(SseError::TooManyStreamsInRequest { named: 3, limit: 2 })
        );
        assert_eq!(
            many("/events?stream=a&stream=b&stream=a", 8),
            Err(SseError::DuplicateStream {
                name: "a".to_owned()
            })
        );
        assert!(matches!(
            many("/events?stream=a&stream=b%20c", 8),
            Err(SseError::InvalidStreamName { .. })
        ));
        assert!(matches!(
            many("/events", 8),
            Err(SseError::MissingStream { .. })
        ));
        assert_eq!(
            many("/events?stream=a&stream=b", 1),
            Err(SseError::BadRequest(
                "query parameter `stream` is given more than once".to_owned()
            )),
            "one stream unless the handler allows more"
        );
    }

    #[test]
    fn refuses_what_it_cannot_understand() {
        assert!(matches!(
            params("/events", None),
            Err(SseError::MissingStream { .. })
        ));
        assert!(matches!(
            params("/events?stream=a&stream=a", None),
            Err(SseError::BadRequest(_))
        ));
        assert!(matches!(
            params("/events?stream=%FF", None),
            Err(SseError::InvalidStreamName { .. })
        ));
        assert!(matches!(
            params("/events?stream=a&lastEventId=1&lastEventId=2", None),
            Err(SseError::BadRequest(_))
        ));
    }
}
