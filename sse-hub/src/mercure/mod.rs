//! The Mercure protocol (draft-dunglas-mercure) on top of the hub: one
//! endpoint, `/.well-known/mercure`, to subscribe to topics and to publish
//! updates about them.
//!
//! Every update goes to one stream of the event server, [`STREAM`] (a name
//! `/events` cannot address), tagged with its topics
//! ([`sse_actors::Topics`]); each subscriber asks for a
//! [`TopicFilter`] built from its `topic` selectors and, for private
//! updates, from its token's `mercure.subscribe` claim. The stream's log,
//! replay, gap signal, queues and limits are those of every stream.
//!
//! | request | what it does |
//! |---|---|
//! | `GET /.well-known/mercure?topic=SEL&…` | an event stream of the updates any selector matches (`*`, an exact topic, a URI template), each once; `Last-Event-ID` or `lastEventID` resumes after that update (across topics), `earliest` replays all that is held, an id not held gets the `sse-gap` event first; the answer's `Last-Event-ID` names the update before the first one sent, or `earliest` |
//! | `POST /.well-known/mercure` | form fields `topic` (repeatable), `data`, `id` (default `urn:uuid:<v4>`), `type`, `retry` (ms), `private`; answers `200 text/plain` with the update's id (a repeated id answers the first update's, stored once) |
//! | `GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]` | with [`HubConfig::mercure_subscriptions`](crate::HubConfig::mercure_subscriptions), the open subscriptions (see `presence`), whose openings and ends are also published |
//!
//! Tokens come from `Authorization: Bearer`, the `mercureAuthorization`
//! cookie or (subscribing only) the `authorization` query parameter.
//! Limits: [`HubConfig::mercure_max_topics`](crate::HubConfig::mercure_max_topics)
//! topics per update and selectors per request,
//! [`HubConfig::mercure_template_cache`](crate::HubConfig::mercure_template_cache)
//! compiled templates kept, the hub's body size for a publication.

mod auth;
mod presence;
mod selector;
#[cfg(feature = "redis")]
mod shared_presence;
mod template;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use sse_actors::{Event, FirstReplay, StreamHandle, SubscribeRequest, TopicFilter, Topics};

use presence::Presence;

use crate::publish_body::read_limited;
use crate::{Hub, HubError};

pub(crate) use selector::Selectors;

/// Where Mercure clients find the hub.
pub const PATH: &str = "/.well-known/mercure";

/// The event server's stream carrying every Mercure update. It holds a
/// `/`, so `/events?stream=` can neither read nor write it.
pub const STREAM: &str = "/.well-known/mercure";

/// The `Last-Event-ID` value asking for every update the hub holds.
const EARLIEST: &str = "earliest";

/// The Mercure side of a hub: its compiled selectors and, with
/// `--subscriptions`, its open subscriptions.
#[derive(Debug)]
pub(crate) struct Mercure {
    selectors: Selectors,
    presence: Option<Presence>,
}

impl Mercure {
    /// Keeps at most `template_cache` compiled template selectors; tracks
    /// active subscriptions if `subscriptions`.
    pub(crate) fn new(template_cache: usize, subscriptions: bool) -> Self {
        Mercure {
            selectors: Selectors::new(template_cache),
            presence: subscriptions.then(Presence::default),
        }
    }
}

impl Mercure {
    /// Lists the active subscriptions in the Redis at `url` too, for every
    /// node's listing; false if they are not tracked or already shared.
    #[cfg(feature = "redis")]
    pub(crate) fn share_presence(
        self: &std::sync::Arc<Self>,
        url: &str,
    ) -> Result<bool, sse_redis::ConnectError> {
        let Some(presence) = self.presence.as_ref() else {
            return Ok(false);
        };
        if !presence.share(shared_presence::SharedPresence::new(url)?) {
            return Ok(false);
        }
        shared_presence::heartbeat(std::sync::Arc::downgrade(self));
        Ok(true)
    }
}

/// Registers `GET` and `POST` [`PATH`], and with active subscriptions
/// tracked, `GET` their listing.
pub(crate) fn configure(hub: &Hub, cfg: &mut web::ServiceConfig) {
    if hub.mercure.presence.is_some() {
        let lister = hub.clone();
        cfg.service(
            web::resource(format!("{}{{rest:.*}}", presence::PATH))
                .wrap(hub.cors_with_credentials())
                .route(web::get().to(move |req: HttpRequest| {
                    let hub = lister.clone();
                    async move { list(&hub, &req).await }
                })),
        );
    }
    let (subscriber, publisher) = (hub.clone(), hub.clone());
    cfg.service(
        web::resource(PATH)
            .wrap(hub.cors_with_credentials())
            .route(web::get().to(move |req: HttpRequest| {
                let hub = subscriber.clone();
                async move { subscribe(&hub, &req).await }
            }))
            .route(
                web::post().to(move |req: HttpRequest, payload: web::Payload| {
                    let hub = publisher.clone();
                    async move { publish(&hub, &req, payload).await }
                }),
            ),
    );
}

