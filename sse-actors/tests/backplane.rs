//! The backplane seam with an in-memory shared log whose deliveries the test
//! controls: a node reading behind the log, repeated deliveries, and a
//! resuming subscriber replayed from the log never see an event twice or
//! miss one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use sse_actors::{
    Appended, Backplane, BackplaneError, BackplaneEvent, Event, GlobalId, Inbound, Position,
    ReadAfter, Server, SubscribeRequest, Subscription, TopicFilter, TopicSelector, Topics,
    TryPublishError,
};

#[derive(Default)]
struct SharedLog {
    events: Mutex<Vec<BackplaneEvent>>,
    inbound: Mutex<Option<Inbound>>,
    watches: AtomicUsize,
    reads: AtomicUsize,
    /// When set, reads wait for a permit: the test decides when they end.
    gate: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
}

#[derive(Clone, Default)]
struct Fake(Arc<SharedLog>);

impl Fake {
    /// Hands the node the logged event at `index`, as a reader would.
    async fn deliver(&self, stream: &str, index: usize) {
        let event = self.0.events.lock().unwrap()[index].clone();
        let inbound = self.0.inbound.lock().unwrap().clone().unwrap();
        assert!(inbound.deliver(stream, event).await);
    }
}

impl Backplane for Fake {
    fn attach(&self, inbound: Inbound) {
        *self.0.inbound.lock().unwrap() = Some(inbound);
    }

    fn publish(
        &self,
        _stream: &str,
        frame: Bytes,
        own_id: Option<ByteString>,
        topics: Option<Arc<Topics>>,
    ) -> BoxFuture<'static, Result<Appended, BackplaneError>> {
        let mut events = self.0.events.lock().unwrap();
        let held = events
            .iter()
            .find(|e| own_id.is_some() && e.own_id == own_id)
            .map(|e| e.id);
        let appended = match held {
            Some(id) => Appended {
                id,
                duplicate: true,
            },
            None => {
                let id = GlobalId {
                    millis: 1_000 + events.len() as u64,
                    seq: 0,
                };
                events.push(BackplaneEvent {
                    id,
                    own_id,
                    frame,
                    topics,
                });
                Appended {
                    id,
                    duplicate: false,
                }
            }
        };
        Box::pin(async move { Ok(appended) })
    }

    fn watch(&self, _stream: &str) -> BoxFuture<'static, Result<GlobalId, BackplaneError>> {
        self.0.watches.fetch_add(1, Ordering::AcqRel);
        let end = self.0.events.lock().unwrap().last().map(|e| e.id);
        Box::pin(async move { Ok(end.unwrap_or_default()) })
    }

    fn unwatch(&self, _stream: &str) {}

    fn read_after(
        &self,
        _stream: &str,
        last_event_id: &str,
        limit: usize,
    ) -> BoxFuture<'static, Result<ReadAfter, BackplaneError>> {
        let events = self.0.events.lock().unwrap();
        let found = events
            .iter()
            .find(|e| match &e.own_id {
                Some(own) => *own == last_event_id,
                None => e.id.to_string() == last_event_id,
            })
            .map(|e| e.id);
        let events = match found {
            Some(after) => events
                .iter()
                .filter(|e| e.id > after)
                .take(limit)
                .cloned()
                .collect(),
            None => events[events.len().saturating_sub(limit)..].to_vec(),
        };
        let read = ReadAfter { found, events };
        self.0.reads.fetch_add(1, Ordering::AcqRel);
        let gate = self.0.gate.lock().unwrap().clone();
        Box::pin(async move {
            if let Some(gate) = gate {
                let _ = gate.acquire().await;
            }
            Ok(read)
        })
    }
}

async fn next_text(subscription: &mut Subscription) -> String {
    let frame = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("a frame within the guard time")
        .expect("the subscription is live");
    String::from_utf8(frame.to_vec()).unwrap()
}

fn frame(millis: u64, data: &str) -> String {
    format!("id: {millis}-0\ndata: {data}\n\n")
}

