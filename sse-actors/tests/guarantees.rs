//! One test per server guarantee of ARCHITECTURE.md ("Server semantics"),
//! named after the guarantee.

mod common;

use std::time::Duration;

use common::*;
use futures_util::FutureExt as _;
use sse_actors::{
    EndReason, Event, LogLimits, ManualClock, SlowSubscriberPolicy, StreamOptions, SubscribeError,
    SubscribeRequest,
};

#[actix_rt::test]
async fn event_log_is_bounded_by_count_evicting_the_oldest() {
    let limits = LogLimits {
        max_events: 10,
        max_bytes: 1024,
        max_age: None,
    };
    let server = server().log_limits(limits).build();
    let stream = server.create_stream("s").await.unwrap();
    for i in 0..1000 {
        stream
            .publish(Event::data(format!("event {i}")))
            .await
            .unwrap();
    }
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    let info = stream.info();
    assert_eq!(info.logged_events, 10);
    assert!(info.logged_bytes <= 1024);
    assert_eq!(sub.queued(), 10);
    assert_eq!(
        by_seq(next_str(&mut sub).await),
        "id: 991\ndata: event 990\n\n",
        "oldest evicted"
    );
    server.close().await;
}

#[actix_rt::test]
async fn event_log_is_bounded_by_bytes_and_age() {
    let limits = LogLimits {
        max_events: usize::MAX,
        max_bytes: 80,
        max_age: None,
    };
    let clock = ManualClock::new();
    let server = server().log_limits(limits).clock(clock.clone()).build();
    let stream = server.create_stream("s").await.unwrap();
    for _ in 0..10 {
        // "id: EPOCH-N\ndata: 0123456789\n\n" is 35 bytes for one digit.
        stream.publish(Event::data("0123456789")).await.unwrap();
    }
    let sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(sub.queued(), 2);
    assert!(stream.info().logged_bytes <= 80);
    drop(sub);

    let aged = LogLimits {
        max_age: Some(Duration::from_secs(1)),
        ..LogLimits::default()
    };
    let stream = server
        .create_stream_with("aged", StreamOptions::new().log_limits(aged))
        .await
        .unwrap();
    stream.publish(Event::data("old")).await.unwrap();
    clock.advance(Duration::from_millis(1001));
    stream.publish(Event::data("new")).await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 2\ndata: new\n\n");
    assert_eq!(sub.queued(), 0);
    server.close().await;
}

#[actix_rt::test]
async fn publisher_ids_are_kept_and_others_generated() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    let a = stream.publish(Event::data("a").id("user-7")).await.unwrap();
    let b = stream.publish(Event::data("b")).await.unwrap();
    assert_eq!((&*a.id, a.seq), ("user-7", 1));
    assert_eq!((seq_of(&b.id), b.seq), ("2", 2));
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(next_str(&mut sub).await, "id: user-7\ndata: a\n\n");
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 2\ndata: b\n\n");
    server.close().await;
}

#[actix_rt::test]
async fn publishing_one_event_twice_gives_two_ids() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    let event = Event::data("same");
    let first = stream.publish(event.clone()).await.unwrap();
    let second = stream.publish(event).await.unwrap();
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_ne!(first.id, second.id);
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 1\ndata: same\n\n");
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 2\ndata: same\n\n");
    server.close().await;
}

#[actix_rt::test]
async fn replay_starts_after_the_last_event_id() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    let mut ids = Vec::new();
    for data in ["a", "b", "c"] {
        ids.push(stream.publish(Event::data(data)).await.unwrap().id);
    }
    let mut sub = stream
        .subscribe(SubscribeRequest::new().last_event_id(&*ids[1]))
        .await
        .unwrap();
    assert_eq!(sub.queued(), 1, "only what follows id 2");
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 3\ndata: c\n\n");
    let caught_up = stream
        .subscribe(SubscribeRequest::new().last_event_id(&*ids[2]))
        .await
        .unwrap();
    assert_eq!(caught_up.queued(), 0);
    server.close().await;
}