/// The stream of every update, created on first use (explicitly, so it
/// never retires).
async fn stream(hub: &Hub) -> Result<StreamHandle, HubError> {
    let server = hub.sse().server();
    match server.stream(STREAM) {
        Some(stream) => Ok(stream),
        None => server
            .create_stream(STREAM)
            .await
            .map_err(|_| HubError::Closed),
    }
}

async fn subscribe(hub: &Hub, req: &HttpRequest) -> Result<HttpResponse, HubError> {
    let result = open(hub, req).await;
    if let Err(error) = &result {
        hub.metrics.refused("subscribe", error.status_code());
        let peer = crate::peer(req);
        tracing::info!(%peer, path = PATH, "Mercure subscription refused: {error}");
    }
    result
}

async fn open(hub: &Hub, req: &HttpRequest) -> Result<HttpResponse, HubError> {
    let access = auth::subscriber(hub.config(), req)?;
    let mut selectors = Vec::new();
    let mut query_id = None;
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        match &*name {
            "topic" => selectors.push(value.into_owned()),
            "lastEventID" => query_id = Some(value.into_owned()),
            _ => {}
        }
    }
    if selectors.is_empty() {
        return Err(HubError::Mercure(
            "at least one `topic` query parameter is required".to_owned(),
        ));
    }
    let max_topics = hub.config().mercure_max_topics;
    if selectors.len() > max_topics {
        return Err(HubError::Mercure(format!(
            "{} topic selectors; the limit is {max_topics}",
            selectors.len()
        )));
    }
    let parse = &hub.mercure.selectors;
    let filter = TopicFilter::new(selectors.iter().map(|text| parse.parse(text)))
        .private_access(access.private.iter().map(|text| parse.parse(text)));
    let last_event_id = req
        .headers()
        .get(sse_actix::server::LAST_EVENT_ID)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .or(query_id)
        .filter(|id| !id.is_empty());
    let mut request = SubscribeRequest::new().topics(filter);
    request = match last_event_id {
        // Mercure replays nothing to a subscriber without an id.
        None => request.first_replay(FirstReplay::Nothing),
        Some(id) if id == EARLIEST => request.first_replay(FirstReplay::AllHeld),
        Some(id) => request.last_event_id(id),
    };
    let stream = stream(hub).await?;
    let mut response = hub.sse().respond_with(req, STREAM, request).await?;
    // The draft's reconciliation: the id of the update before the first one
    // sent, or `earliest` when none is held before it.
    let headers = response.headers_mut();
    if !headers.contains_key(sse_actix::server::LAST_EVENT_ID) {
        headers.insert(
            sse_actix::server::LAST_EVENT_ID,
            header::HeaderValue::from_static(EARLIEST),
        );
    }
    if hub.mercure.presence.is_some() {
        let mercure = std::sync::Arc::clone(&hub.mercure);
        response = presence::track(mercure, stream, response, selectors, access.payload).await;
    }
    hub.metrics.subscription_opened();
    Ok(match access.expires {
        Some(deadline) => crate::expiry::end_at(
            response,
            deadline,
            hub.metrics.token_expired.clone(),
            STREAM.to_owned(),
            crate::peer(req),
        ),
        None => response,
    })
}

/// `GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]`: the
/// open subscriptions, for a token whose `mercure.subscribe` matches the
/// requested URL, each listed only if it matches the subscription's topic.
async fn list(hub: &Hub, req: &HttpRequest) -> Result<HttpResponse, HubError> {
    let Some(table) = &hub.mercure.presence else {
        return Err(HubError::Internal(
            "active subscriptions are not tracked".to_owned(),
        ));
    };
    let path = req.uri().path();
    let unknown = || HubError::UnknownSubscription(path.to_owned());
    let query = presence::Query::parse(path).ok_or_else(unknown)?;
    let access = auth::subscriber(hub.config(), req)?;
    let parse = &hub.mercure.selectors;
    let visible = |topic: &str| {
        access
            .private
            .iter()
            .any(|selector| parse.matches(selector, topic))
    };
    if !visible(path) {
        return Err(if access.authenticated {
            HubError::ForbiddenTopic {
                action: "subscribing",
                topic: path.to_owned(),
            }
        } else {
            HubError::Unauthorized {
                action: "listing subscriptions",
                reason: crate::Refusal::NoToken,
            }
        });
    }
    let last_event_id = stream(hub)
        .await?
        .last_id()
        .await
        .unwrap_or_else(|| EARLIEST.to_owned());
    let documents = table.list(&query, visible).await?;
    let body = if query.subscriber.is_some() {
        let mut document = documents.into_iter().next().ok_or_else(unknown)?;
        document["@context"] = presence::CONTEXT.into();
        document["lastEventID"] = last_event_id.into();
        document
    } else {
        serde_json::json!({
            "@context": presence::CONTEXT,
            "id": path,
            "type": "Subscriptions",
            "lastEventID": last_event_id,
            "subscriptions": documents,
        })
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/ld+json"))
        .insert_header((header::CACHE_CONTROL, "must-revalidate"))
        .body(body.to_string()))
}