#[actix_rt::test]
async fn a_resuming_subscriber_gets_each_event_once_while_the_node_reads_behind() {
    let fake = Fake::default();
    let server = Server::builder()
        .auto_stream(true)
        .arbiters(1)
        .keep_alive(None)
        .backplane(Arc::new(fake.clone()))
        .build();
    let mut live = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap();
    for data in ["a", "b", "c"] {
        let published = server.publish("s", Event::data(data)).await;
        assert_eq!(published.unwrap().seq, 0, "the global id is the position");
    }
    assert!(matches!(
        server.try_publish("s", Event::data("x")),
        Err(TryPublishError::Backplane { .. })
    ));

    // The node has read only the first event when a client resumes after it.
    fake.deliver("s", 0).await;
    assert_eq!(next_text(&mut live).await, frame(1000, "a"));
    let mut resumed = server
        .subscribe("s", SubscribeRequest::new().last_event_id("1000-0"))
        .await
        .unwrap();
    assert_eq!(next_text(&mut resumed).await, frame(1001, "b"));
    assert_eq!(next_text(&mut resumed).await, frame(1002, "c"));

    // The node catches up (delivering one event twice, as after a reconnect),
    // then a new event arrives.
    fake.deliver("s", 1).await;
    fake.deliver("s", 2).await;
    fake.deliver("s", 2).await;
    server.publish("s", Event::data("d")).await.unwrap();
    fake.deliver("s", 3).await;

    assert_eq!(next_text(&mut resumed).await, frame(1003, "d"));
    for (millis, data) in [(1001, "b"), (1002, "c"), (1003, "d")] {
        assert_eq!(next_text(&mut live).await, frame(millis, data));
    }
    // Each reads "d" right after "c": the repeated delivery reached no one.
    assert_eq!((resumed.queued(), live.queued()), (0, 0));
    server.close().await;
}

#[actix_rt::test]
async fn a_subscriber_resumes_after_a_global_position_and_starts_where_the_node_delivers() {
    let fake = Fake::default();
    let server = Server::builder()
        .auto_stream(true)
        .arbiters(1)
        .keep_alive(None)
        .backplane(Arc::new(fake.clone()))
        .build();
    for data in ["a", "b", "c"] {
        server.publish("s", Event::data(data)).await.unwrap();
    }
    // The node has taken nothing: a new subscriber replayed nothing starts
    // at the shared log's end, where the node's delivery begins, not at its
    // empty log.
    let quiet = server
        .subscribe(
            "s",
            SubscribeRequest::new().first_replay(sse_actors::FirstReplay::Nothing),
        )
        .await
        .unwrap();
    let end = GlobalId {
        millis: 1002,
        seq: 0,
    };
    assert_eq!(quiet.start(), Position::Global(end));
    // One replayed what is held is replayed what the shared log holds.
    for (first, replay) in [
        (1000, sse_actors::FirstReplay::AllHeld),
        (1001, sse_actors::FirstReplay::Last(2)),
    ] {
        let mut held = server
            .subscribe("s", SubscribeRequest::new().first_replay(replay))
            .await
            .unwrap();
        let before_first = GlobalId {
            millis: first - 1,
            seq: u64::MAX,
        };
        assert_eq!(held.start(), Position::Global(before_first));
        for (millis, data) in [(1000, "a"), (1001, "b"), (1002, "c")] {
            if millis >= first {
                assert_eq!(next_text(&mut held).await, frame(millis, data));
            }
        }
        assert_eq!(held.queued(), 0, "{replay:?}: nothing more");
    }

    let after = GlobalId {
        millis: 1000,
        seq: 0,
    };
    let mut resumed = server
        .subscribe("s", SubscribeRequest::new().after(Position::Global(after)))
        .await
        .unwrap();
    assert_eq!(resumed.start(), Position::Global(after));
    assert_eq!(next_text(&mut resumed).await, frame(1001, "b"));
    assert_eq!(next_text(&mut resumed).await, frame(1002, "c"));
    server.close().await;
}