#[actix_rt::test]
async fn last_event_ids_are_opaque_strings() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    stream.publish(Event::data("a").id("alpha")).await.unwrap();
    stream.publish(Event::data("b").id("beta")).await.unwrap();
    stream.publish(Event::data("c").id("gamma")).await.unwrap();
    let mut sub = stream
        .subscribe(SubscribeRequest::new().last_event_id("beta"))
        .await
        .unwrap();
    assert_eq!(next_str(&mut sub).await, "id: gamma\ndata: c\n\n");
    // An id the log never held (or evicted) is a visible gap, then what it
    // holds, in order.
    let mut sub = stream
        .subscribe(SubscribeRequest::new().last_event_id("no such id"))
        .await
        .unwrap();
    assert_eq!(next_str(&mut sub).await, "event: sse-gap\ndata: alpha\n\n");
    assert_eq!(next_str(&mut sub).await, "id: alpha\ndata: a\n\n");
    assert_eq!(next_str(&mut sub).await, "id: beta\ndata: b\n\n");
    assert_eq!(next_str(&mut sub).await, "id: gamma\ndata: c\n\n");
    server.close().await;
}

#[actix_rt::test]
async fn a_slow_subscriber_is_disconnected_without_holding_anyone_up() {
    let server = server().subscriber_queue(4).build();
    let stream = server.create_stream("s").await.unwrap();
    let mut slow = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    let mut fast = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    // The slow one never reads while 100 events are published; neither the
    // publisher nor `fast` waits on it (the guard would fire if they did).
    guarded("publisher and fast reader", async {
        for i in 0..100 {
            stream.publish(Event::data(i.to_string())).await.unwrap();
            let frame = next(&mut fast).await.expect("fast subscriber ended");
            assert_eq!(by_seq(frame), format!("id: {}\ndata: {i}\n\n", i + 1));
        }
    })
    .await;
    // The slow one was told: it drains its queue, then ends as Lagged.
    assert_eq!(slow.end_reason(), Some(EndReason::Lagged));
    let drained = drain(&mut slow).await;
    assert_eq!(drained.len(), 4);
    assert_eq!(by_seq(&drained[0]), "id: 1\ndata: 0\n\n");
    assert_eq!(server.stats().lagged, 1);
    // It reconnects with its Last-Event-ID and replays the rest.
    let mut again = stream
        .subscribe(SubscribeRequest::new().last_event_id(id_of(&drained[3])))
        .await
        .unwrap();
    assert_eq!(by_seq(next_str(&mut again).await), "id: 5\ndata: 4\n\n");
    assert_eq!(
        again.queued(),
        95,
        "replay is not limited by the queue size"
    );
    server.close().await;
}

#[actix_rt::test]
async fn a_slow_subscriber_queue_is_bounded_in_bytes_as_well_as_frames() {
    const EVENT: usize = 64 * 1024;
    const QUEUE_BYTES: usize = 256 * 1024;
    let server = server()
        .subscriber_queue(1024)
        .subscriber_queue_bytes(QUEUE_BYTES)
        .auto_replay(false)
        .build();
    let stream = server.create_stream("s").await.unwrap();
    let mut slow = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    let mut fast = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    let data = "x".repeat(EVENT);
    guarded("publisher and fast reader", async {
        for _ in 0..20 {
            stream.publish(Event::data(data.as_str())).await.unwrap();
            next(&mut fast).await.expect("fast subscriber ended");
        }
    })
    .await;
    // 20 frames are far under 1024, but 20 × 64 KiB is past 256 KiB.
    assert_eq!(slow.end_reason(), Some(EndReason::Lagged));
    let held: usize = drain(&mut slow).await.iter().map(|frame| frame.len()).sum();
    assert!(
        held <= QUEUE_BYTES && held > QUEUE_BYTES - 2 * EVENT,
        "the slow subscriber held {held} bytes"
    );
    assert_eq!(server.stats().lagged, 1);
    server.close().await;
}