async fn publish(
    hub: &Hub,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, HubError> {
    let started = std::time::Instant::now();
    let result = publish_update(hub, req, payload).await;
    match &result {
        Ok(_) => hub.metrics.published(started.elapsed()),
        Err(error) => {
            hub.metrics.refused("publish", error.status_code());
            let peer = crate::peer(req);
            tracing::info!(%peer, path = PATH, "Mercure publication refused: {error}");
        }
    }
    result
}

/// An update as the publish form gives it.
#[derive(Debug, Default)]
struct Form {
    topics: Vec<String>,
    data: Option<String>,
    id: Option<String>,
    event_type: Option<String>,
    retry: Option<String>,
    private: bool,
}

impl Form {
    /// The form in `body`, naming at most `max_topics` topics.
    fn parse(body: &[u8], max_topics: usize) -> Result<Form, HubError> {
        let mut form = Form::default();
        let once = |field: &mut Option<String>, name: &str, value: String| {
            if field.replace(value).is_some() {
                return Err(HubError::Mercure(format!(
                    "the field `{name}` is given twice"
                )));
            }
            Ok(())
        };
        for (name, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match &*name {
                "topic" => form.topics.push(value),
                "data" => once(&mut form.data, "data", value)?,
                "id" => once(&mut form.id, "id", value)?,
                "type" => once(&mut form.event_type, "type", value)?,
                "retry" => once(&mut form.retry, "retry", value)?,
                // The draft: present means private, whatever its value.
                "private" => form.private = true,
                _ => {}
            }
        }
        if form.topics.is_empty() {
            return Err(HubError::Mercure(
                "at least one `topic` field is required".to_owned(),
            ));
        }
        if form.topics.len() > max_topics {
            return Err(HubError::Mercure(format!(
                "{} topics; the limit is {max_topics}",
                form.topics.len()
            )));
        }
        Ok(form)
    }

    fn event(self) -> Result<(Event, Topics), HubError> {
        let id = self
            .id
            .unwrap_or_else(|| format!("urn:uuid:{}", uuid::Uuid::new_v4()));
        let mut event = Event::data(self.data.unwrap_or_default()).id(id);
        if let Some(event_type) = self.event_type {
            event = event.event(event_type);
        }
        if let Some(retry) = self.retry {
            let millis: u64 = retry.parse().map_err(|_| {
                HubError::Mercure(format!("`retry` must be milliseconds, not {retry:?}"))
            })?;
            event = event.retry(std::time::Duration::from_millis(millis));
        }
        Ok((event, Topics::new(self.topics).private(self.private)))
    }
}

async fn publish_update(
    hub: &Hub,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, HubError> {
    let access = auth::publisher(hub.config(), req)?;
    let body = read_limited(req, payload, hub.config().max_body_size).await?;
    let form = Form::parse(&body, hub.config().mercure_max_topics)?;
    if let Some(allowed) = &access {
        let parse = &hub.mercure.selectors;
        if let Some(topic) = form.topics.iter().find(|topic| {
            !allowed
                .iter()
                .any(|selector| parse.matches(selector, topic))
        }) {
            return Err(HubError::ForbiddenTopic {
                action: "publishing",
                topic: topic.clone(),
            });
        }
    }
    let (event, topics) = form.event()?;
    let published = stream(hub)
        .await?
        .publish_tagged(event, topics)
        .await
        .map_err(|error| crate::api::publish_error(STREAM, error))?;
    tracing::debug!(id = %published.id, duplicate = published.duplicate, "Mercure update published");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(published.id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_names_its_topics_and_fields_once_and_private_by_presence() {
        let form = Form::parse(
            b"topic=a&topic=https%3A%2F%2Fexample.com%2F1&data=x&private=on",
            2,
        )
        .unwrap();
        assert_eq!(form.topics, ["a", "https://example.com/1"]);
        assert!(form.private);
        let (event, topics) = form.event().unwrap();
        assert!(event.id.as_deref().unwrap().starts_with("urn:uuid:"));
        assert!(topics.is_private());
        assert!(matches!(
            Form::parse(b"data=x", 2),
            Err(HubError::Mercure(_))
        ));
        assert!(matches!(
            Form::parse(b"topic=a&id=1&id=2", 2),
            Err(HubError::Mercure(_))
        ));
        let bad_retry = Form::parse(b"topic=a&retry=soon", 2).unwrap().event();
        assert!(matches!(bad_retry, Err(HubError::Mercure(_))));
        assert!(Form::parse(b"topic=a&topic=b&topic=c", 2).is_err());
    }
}
