//! Active subscriptions (the draft's "Active Subscriptions"), behind
//! [`HubConfig::mercure_subscriptions`](crate::HubConfig::mercure_subscriptions):
//! each Mercure subscription gets a `urn:uuid:` subscriber id; its opening
//! and its end are published as private updates, one per topic selector,
//! to `/.well-known/mercure/subscriptions/{topic}/{subscriber}`; and
//! `GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]` lists
//! the open ones.
//!
//! The table holds one entry per open subscription of this hub, removed
//! when its response body is dropped (the client went away, the token
//! expired, the hub stops): it is bounded by the connections the handler
//! accepts (`--max-connections`) times the selectors per subscription
//! (`--mercure-max-topics`), and keeps nothing once a subscription ends.
//! In a cluster it is also written to Redis (`shared_presence`), and the
//! listing reads every node's from there.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use actix_web::HttpResponse;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Value, json};
use sse_actors::{Event, StreamHandle, Topics};

/// Where the subscriptions are listed, and the prefix of their topics.
pub(crate) const PATH: &str = "/.well-known/mercure/subscriptions";

/// The JSON-LD context of the draft's documents.
pub(crate) const CONTEXT: &str = "https://mercure.rocks/";

/// What RFC 6570 simple expansion leaves as is: the unreserved characters.
const EXPANDED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The topic of the updates about `subscriber`'s subscription to
/// `selector`, also its document's `id`.
pub(crate) fn topic(selector: &str, subscriber: &str) -> String {
    format!(
        "{PATH}/{}/{}",
        utf8_percent_encode(selector, EXPANDED),
        utf8_percent_encode(subscriber, EXPANDED)
    )
}

/// The open subscriptions of this hub, by subscriber id.
#[derive(Debug, Default)]
pub(crate) struct Presence {
    open: Mutex<BTreeMap<String, Entry>>,
    /// With [`Hub::share_subscriptions`](crate::Hub::share_subscriptions),
    /// the cluster's table.
    #[cfg(feature = "redis")]
    shared: std::sync::OnceLock<super::shared_presence::SharedPresence>,
}

/// One open subscription: its selectors and its token's `mercure.payload`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Entry {
    selectors: Vec<String>,
    payload: Option<Value>,
}

/// `table`, locked.
pub(crate) fn lock(
    table: &Mutex<BTreeMap<String, Entry>>,
) -> MutexGuard<'_, BTreeMap<String, Entry>> {
    // A panic while holding it left no half-made entry: each is one insert or remove.
    table
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a listing asks for: everything, one selector's subscriptions, or
/// one subscription.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) selector: Option<String>,
    pub(crate) subscriber: Option<String>,
}

impl Query {
    /// The query of a request for `path` (as sent, percent-encoded); `None`
    /// for a path that is not a listing's.
    pub(crate) fn parse(path: &str) -> Option<Query> {
        let rest = path.strip_prefix(PATH)?;
        let decode = |part: &str| {
            (!part.is_empty())
                .then(|| percent_decode_str(part).decode_utf8().ok())
                .flatten()
                .map(|text| text.into_owned())
        };
        let Some(rest) = rest.strip_prefix('/') else {
            return rest.is_empty().then_some(Query {
                selector: None,
                subscriber: None,
            });
        };
        let mut parts = rest.split('/');
        let selector = decode(parts.next()?)?;
        let subscriber = match parts.next() {
            Some(part) => Some(decode(part)?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Query {
            selector: Some(selector),
            subscriber,
        })
    }
}

impl Presence {
    /// Lists `subscriber`'s subscriptions to `selectors` as open.
    fn join(&self, subscriber: &str, selectors: Vec<String>, payload: Option<Value>) {
        let entry = Entry { selectors, payload };
        self.table().insert(subscriber.to_owned(), entry);
    }

    /// Removes `subscriber`'s subscriptions; what they were.
    fn leave(&self, subscriber: &str) -> Option<Entry> {
        self.table().remove(subscriber)
    }

    fn table(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        lock(&self.open)
    }

    /// This node's table.
    #[cfg(feature = "redis")]
    pub(crate) fn open(&self) -> &Mutex<BTreeMap<String, Entry>> {
        &self.open
    }

    /// The cluster's table, once shared.
    #[cfg(feature = "redis")]
    pub(crate) fn shared(&self) -> Option<&super::shared_presence::SharedPresence> {
        self.shared.get()
    }