#[actix_rt::test]
async fn all_logs_together_are_bounded_by_the_memory_budget_oldest_first() {
    const BUDGET: usize = 20 * 1024;
    let server = server().memory_budget(Some(BUDGET)).build();
    let old = server.create_stream("old").await.unwrap();
    let new = server.create_stream("new").await.unwrap();
    let data = "x".repeat(1000);
    for _ in 0..10 {
        old.publish(Event::data(data.as_str())).await.unwrap();
    }
    eventually("old's events to be logged", || {
        old.info().logged_events == 10
    })
    .await;
    let old_bytes = server.stats().log_bytes;
    assert_eq!(old_bytes, old.info().logged_bytes);
    // Each log is far under its own 8 MiB; together they pass the budget:
    // the oldest events anywhere, old's, go first, and publishing goes on.
    for _ in 0..15 {
        new.publish(Event::data(data.as_str())).await.unwrap();
    }
    eventually("the budget to evict old's oldest events", || {
        let stats = server.stats();
        new.info().logged_events == 15
            && stats.log_bytes <= BUDGET
            && stats.log_bytes == old.info().logged_bytes + new.info().logged_bytes
    })
    .await;
    let kept = old.info().logged_events;
    assert!((1..10).contains(&kept), "old kept {kept} events");
    let mut replay = old.subscribe(SubscribeRequest::new()).await.unwrap();
    let first_kept = 10 - kept as u64 + 1;
    for id in first_kept..=10 {
        assert!(by_seq(next_str(&mut replay).await).starts_with(&format!("id: {id}\n")));
    }
    server.close().await;
    assert_eq!(server.stats().log_bytes, 0, "every log freed");
}

/// Logged events go first, whatever stream holds them; once no log holds
/// anything more to evict, the subscriber holding the most queued bytes
/// is cut, and only as many as it takes.
#[actix_rt::test]
async fn past_the_memory_budget_logs_go_first_then_the_subscribers_holding_the_most() {
    const BUDGET: usize = 40 * 1024;
    let server = server().memory_budget(Some(BUDGET)).build();
    let older = server.create_stream("older").await.unwrap();
    let mut reader = older.subscribe(SubscribeRequest::new()).await.unwrap();
    let data = "x".repeat(1000);
    for _ in 0..5 {
        older.publish(Event::data(data.as_str())).await.unwrap();
        next(&mut reader).await.expect("the reader is not cut");
    }
    let stream = server.create_stream("s").await.unwrap();
    // `early` reads nothing from the start, `late` from the 30th event on:
    // both stall, far under their own queue bounds (1024 frames, 4 MiB).
    let mut early = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    let mut last = String::new();
    for _ in 0..30 {
        last = stream
            .publish(Event::data(data.as_str()))
            .await
            .unwrap()
            .id
            .to_string();
    }
    let late = stream
        .subscribe(SubscribeRequest::new().last_event_id(last))
        .await
        .unwrap();
    for _ in 0..30 {
        stream.publish(Event::data(data.as_str())).await.unwrap();
    }
    eventually("every event fanned out", || stream.info().buffered == 0).await;
    // Cut as lagged, its queue freed at once: what it alone held (events
    // 1-30) brought the bytes back under the budget, so `late` stays.
    assert_eq!(early.end_reason(), Some(EndReason::Lagged));
    assert!(drain(&mut early).await.is_empty(), "its frames were freed");
    assert_eq!(late.end_reason(), None);
    assert_eq!(late.queued(), 30);
    assert_eq!(older.info().logged_events, 0, "the oldest log went first");
    let stats = server.stats();
    assert!(
        stats.log_bytes + stats.unlogged_bytes <= BUDGET,
        "{} logged + {} unlogged bytes",
        stats.log_bytes,
        stats.unlogged_bytes
    );
    // Publishing goes on; the stream counts the cut subscriber as lagged.
    stream.publish(Event::data("after")).await.unwrap();
    eventually("the cut to be counted", || server.stats().lagged == 1).await;
    assert_eq!(reader.end_reason(), None);
    drop((reader, late));
    server.close().await;
    let stats = server.stats();
    assert_eq!((stats.log_bytes, stats.unlogged_bytes), (0, 0));
}

/// A frame held by a log and many queues is one frame: subscribers behind
/// by what the log holds anyway are not cut.
#[actix_rt::test]
async fn a_frame_the_log_and_every_queue_hold_counts_once_against_the_budget() {
    const BUDGET: usize = 40 * 1024;
    let server = server().memory_budget(Some(BUDGET)).build();
    let stream = server.create_stream("s").await.unwrap();
    let stalled: Vec<_> =
        futures_util::future::join_all((0..10).map(|_| stream.subscribe(SubscribeRequest::new())))
            .await;
    let data = "x".repeat(1000);
    for _ in 0..30 {
        stream.publish(Event::data(data.as_str())).await.unwrap();
    }
    eventually("every event fanned out", || stream.info().buffered == 0).await;
    let stats = server.stats();
    assert_eq!(stream.info().logged_events, 30);
    assert_eq!(stats.log_bytes, stream.info().logged_bytes);
    assert_eq!(stats.unlogged_bytes, 0, "every queued frame is also logged");
    for sub in &stalled {
        let sub = sub.as_ref().unwrap();
        assert_eq!((sub.end_reason(), sub.queued()), (None, 30));
    }
    assert_eq!(stats.lagged, 0);
    drop(stalled);
    server.close().await;
}

