//! Topic filters: one stream carrying many feeds, each subscriber getting
//! only its matches, live and replayed, at most once, private events only
//! where allowed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use futures_util::StreamExt as _;
use sse_actors::{
    EndReason, Event, Server, SubscribeRequest, Subscription, TopicFilter, TopicPattern,
    TopicSelector, Topics,
};

/// Matches topics starting with its source.
#[derive(Debug)]
struct Prefix(&'static str);

impl TopicPattern for Prefix {
    fn source(&self) -> &str {
        self.0
    }

    fn matches(&self, topic: &str) -> bool {
        topic.starts_with(self.0)
    }
}

fn exact(topic: &str) -> TopicSelector {
    TopicSelector::exact(topic)
}

fn prefix(source: &'static str) -> TopicSelector {
    TopicSelector::Pattern(Arc::new(Prefix(source)))
}

fn server() -> Server {
    Server::builder().arbiters(1).keep_alive(None).build()
}

async fn publish(server: &Server, data: &str, topics: Topics) -> String {
    server
        .publish_tagged("s", Event::data(data), topics)
        .await
        .expect("published")
        .id
        .to_string()
}

/// The data of every frame queued now, in order, without markers (waits
/// for the stream's fan-out by publishing a marker, about a topic every
/// filter below selects, and reading up to it).
async fn drain(server: &Server, subscription: &mut Subscription) -> Vec<String> {
    static MARKERS: AtomicUsize = AtomicUsize::new(0);
    let marker = format!("marker {}", MARKERS.fetch_add(1, Ordering::Relaxed));
    server
        .publish_tagged("s", Event::data(marker.clone()), Topics::new(["marker"]))
        .await
        .unwrap();
    let mut out = Vec::new();
    loop {
        let frame = subscription.next().await.expect("not ended");
        let text = String::from_utf8(frame.to_vec()).unwrap();
        let data = text
            .lines()
            .find_map(|line| line.strip_prefix("data: "))
            .unwrap_or_default()
            .to_owned();
        if data == marker {
            return out;
        }
        if !data.starts_with("marker") {
            out.push(data);
        }
    }
}

/// Every filter below also selects the marker topic.
fn filter(selectors: impl IntoIterator<Item = TopicSelector>) -> TopicFilter {
    TopicFilter::new(selectors.into_iter().chain([exact("marker")]))
}

async fn join(server: &Server, request: SubscribeRequest) -> Subscription {
    server.subscribe("s", request).await.expect("subscribed")
}

#[actix_rt::test]
async fn each_subscriber_gets_the_events_its_selectors_match_once() {
    let server = server();
    server.create_stream("s").await.unwrap();
    let mut books = join(
        &server,
        SubscribeRequest::new().topics(filter([exact("books/1")])),
    )
    .await;
    let mut both = join(
        &server,
        SubscribeRequest::new().topics(filter([
            exact("books/1"),
            prefix("books/"),
            exact("authors/1"),
        ])),
    )
    .await;
    let mut everything = join(
        &server,
        SubscribeRequest::new().topics(filter([TopicSelector::Any])),
    )
    .await;
    let mut plain = join(&server, SubscribeRequest::new()).await;

    publish(&server, "one", Topics::new(["books/1"])).await;
    publish(&server, "two", Topics::new(["books/2"])).await;
    publish(&server, "three", Topics::new(["authors/1", "books/1"])).await;
    publish(&server, "four", Topics::new(["authors/2"])).await;
    server.publish("s", Event::data("untagged")).await.unwrap();

    assert_eq!(drain(&server, &mut books).await, ["one", "three"]);
    assert_eq!(
        drain(&server, &mut both).await,
        ["one", "two", "three"],
        "three once"
    );
    assert_eq!(
        drain(&server, &mut everything).await,
        ["one", "two", "three", "four"]
    );
    assert_eq!(
        drain(&server, &mut plain).await,
        ["one", "two", "three", "four", "untagged"],
        "no filter: every public event"
    );
    server.close().await;
}

#[actix_rt::test]
async fn private_events_reach_only_subscribers_allowed_to_see_them() {
    let server = server();
    server.create_stream("s").await.unwrap();
    let alice = filter([exact("users/alice")]).private_access([exact("users/alice")]);
    let mut alice = join(&server, SubscribeRequest::new().topics(alice)).await;
    let mut bob = join(
        &server,
        SubscribeRequest::new().topics(filter([exact("users/alice")])),
    )
    .await;
    // Selects by one topic, allowed by another one of the same event.
    let via_group = filter([prefix("books/")]).private_access([exact("groups/editors")]);
    let mut editor = join(&server, SubscribeRequest::new().topics(via_group)).await;
    let mut plain = join(&server, SubscribeRequest::new()).await;

    publish(
        &server,
        "secret",
        Topics::new(["users/alice"]).private(true),
    )
    .await;
    publish(
        &server,
        "draft",
        Topics::new(["books/9", "groups/editors"]).private(true),
    )
    .await;
    publish(&server, "hello", Topics::new(["users/alice"])).await;

    assert_eq!(drain(&server, &mut alice).await, ["secret", "hello"]);
    assert_eq!(drain(&server, &mut bob).await, ["hello"]);
    assert_eq!(drain(&server, &mut editor).await, ["draft"]);
    assert_eq!(
        drain(&server, &mut plain).await,
        ["hello"],
        "never a private one"
    );
    server.close().await;
}

#[actix_rt::test]
async fn replay_is_filtered_and_resumes_after_any_events_id() {
    let server = server();
    server.create_stream("s").await.unwrap();
    publish(&server, "a1", Topics::new(["a"])).await;
    let b1 = publish(&server, "b1", Topics::new(["b"])).await;
    publish(&server, "a2", Topics::new(["a"])).await;
    publish(&server, "a-private", Topics::new(["a"]).private(true)).await;
    publish(&server, "a3", Topics::new(["a", "b"])).await;

    let mut all_of_a = join(
        &server,
        SubscribeRequest::new().topics(filter([exact("a")])),
    )
    .await;
    assert_eq!(drain(&server, &mut all_of_a).await, ["a1", "a2", "a3"]);
    // Resuming after an event of another topic: exclusive, across topics.
    let after_b1 = SubscribeRequest::new()
        .last_event_id(b1)
        .topics(filter([exact("a")]).private_access([exact("a")]));
    let mut resumed = join(&server, after_b1).await;
    assert_eq!(
        drain(&server, &mut resumed).await,
        ["a2", "a-private", "a3"]
    );
    let mut plain = join(&server, SubscribeRequest::new()).await;
    let replayed = drain(&server, &mut plain).await;
    assert_eq!(replayed, ["a1", "b1", "a2", "a3"], "public only");
    server.close().await;
}

#[actix_rt::test]
async fn a_filtered_subscriber_that_falls_behind_is_ended_and_forgotten() {
    let server = Server::builder()
        .arbiters(1)
        .keep_alive(None)
        .auto_replay(false)
        .subscriber_queue(2)
        .build();
    server.create_stream("s").await.unwrap();
    let slow = join(
        &server,
        SubscribeRequest::new().topics(filter([exact("a")])),
    )
    .await;
    let mut other = join(
        &server,
        SubscribeRequest::new().topics(filter([exact("b")])),
    )
    .await;
    for n in 0..3 {
        publish(&server, &format!("a{n}"), Topics::new(["a"])).await;
    }
    publish(&server, "b", Topics::new(["b"])).await;
    assert_eq!(drain(&server, &mut other).await, ["b"]);
    assert_eq!(slow.end_reason(), Some(EndReason::Lagged));
    assert_eq!(server.stats().lagged, 1);
    // The stream counts its subscribers once its actor handled the end,
    // which may come after the queues were read.
    let mut waits = 0;
    while server.stream("s").unwrap().info().subscribers != 1 {
        waits += 1;
        assert!(waits < 500, "the lagged subscriber is still counted");
        actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let kicked = server.kick(other.id()).await;
    assert!(kicked);
    assert_eq!(server.stream("s").unwrap().info().subscribers, 0);
    // Nothing is left that could still be pushed to.
    publish(&server, "late", Topics::new(["a", "b"])).await;
    let mut late = other;
    assert_eq!(late.next().await, None);
    drop(slow);
    server.close().await;
}

#[actix_rt::test]
async fn a_subscriber_without_a_matching_selector_is_never_woken() {
    let server = server();
    server.create_stream("s").await.unwrap();
    let mut elsewhere = join(
        &server,
        SubscribeRequest::new().topics(TopicFilter::new([exact("elsewhere")])),
    )
    .await;
    let mut watcher = join(
        &server,
        SubscribeRequest::new().topics(filter([exact("here")])),
    )
    .await;
    for n in 0..10 {
        publish(&server, &n.to_string(), Topics::new(["here"])).await;
    }
    assert_eq!(drain(&server, &mut watcher).await.len(), 10);
    let polled = futures_util::poll!(elsewhere.next());
    assert!(
        matches!(polled, Poll::Pending),
        "nothing queued: {polled:?}"
    );
    assert_eq!(elsewhere.queued(), 0);
    server.close().await;
}

#[actix_rt::test]
async fn a_filtered_resume_from_an_id_not_held_gets_the_gap_signal_then_its_matches() {
    let server = Server::builder()
        .arbiters(1)
        .keep_alive(None)
        .log_limits(sse_actors::LogLimits {
            max_events: 2,
            ..sse_actors::LogLimits::default()
        })
        .build();
    server.create_stream("s").await.unwrap();
    let evicted = publish(&server, "a1", Topics::new(["a"])).await;
    publish(&server, "a-evicted", Topics::new(["a"])).await;
    publish(&server, "b1", Topics::new(["b"])).await;
    publish(&server, "a2", Topics::new(["a"])).await;
    let request = SubscribeRequest::new()
        .last_event_id(evicted)
        .topics(filter([exact("a")]));
    let mut resumed = join(&server, request).await;
    let gap = resumed.next().await.expect("the gap signal");
    let gap = String::from_utf8(gap.to_vec()).unwrap();
    assert!(
        gap.starts_with(&format!("event: {}\n", sse_actors::GAP_EVENT)),
        "{gap}"
    );
    assert_eq!(
        drain(&server, &mut resumed).await,
        ["a2"],
        "b1 is not its topic"
    );
    server.close().await;
}
