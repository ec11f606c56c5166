//! Extractors for handlers that serve event streams.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::server::SseError;
use crate::server::request::{LAST_EVENT_ID_PARAM, QueryParams, last_event_id};

/// Where a reconnecting client asks to resume: the `Last-Event-ID` header
/// (what `EventSource` sends), else a query parameter (`lastEventId` by
/// default, for polyfills that cannot set headers; see
/// [`LastEventIdConfig`]). `None` when neither is given or it is empty. A
/// header that is not UTF-8 is decoded lossily: an ID that matches nothing
/// you sent is yours to treat as "start over".
///
/// ```no_run
/// use actix_web::{Responder, get};
/// use futures_util::stream;
/// use sse_actix::extract::LastEventId;
/// use sse_actix::{Event, SseResponse};
///
/// #[get("/feed")]
/// async fn feed(LastEventId(resume): LastEventId) -> impl Responder {
///     let first: u64 = resume.and_then(|id| id.parse().ok()).map_or(1, |id: u64| id + 1);
///     let events = (first..first + 10).map(|i| Event::data(format!("item {i}")).id(i.to_string()));
///     SseResponse::from_stream(stream::iter(events))
/// }
/// ```
///
/// The query parameter given twice is a `400` ([`SseError::BadRequest`]):
/// which one the client meant is a guess.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl LastEventId {
    /// The ID, if the client sent a non-empty one.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The ID, if the client sent a non-empty one.
    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

impl FromRequest for LastEventId {
    type Error = SseError;
    type Future = Ready<Result<Self, SseError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let param = match LastEventIdConfig::of(req) {
            Some(config) => config.query_param.as_deref(),
            None => Some(LAST_EVENT_ID_PARAM),
        };
        let query = QueryParams::parse(req.query_string());
        ready(last_event_id(req, &query, param).map(LastEventId))
    }
}

/// How [`LastEventId`] reads a request, set for an app or a scope with
/// `app_data` (like actix-web's `JsonConfig`):
///
/// ```
/// use actix_web::App;
/// use sse_actix::extract::LastEventIdConfig;
///
/// let app = App::new().app_data(LastEventIdConfig::default().query_param(Some("resume".into())));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastEventIdConfig {
    query_param: Option<String>,
}

impl Default for LastEventIdConfig {
    /// The header, else the `lastEventId` query parameter.
    fn default() -> Self {
        LastEventIdConfig {
            query_param: Some(LAST_EVENT_ID_PARAM.to_owned()),
        }
    }
}

impl LastEventIdConfig {
    /// The query parameter read when no `Last-Event-ID` header is sent
    /// (default `lastEventId`); `None` reads the header only.
    #[must_use]
    pub fn query_param(mut self, name: Option<String>) -> Self {
        self.query_param = name;
        self
    }

    /// The configuration in the request's app data, either as it is or
    /// wrapped in `web::Data`.
    fn of(req: &HttpRequest) -> Option<&LastEventIdConfig> {
        req.app_data::<LastEventIdConfig>().or_else(|| {
            req.app_data::<web::Data<LastEventIdConfig>>()
                .map(|data| data.get_ref())
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::server::LAST_EVENT_ID;

    async fn extract(req: TestRequest) -> Result<LastEventId, SseError> {
        let (req, mut payload) = req.to_http_parts();
        LastEventId::from_request(&req, &mut payload).await
    }

    fn id(value: &str) -> LastEventId {
        LastEventId(Some(value.to_owned()))
    }

    #[actix_web::test]
    async fn header_wins_over_the_query_parameter() {
        let req = TestRequest::get()
            .uri("/feed?lastEventId=7")
            .insert_header((LAST_EVENT_ID, "9"));
        assert_eq!(extract(req).await, Ok(id("9")));
    }

    #[actix_web::test]
    async fn default_query_parameter_is_read_without_a_header() {
        let req = TestRequest::get().uri("/feed?lastEventId=a%20b");
        assert_eq!(extract(req).await, Ok(id("a b")));
        let req = TestRequest::get().uri("/feed");
        assert_eq!(extract(req).await, Ok(LastEventId(None)));
    }

    #[actix_web::test]
    async fn empty_id_means_start_fresh() {
        let req = TestRequest::get().insert_header((LAST_EVENT_ID, ""));
        assert_eq!(extract(req).await, Ok(LastEventId(None)));
        let req = TestRequest::get().uri("/feed?lastEventId=");
        assert_eq!(extract(req).await, Ok(LastEventId(None)));
    }

    #[actix_web::test]
    async fn configured_query_parameter_replaces_the_default() {
        let config = LastEventIdConfig::default().query_param(Some("resume".into()));
        let req = TestRequest::get()
            .uri("/feed?resume=3&lastEventId=7")
            .app_data(config.clone());
        assert_eq!(extract(req).await, Ok(id("3")));
        // Registered as `web::Data` works the same.
        let req = TestRequest::get()
            .uri("/feed?resume=4")
            .app_data(web::Data::new(config));
        assert_eq!(extract(req).await, Ok(id("4")));
    }

    #[actix_web::test]
    async fn header_only_config_ignores_the_query() {
        let req = TestRequest::get()
            .uri("/feed?lastEventId=7")
            .app_data(LastEventIdConfig::default().query_param(None));
        assert_eq!(extract(req).await, Ok(LastEventId(None)));
    }

    #[actix_web::test]
    async fn repeated_query_parameter_is_a_bad_request() {
        let req = TestRequest::get().uri("/feed?lastEventId=1&lastEventId=2");
        let error = extract(req).await.unwrap_err();
        assert!(matches!(error, SseError::BadRequest(_)), "{error:?}");
        assert_eq!(
            actix_web::ResponseError::status_code(&error),
            actix_web::http::StatusCode::BAD_REQUEST
        );
    }
}