#[actix_rt::test]
async fn drop_oldest_policy_keeps_a_slow_subscriber_with_the_newest_frames() {
    let server = server()
        .subscriber_queue(3)
        .slow_subscriber(SlowSubscriberPolicy::DropOldest)
        .auto_replay(false)
        .build();
    let stream = server.create_stream("s").await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    for i in 1..=10 {
        stream.publish(Event::data(i.to_string())).await.unwrap();
    }
    eventually("all events fanned out", || stream.info().buffered == 0).await;
    assert_eq!(sub.dropped(), 7);
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 8\ndata: 8\n\n");
    assert_eq!(sub.end_reason(), None);
    server.close().await;
}

#[actix_rt::test]
async fn empty_data_and_comments_are_events_that_end_nothing() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    stream.publish(Event::data("")).await.unwrap();
    stream
        .publish(Event::default().comment("just a comment"))
        .await
        .unwrap();
    stream.publish(Event::data("after")).await.unwrap();
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 1\ndata:\n\n");
    assert_eq!(
        by_seq(next_str(&mut sub).await),
        "id: 2\n: just a comment\ndata:\n\n"
    );
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 3\ndata: after\n\n");
    assert_eq!(sub.end_reason(), None);
    server.close().await;
}

#[actix_rt::test]
async fn ttl_counts_from_publish_time_with_replay_off() {
    let clock = ManualClock::new();
    let server = server()
        .auto_replay(false)
        .event_ttl(Duration::from_secs(1))
        .clock(clock.clone())
        .build();
    let stream = server.create_stream("s").await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    stream.publish(Event::data("stale")).await.unwrap();
    eventually("the event to be queued", || sub.queued() == 1).await;
    // Older than the TTL by the time it is read: never delivered.
    clock.advance(Duration::from_millis(1001));
    stream.publish(Event::data("fresh")).await.unwrap();
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 2\ndata: fresh\n\n");
    server.close().await;
}

#[actix_rt::test]
async fn expired_events_are_not_replayed() {
    let clock = ManualClock::new();
    let server = server()
        .event_ttl(Duration::from_secs(1))
        .clock(clock.clone())
        .build();
    let stream = server.create_stream("s").await.unwrap();
    stream.publish(Event::data("stale")).await.unwrap();
    clock.advance(Duration::from_millis(1001));
    stream.publish(Event::data("fresh")).await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(by_seq(next_str(&mut sub).await), "id: 2\ndata: fresh\n\n");
    server.close().await;
}

#[actix_rt::test]
async fn remove_ends_every_subscription_at_once_and_frees_it() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    let mut subs = Vec::new();
    for _ in 0..20 {
        subs.push(stream.subscribe(SubscribeRequest::new()).await.unwrap());
    }
    stream.publish(Event::data("x")).await.unwrap();
    server.remove_stream("s").await;
    // Ended before remove_stream returned: no frame, no wait.
    for sub in &mut subs {
        assert_eq!(sub.end_reason(), Some(EndReason::StreamRemoved));
        assert!(futures_util::stream::FusedStream::is_terminated(sub));
        assert_eq!(sub.next_now(), Some(None));
    }
    assert_eq!(server.stats().subscriber_records, 0);
    assert_eq!(server.stats().streams, 0);
    drop(subs);
    all_freed(&server).await;
    server.close().await;
}