    /// Lists the subscriptions in `shared` too, from now on; false if
    /// they already were.
    #[cfg(feature = "redis")]
    pub(crate) fn share(&self, shared: super::shared_presence::SharedPresence) -> bool {
        self.shared.set(shared).is_ok()
    }

    /// The documents of the open subscriptions `query` names whose topic
    /// `visible` admits, in subscriber order: this hub's, or in a cluster
    /// sharing them, every node's.
    pub(crate) async fn list(
        &self,
        query: &Query,
        visible: impl Fn(&str) -> bool,
    ) -> Result<Vec<Value>, crate::HubError> {
        #[cfg(feature = "redis")]
        if let Some(shared) = self.shared() {
            let open = shared.read(query.subscriber.as_deref()).await?;
            return Ok(documents(open.iter(), query, visible));
        }
        let table = self.table();
        Ok(match &query.subscriber {
            Some(subscriber) => {
                documents(table.get_key_value(subscriber).into_iter(), query, visible)
            }
            None => documents(table.iter(), query, visible),
        })
    }
}

/// The documents of `entries`' subscriptions `query` names whose topic
/// `visible` admits.
fn documents<'a>(
    entries: impl Iterator<Item = (&'a String, &'a Entry)>,
    query: &Query,
    visible: impl Fn(&str) -> bool,
) -> Vec<Value> {
    let mut documents = Vec::new();
    for (subscriber, entry) in entries {
        for selector in &entry.selectors {
            if query
                .selector
                .as_ref()
                .is_some_and(|wanted| wanted != selector)
            {
                continue;
            }
            let topic = topic(selector, subscriber);
            if visible(&topic) {
                documents.push(document(
                    topic,
                    selector,
                    subscriber,
                    true,
                    entry.payload.as_ref(),
                ));
            }
        }
    }
    documents
}

/// The draft's `Subscription` document.
fn document(
    id: String,
    selector: &str,
    subscriber: &str,
    active: bool,
    payload: Option<&Value>,
) -> Value {
    let mut document = json!({
        "id": id,
        "type": "Subscription",
        "topic": selector,
        "subscriber": subscriber,
        "active": active,
    });
    if let Some(payload) = payload {
        document["payload"] = payload.clone();
    }
    document
}

/// The private updates telling that `subscriber`'s subscriptions to
/// `selectors` opened or ended: one per selector.
fn updates<'a>(
    selectors: &'a [String],
    subscriber: &'a str,
    active: bool,
    payload: Option<&'a Value>,
) -> impl Iterator<Item = (Event, Topics)> + 'a {
    selectors.iter().map(move |selector| {
        let topic = topic(selector, subscriber);
        let mut body = document(topic.clone(), selector, subscriber, active, payload);
        body["@context"] = Value::from(CONTEXT);
        let id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        let event = Event::data(body.to_string()).id(id);
        (event, Topics::new([topic]).private(true))
    })
}

/// Lists a subscription to `selectors` with `payload` as open and
/// publishes so to `stream`; `response` (its event stream) lists it as
/// ended and publishes that once dropped.
pub(crate) async fn track(
    mercure: std::sync::Arc<super::Mercure>,
    stream: StreamHandle,
    response: HttpResponse,
    selectors: Vec<String>,
    payload: Option<Value>,
) -> HttpResponse {
    let Some(table) = mercure.presence.as_ref() else {
        return response;
    };
    let subscriber = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    // Listed first, so whoever sees the update finds it in the listing.
    table.join(&subscriber, selectors.clone(), payload.clone());
    #[cfg(feature = "redis")]
    if let Some(shared) = table.shared() {
        let entry = Entry {
            selectors: selectors.clone(),
            payload: payload.clone(),
        };
        shared.insert(&subscriber, &entry).await;
    }
    for (event, topics) in updates(&selectors, &subscriber, true, payload.as_ref()) {
        if let Err(error) = stream.publish_tagged(event, topics).await {
            tracing::warn!(%subscriber, "Mercure subscription update not published: {error}");
        }
    }
    let ended = Ended {
        mercure: std::sync::Arc::clone(&mercure),
        stream,
        subscriber,
    };
    response.map_body(|_, body| {
        BoxBody::new(Tracked {
            body,
            _ended: ended,
        })
    })
}

/// Publishes the end of a subscription when dropped.
struct Ended {
    mercure: std::sync::Arc<super::Mercure>,
    stream: StreamHandle,
    subscriber: String,
}