/// Topics and the private flag ride with the event through the shared log:
/// each subscriber gets what its filter admits, live and when resuming,
/// however the events were read.
#[actix_rt::test]
async fn tagged_events_reach_only_the_subscribers_that_accept_them_through_a_backplane() {
    let fake = Fake::default();
    let server = Server::builder()
        .auto_stream(true)
        .arbiters(1)
        .keep_alive(None)
        .backplane(Arc::new(fake.clone()))
        .build();
    let wants_a = || TopicFilter::new([TopicSelector::exact("a")]);
    let mut public_a = server
        .subscribe("s", SubscribeRequest::new().topics(wants_a()))
        .await
        .unwrap();
    let private_a = wants_a().private_access([TopicSelector::exact("a")]);
    let mut may_see_a = server
        .subscribe("s", SubscribeRequest::new().topics(private_a.clone()))
        .await
        .unwrap();
    let mut unfiltered = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap();
    let published = [
        ("a", Some(Topics::new(["a"]))),
        ("b", Some(Topics::new(["b"]))),
        ("secret", Some(Topics::new(["b", "a"]).private(true))),
        ("plain", None),
    ];
    for (data, topics) in published.iter().cloned() {
        match topics {
            Some(topics) => server.publish_tagged("s", Event::data(data), topics).await,
            None => server.publish("s", Event::data(data)).await,
        }
        .unwrap();
    }
    assert_eq!(
        fake.0.events.lock().unwrap()[2].topics.as_deref(),
        published[2].1.as_ref(),
        "the backplane was handed the topics"
    );
    for index in 0..published.len() {
        fake.deliver("s", index).await;
    }
    let end = "marker";
    server
        .publish_tagged("s", Event::data(end), Topics::new(["a"]))
        .await
        .unwrap();
    fake.deliver("s", published.len()).await;
    let marker = frame(1004, end);
    let until_marker = async |subscription: &mut Subscription| {
        let mut seen = Vec::new();
        loop {
            let text = next_text(subscription).await;
            if text == marker {
                return seen;
            }
            seen.push(text);
        }
    };
    assert_eq!(until_marker(&mut public_a).await, [frame(1000, "a")]);
    let with_secret = [frame(1000, "a"), frame(1002, "secret")];
    assert_eq!(until_marker(&mut may_see_a).await, with_secret);
    let untagged_or_public = [frame(1000, "a"), frame(1001, "b"), frame(1003, "plain")];
    assert_eq!(until_marker(&mut unfiltered).await, untagged_or_public);

    // Replayed from the shared log, with the same rule, for a resumer and
    // for one arriving after it that shares the read.
    let reads = fake.0.reads.load(Ordering::Acquire);
    for _ in 0..2 {
        let mut resumed = server
            .subscribe(
                "s",
                SubscribeRequest::new()
                    .topics(private_a.clone())
                    .last_event_id("1000-0"),
            )
            .await
            .unwrap();
        assert_eq!(
            until_marker(&mut resumed).await,
            [frame(1002, "secret")],
            "after 1000-0, across topics"
        );
    }
    assert_eq!(
        fake.0.reads.load(Ordering::Acquire) - reads,
        2,
        "one read, then the recent read extended"
    );
    server.close().await;
}