#[actix_rt::test]
async fn close_delivers_what_was_accepted_before_ending_every_subscription() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    let mut subs = Vec::new();
    for _ in 0..3 {
        subs.push(stream.subscribe(SubscribeRequest::new()).await.unwrap());
    }
    // Accepted: some are fanned out, some may still wait in the mailbox.
    for i in 1..=100 {
        stream.publish(Event::data(i.to_string())).await.unwrap();
    }
    server.close().await;
    assert!(stream.publish(Event::data("late")).await.is_err());
    let expected: Vec<String> = (1..=100)
        .map(|i| format!("id: {i}\ndata: {i}\n\n"))
        .collect();
    for sub in &mut subs {
        assert_eq!(sub.end_reason(), Some(EndReason::ServerClosed));
        let drained: Vec<String> = drain(sub).await.iter().map(by_seq).collect();
        assert_eq!(drained, expected);
    }
    drop(subs);
    all_freed(&server).await;
}

/// `close` returns once the connected subscribers have read what they were
/// owed (or left), not before.
#[actix_rt::test]
async fn close_waits_for_subscribers_to_read_what_they_are_owed() {
    let server = server().drain_timeout(GUARD * 2).build();
    let stream = server.create_stream("s").await.unwrap();
    let mut reader = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    let leaver = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    for i in 1..=10 {
        stream.publish(Event::data(i.to_string())).await.unwrap();
    }
    let closing = actix_rt::spawn({
        let server = server.clone();
        async move { server.close().await }
    });
    eventually("every stream to end", || server.stats().stream_actors == 0).await;
    assert!(!closing.is_finished(), "nothing was read yet");
    drop(leaver);
    assert_eq!(drain(&mut reader).await.len(), 10);
    guarded("close to return", closing).await.unwrap();
    drop(reader);
    all_freed(&server).await;
}

/// A subscriber that never reads holds `close` up to the drain timeout, no
/// longer; what it was owed stays readable.
#[actix_rt::test]
async fn close_waits_for_a_stalled_subscriber_only_until_the_drain_timeout() {
    let clock = ManualClock::new();
    let server = server()
        .drain_timeout(Duration::from_secs(30))
        .clock(clock.clone())
        .build();
    let stream = server.create_stream("s").await.unwrap();
    let mut stalled = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    stream.publish(Event::data("owed")).await.unwrap();
    let closing = actix_rt::spawn({
        let server = server.clone();
        async move { server.close().await }
    });
    eventually("every stream to end", || server.stats().stream_actors == 0).await;
    clock.advance(Duration::from_secs(29));
    assert!(!closing.is_finished());
    clock.advance(Duration::from_secs(1));
    guarded("close to return", closing).await.unwrap();
    let owed: Vec<String> = drain(&mut stalled).await.iter().map(by_seq).collect();
    assert_eq!(owed, ["id: 1\ndata: owed\n\n"]);
    drop(stalled);
    all_freed(&server).await;
}

#[actix_rt::test]
async fn subscribing_to_a_removed_stream_fails_at_once() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    server.remove_stream("s").await;
    let err = guarded(
        "subscribe to fail",
        stream.subscribe(SubscribeRequest::new()),
    )
    .await
    .unwrap_err();
    assert_eq!(err, SubscribeError::StreamRemoved { stream: "s".into() });
    let err = guarded(
        "subscribe to fail",
        server.subscribe("s", SubscribeRequest::new()),
    )
    .await
    .unwrap_err();
    assert_eq!(err, SubscribeError::UnknownStream { stream: "s".into() });
    server.close().await;
    let err = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap_err();
    assert_eq!(err, SubscribeError::ServerClosed);
}

#[actix_rt::test]
async fn idle_subscribers_get_keep_alive_comments() {
    let server = Server::builder()
        .arbiters(1)
        .keep_alive(Some(Duration::from_millis(20)))
        .build();
    let stream = server.create_stream("s").await.unwrap();
    let mut a = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    let mut b = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(next_str(&mut a).await, ": keep-alive\n");
    assert_eq!(next_str(&mut b).await, ": keep-alive\n");
    assert_eq!(next_str(&mut a).await, ": keep-alive\n");
    server.close().await;
}

use sse_actors::Server;

/// Polls once without waiting: `Some(item)` if ready.
trait NextNow {
    fn next_now(&mut self) -> Option<Option<bytes::Bytes>>;
}

impl NextNow for sse_actors::Subscription {
    fn next_now(&mut self) -> Option<Option<bytes::Bytes>> {
        futures_util::StreamExt::next(self).now_or_never()
    }
}
