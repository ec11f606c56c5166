//! Reading a publish body into an event, within the size limit.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use bytes::BytesMut;
use futures_util::StreamExt as _;
use sse_proto::Event;

use crate::HubError;

/// The JSON form of a published event. Unknown fields are refused, so a
/// typo (`"evnt"`) is an error rather than a silently plain event.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEvent {
    data: String,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    id: Option<String>,
    /// Milliseconds.
    #[serde(default)]
    retry: Option<u64>,
}

/// Reads at most `limit` bytes of `payload`, refusing early when the
/// declared length is already too large.
pub(crate) async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<BytesMut, HubError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(HubError::PayloadTooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.map_or(0, |len| len as usize));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| HubError::Payload(error.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(HubError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The event a publish body describes: a JSON event when the content type
/// says JSON, otherwise the whole body as data.
pub(crate) fn event_from_body(req: &HttpRequest, body: &[u8]) -> Result<Event, HubError> {
    if is_json(req) {
        let json: JsonEvent = serde_json::from_slice(body)
            .map_err(|error| HubError::InvalidJson(error.to_string()))?;
        let mut event = Event::data(json.data);
        event.event = json.event.map(Into::into);
        event.id = json.id.map(Into::into);
        event.retry = json.retry.map(Duration::from_millis);
        Ok(event)
    } else {
        let data = std::str::from_utf8(body).map_err(|_| HubError::NotUtf8)?;
        Ok(Event::data(data.to_owned()))
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || mime.to_ascii_lowercase().ends_with("+json")
        })
}