/// Through a backplane, every name a publisher invents is an auto-stream on
/// the node it published on: 60 new names with room for 20 are not all
/// accepted, and the streams go once idle (at once with an idle time of 0).
#[actix_rt::test]
async fn publishing_to_new_names_through_a_backplane_counts_against_the_auto_stream_limit() {
    let fake = Fake::default();
    let clock = sse_actors::ManualClock::new();
    let idle = Duration::from_secs(60);
    let server = Server::builder()
        .auto_stream(true)
        .arbiters(1)
        .keep_alive(None)
        .max_auto_streams(Some(20))
        .auto_stream_idle(idle)
        .clock(clock.clone())
        .backplane(Arc::new(fake.clone()))
        .build();
    let mut accepted = 0;
    for i in 0..60 {
        match server
            .publish_creating(&format!("n{i}"), Event::data("x"))
            .await
        {
            Ok(_) => accepted += 1,
            Err(sse_actors::PublishError::TooManyStreams { limit: 20, .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(accepted, 20);
    assert_eq!(
        fake.0.events.lock().unwrap().len(),
        20,
        "refused ones were not logged"
    );
    clock.advance(idle);
    tokio::time::timeout(Duration::from_secs(10), async {
        while server.stats().streams > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the idle streams to go");
    server
        .publish_creating("late", Event::data("x"))
        .await
        .unwrap();
    server.close().await;

    let server = Server::builder()
        .auto_stream(true)
        .arbiters(1)
        .keep_alive(None)
        .max_auto_streams(Some(1))
        .auto_stream_idle(Duration::ZERO)
        .backplane(Arc::new(Fake::default()))
        .build();
    for i in 0..5 {
        server
            .publish_creating(&format!("m{i}"), Event::data("x"))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), async {
            while server.stats().streams > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("a stream with no idle time goes at once");
    }
    server.close().await;
}

/// Subscribers resuming from the same id together (a node's clients after
/// a restart) share one read of the shared log and one copy of its frames,
/// bounded by the log's byte limit (the newest are kept).
#[actix_rt::test]
async fn subscribers_resuming_together_share_one_read_bounded_by_the_log_bytes() {
    const RESUMERS: usize = 8;
    let fake = Fake::default();
    let server = Server::builder()
        .auto_stream(true)
        .arbiters(1)
        .keep_alive(None)
        .log_limits(sse_actors::LogLimits {
            max_bytes: 5 * 1024,
            ..sse_actors::LogLimits::default()
        })
        .backplane(Arc::new(fake.clone()))
        .build();
    let data = "x".repeat(1000);
    for _ in 0..20 {
        server
            .publish("s", Event::data(data.as_str()))
            .await
            .unwrap();
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *fake.0.gate.lock().unwrap() = Some(Arc::clone(&gate));
    let first = GlobalId {
        millis: 1000,
        seq: 0,
    };
    let resumers =
        futures_util::future::join_all((0..RESUMERS).map(|_| {
            server.subscribe("s", SubscribeRequest::new().after(Position::Global(first)))
        }));
    // Every resumer watches the stream just before it reads: once all
    // have, the reads may end.
    let open = async {
        while fake.0.watches.load(Ordering::Acquire) < RESUMERS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        gate.add_permits(RESUMERS);
    };
    let (subscriptions, ()) = tokio::time::timeout(
        Duration::from_secs(10),
        futures_util::future::join(resumers, open),
    )
    .await
    .expect("the resumers to join");
    assert_eq!(fake.0.reads.load(Ordering::Acquire), 1, "one read for all");
    let mut firsts = Vec::new();
    for subscription in subscriptions {
        let mut subscription = subscription.unwrap();
        let queued = subscription.queued();
        assert!((1..20).contains(&queued), "{queued} replayed");
        let mut replayed = Vec::new();
        for _ in 0..queued {
            replayed.push(subscription.next().await.unwrap());
        }
        let bytes: usize = replayed.iter().map(|frame| frame.len()).sum();
        assert!(bytes <= 5 * 1024, "{bytes} bytes replayed");
        assert!(
            replayed.last().unwrap().starts_with(b"id: 1019-0\n"),
            "the newest are kept"
        );
        firsts.push(replayed[0].as_ptr());
    }
    assert!(
        firsts.windows(2).all(|pair| pair[0] == pair[1]),
        "every resumer holds the same copy"
    );
    server.close().await;
}

/// The reader waits while a stream holds its buffer of events not yet
/// fanned out, as publishers on one node do: nothing queues without bound
/// in the stream's mailbox.
#[actix_rt::test]
async fn a_backplane_reader_waits_while_the_stream_buffer_is_full() {
    use futures_util::FutureExt as _;

    let fake = Fake::default();
    // The stream runs on this thread: it drains only when the test yields.
    let server = Server::builder()
        .auto_stream(true)
        .arbiters(0)
        .keep_alive(None)
        .buffer_size(2)
        .backplane(Arc::new(fake.clone()))
        .build();
    let mut live = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap();
    for data in ["a", "b", "c"] {
        server.publish("s", Event::data(data)).await.unwrap();
    }
    fake.deliver("s", 0).await;
    fake.deliver("s", 1).await;
    let mut third = std::pin::pin!(fake.deliver("s", 2));
    assert!(
        third.as_mut().now_or_never().is_none(),
        "the third waits while two are not fanned out"
    );
    tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("the stream drains, then the third goes in");
    for (millis, data) in [(1000, "a"), (1001, "b"), (1002, "c")] {
        assert_eq!(next_text(&mut live).await, frame(millis, data));
    }
    server.close().await;
}

/// The frames a new subscription was replayed.
async fn replayed(subscription: &mut Subscription) -> Vec<Bytes> {
    let mut frames = Vec::new();
    for _ in 0..subscription.queued() {
        frames.push(subscription.next().await.unwrap());
    }
    frames
}

/// Subscribers resuming from the same id one after another (clients
/// reconnecting over their retry delays) share the frames read for the
/// first: a later one reads only what was published since. After the
/// window, a resumer reads afresh, so an old read is not held for good.
#[actix_rt::test]
async fn subscribers_resuming_shortly_after_one_another_share_the_first_read() {
    let fake = Fake::default();
    let clock = sse_actors::ManualClock::new();
    let server = Server::builder()
        .auto_stream(true)
        .arbiters(1)
        .keep_alive(None)
        .clock(clock.clone())
        .backplane(Arc::new(fake.clone()))
        .build();
    for n in 0..20 {
        server
            .publish("s", Event::data(format!("{n}")))
            .await
            .unwrap();
    }
    let resume = || SubscribeRequest::new().last_event_id("1000-0");
    let mut early = server.subscribe("s", resume()).await.unwrap();
    let early_frames = replayed(&mut early).await;
    assert_eq!(early_frames.len(), 19);

    // One more event, which the node has not read yet.
    server.publish("s", Event::data("new")).await.unwrap();
    let mut later = server.subscribe("s", resume()).await.unwrap();
    let later_frames = replayed(&mut later).await;
    assert_eq!(later_frames.len(), 20, "what it missed, the new event too");
    assert_eq!(later_frames[19], "id: 1020-0\ndata: new\n\n".as_bytes());
    assert_eq!(
        early_frames[0].as_ptr(),
        later_frames[0].as_ptr(),
        "the later resumer holds the first one's copy"
    );
    assert_eq!(
        fake.0.reads.load(Ordering::Acquire),
        2,
        "one full read, one of the tail"
    );

    clock.advance(Duration::from_secs(11));
    let mut late = server.subscribe("s", resume()).await.unwrap();
    let late_frames = replayed(&mut late).await;
    assert_eq!(late_frames.len(), 20);
    assert_ne!(
        early_frames[0].as_ptr(),
        late_frames[0].as_ptr(),
        "read afresh"
    );
    server.close().await;
}
