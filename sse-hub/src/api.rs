//! The hub's endpoints besides subscribing: publish, list, health.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use sse_actors::PublishError;

use crate::auth::{self, Action};
use crate::publish_body::{event_from_body, read_limited};
use crate::{Hub, HubError};
use sse_actix::server::stream_name;

/// `POST /events?stream=NAME`: publishes the body, answers
/// `{"stream", "id", "seq", "duplicate"}`; a repeated own id is not stored
/// again and answers the first event (`duplicate: true`), so a retry is
/// safe. Refusals are logged, one line each.
pub(crate) async fn publish(
    hub: &Hub,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, HubError> {
    let started = Instant::now();
    let result = publish_event(hub, &req, payload).await;
    match &result {
        Ok(_) => hub.metrics.published(started.elapsed()),
        Err(error) => {
            hub.metrics.refused("publish", error.status_code());
            if matches!(error, HubError::Backplane(_)) {
                hub.metrics.backplane_error();
            }
        }
    }
    if let Err(error) = &result {
        let peer = req
            .peer_addr()
            .map(|addr| addr.to_string())
            .unwrap_or_default();
        // Not the query string: it may carry a token.
        tracing::info!(%peer, path = %req.path(), "publish refused: {error}");
    }
    result
}

async fn publish_event(
    hub: &Hub,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, HubError> {
    let access = auth::check(hub.config(), req, Action::Publish)?;
    let stream = stream_name(req, hub.sse().config())?;
    access.check_stream(Action::Publish, &stream)?;
    let body = read_limited(req, payload, hub.config().max_body_size).await?;
    let event = event_from_body(req, &body)?;
    // With auto-stream on, `curl -d` to a new name just works: the stream
    // is an auto-stream, counted against the limit and retired when idle,
    // on one node as in a cluster.
    let published = hub
        .sse()
        .server()
        .publish_creating(&stream, event)
        .await
        .map_err(|error| publish_error(&stream, error))?;
    tracing::debug!(%stream, id = %published.id, seq = published.seq, "event published");
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "stream": stream,
        "id": published.id.to_string(),
        "seq": published.seq,
        "duplicate": published.duplicate,
    })))
}

/// `GET /streams`: every stream with its subscriber and event counts.
pub(crate) async fn streams(hub: &Hub, req: &HttpRequest) -> Result<HttpResponse, HubError> {
    let inspector = auth::check_inspector(hub.config(), req)?;
    let streams: Vec<_> = hub
        .sse()
        .server()
        .streams()
        .await
        .into_iter()
        // A JWT sees the streams its claims cover.
        .filter(|info| inspector.sees(&info.name))
        .map(|info| {
            serde_json::json!({
                "name": info.name,
                "subscribers": info.subscribers,
                "published": info.published,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "streams": streams,
        "connections": hub.sse().open_connections(),
    })))
}

/// `GET /healthz`: 200 while the event server runs, 503 once it closed,
/// with the live-object counts operators (and leak tests) watch; only the
/// status for a caller who may not see what the hub holds.
pub(crate) fn healthz(hub: &Hub, req: &HttpRequest) -> HttpResponse {
    let server = hub.sse().server();
    let status = if server.is_closed() { "closed" } else { "ok" };
    let body = if auth::check_inspector(hub.config(), req).is_ok() {
        let stats = server.stats();
        serde_json::json!({
            "status": status,
            "connections": hub.sse().open_connections(),
            "streams": stats.streams,
            "subscribers": stats.subscriber_actors,
            "queues": stats.queues,
            "published": stats.published,
            "lagged": stats.lagged,
            "log_bytes": stats.log_bytes,
            "unlogged_bytes": stats.unlogged_bytes,
        })
    } else {
        serde_json::json!({ "status": status })
    };
    if server.is_closed() {
        HttpResponse::ServiceUnavailable().json(body)
    } else {
        HttpResponse::Ok().json(body)
    }
}

pub(crate) fn publish_error(stream: &str, error: PublishError) -> HubError {
    match error {
        PublishError::UnknownStream { .. } | PublishError::StreamRemoved { .. } => {
            HubError::UnknownStream(stream.to_owned())
        }
        PublishError::Encode(error) => HubError::InvalidEvent(error.to_string()),
        PublishError::TooManyStreams { limit, .. } => {
            HubError::TooManyStreams(stream.to_owned(), limit)
        }
        PublishError::InvalidId(reason) => HubError::InvalidEvent(reason.to_string()),
        error @ PublishError::RetryTooLong { .. } => HubError::InvalidEvent(error.to_string()),
        PublishError::ServerClosed => HubError::Closed,
        PublishError::Backplane(error) => HubError::Backplane(error.to_string()),
        other => HubError::Internal(other.to_string()),
    }
}

/// `GET /metrics`: the metrics token when one is set, else whoever may see
/// the counts of `/healthz`.
pub(crate) fn metrics(hub: &Hub, req: &HttpRequest) -> Result<HttpResponse, HubError> {
    match &hub.config().metrics_token {
        Some(token) => auth::check_static(req, token, "reading metrics")?,
        None => {
            auth::check_inspector(hub.config(), req).map_err(|error| match error {
                HubError::Unauthorized { reason, .. } => HubError::Unauthorized {
                    action: "reading metrics",
                    reason,
                },
                other => other,
            })?;
        }
    }
    Ok(hub.metrics.response())
}