impl Drop for Ended {
    fn drop(&mut self) {
        let Some(table) = self.mercure.presence.as_ref() else {
            return;
        };
        let Some(entry) = table.leave(&self.subscriber) else {
            return;
        };
        let subscriber = std::mem::take(&mut self.subscriber);
        let updates: Vec<_> =
            updates(&entry.selectors, &subscriber, false, entry.payload.as_ref()).collect();
        let stream = self.stream.clone();
        // A drop cannot wait: the updates go out on the hub's runtime (with a
        // backplane too), or at once if the buffer has room as it stops
        // (a shared table then forgets the subscription when its node's
        // time is up).
        if tokio::runtime::Handle::try_current().is_ok() {
            #[cfg(feature = "redis")]
            let mercure = std::sync::Arc::clone(&self.mercure);
            tokio::spawn(async move {
                // Unlisted first, as it was listed before its opening was published.
                #[cfg(feature = "redis")]
                if let Some(shared) = mercure.presence.as_ref().and_then(Presence::shared) {
                    shared.remove(&subscriber).await;
                }
                for (event, topics) in updates {
                    if let Err(error) = stream.publish_tagged(event, topics).await {
                        tracing::warn!(%subscriber, "Mercure subscription end not published: {error}");
                    }
                }
            });
        } else {
            for (event, topics) in updates {
                if let Err(error) = stream.try_publish_tagged(event, topics) {
                    tracing::warn!(%subscriber, "Mercure subscription end not published: {error}");
                }
            }
        }
    }
}

/// An event stream whose end is published.
struct Tracked {
    body: BoxBody,
    _ended: Ended,
}

impl MessageBody for Tracked {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    /// This hub's own listing, which never waits.
    fn list(presence: &Presence, query: &Query, visible: impl Fn(&str) -> bool) -> Vec<Value> {
        let listing = presence.list(query, visible).now_or_never();
        listing.expect("a table of its own").expect("listed")
    }

    #[test]
    fn a_topic_expands_the_selector_and_the_subscriber_percent_encoded() {
        assert_eq!(
            topic("https://example.com/{selector}", "urn:uuid:bb3d"),
            "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2F%7Bselector%7D/urn%3Auuid%3Abb3d"
        );
    }

    #[test]
    fn a_listing_path_names_nothing_a_selector_or_a_subscription() {
        let all = Query::parse(PATH).unwrap();
        assert_eq!((all.selector, all.subscriber), (None, None));
        let path = topic("https://example.com/{id}", "urn:uuid:1");
        let one = Query::parse(&path).unwrap();
        assert_eq!(one.selector.as_deref(), Some("https://example.com/{id}"));
        assert_eq!(one.subscriber.as_deref(), Some("urn:uuid:1"));
        let by_topic = Query::parse(&format!("{PATH}/a%20b")).unwrap();
        assert_eq!(
            (by_topic.selector.as_deref(), by_topic.subscriber),
            (Some("a b"), None)
        );
        for wrong in [
            "/.well-known/mercure/subscriptionsx",
            "/.well-known/mercure/subscriptions/",
            "/.well-known/mercure/subscriptions/a/b/c",
            "/.well-known/mercure/subscriptions/a//",
            "/.well-known/mercure/subscriptions/%FF",
        ] {
            assert_eq!(Query::parse(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn the_table_lists_each_selector_until_the_subscription_leaves() {
        let presence = Presence::default();
        let payload = json!({ "user": 7 });
        presence.join(
            "urn:uuid:1",
            vec!["a".into(), "b".into()],
            Some(payload.clone()),
        );
        presence.join("urn:uuid:2", vec!["a".into()], None);
        let everything = Query {
            selector: None,
            subscriber: None,
        };
        assert_eq!(list(&presence, &everything, |_| true).len(), 3);
        let on_a = Query {
            selector: Some("a".into()),
            subscriber: None,
        };
        assert_eq!(list(&presence, &on_a, |_| true).len(), 2);
        let one = Query {
            selector: Some("b".into()),
            subscriber: Some("urn:uuid:1".into()),
        };
        let listed = list(&presence, &one, |_| true);
        assert_eq!(listed[0]["payload"], payload);
        assert_eq!(listed[0]["id"], topic("b", "urn:uuid:1"));
        assert!(list(&presence, &everything, |topic| topic.ends_with("2")).len() == 1);
        assert!(presence.leave("urn:uuid:1").is_some());
        assert!(presence.leave("urn:uuid:1").is_none());
        assert_eq!(list(&presence, &everything, |_| true).len(), 1);
    }
}
