//! Ids are unique for the life of the data: generated ids never repeat
//! (after a restart, or for a stream created again), publisher ids a client
//! could not send back are refused, a repeated publication is not stored
//! twice, and a resume the log cannot serve is a visible gap.

mod common;

use std::time::Duration;

use common::*;
use sse_actors::{
    Event, FirstReplay, InvalidId, LogLimits, ManualClock, PublishError, ResumeGap,
    SubscribeRequest, TryPublishError,
};

#[actix_rt::test]
async fn an_id_from_before_a_restart_is_a_gap_not_a_resume_after_another_event() {
    let before = server().build();
    before.create_stream("s").await.unwrap();
    let mut seen = Vec::new();
    for data in ["a", "b", "c"] {
        seen.push(before.publish("s", Event::data(data)).await.unwrap().id);
    }
    before.close().await;

    // The next run publishes events 1-3 again.
    let after = server().build();
    after.create_stream("s").await.unwrap();
    let mut now = Vec::new();
    for data in ["x", "y", "z"] {
        now.push(after.publish("s", Event::data(data)).await.unwrap().id);
    }
    for (old, new) in seen.iter().zip(&now) {
        assert_ne!(old, new, "a generated id repeated after a restart");
        assert_eq!(seq_of(old), seq_of(new), "the same sequence number");
    }
    // A browser that saw "c" before the restart is told, then replayed all.
    let mut resumed = after
        .subscribe("s", SubscribeRequest::new().last_event_id(&*seen[2]))
        .await
        .unwrap();
    let gap = format!("event: sse-gap\ndata: {}\n\n", now[0]);
    assert_eq!(next_str(&mut resumed).await, gap);
    assert_eq!(by_seq(next_str(&mut resumed).await), "id: 1\ndata: x\n\n");
    assert_eq!(resumed.queued(), 2);
    after.close().await;
}

#[actix_rt::test]
async fn a_stream_created_again_generates_new_ids() {
    let server = server().build();
    server.create_stream("s").await.unwrap();
    let first = server.publish("s", Event::data("a")).await.unwrap();
    assert!(server.remove_stream("s").await);
    server.create_stream("s").await.unwrap();
    let again = server.publish("s", Event::data("b")).await.unwrap();
    assert_eq!((first.seq, again.seq), (1, 1));
    assert_ne!(first.id, again.id);
    let mut resumed = server
        .subscribe("s", SubscribeRequest::new().last_event_id(&*first.id))
        .await
        .unwrap();
    let gap = format!("event: sse-gap\ndata: {}\n\n", again.id);
    assert_eq!(next_str(&mut resumed).await, gap);
    server.close().await;
}

#[actix_rt::test]
async fn a_publication_repeating_a_logged_id_is_answered_with_the_first_and_not_stored() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    let first = stream
        .publish(Event::data("once").id("order-7"))
        .await
        .unwrap();
    stream.publish(Event::data("other")).await.unwrap();
    let retry = stream
        .publish(Event::data("once").id("order-7"))
        .await
        .unwrap();
    assert_eq!(
        (&*retry.id, retry.seq, retry.duplicate, first.duplicate),
        ("order-7", first.seq, true, false)
    );
    let retry = stream
        .try_publish(Event::data("once").id("order-7"))
        .unwrap();
    assert!(retry.duplicate);
    let sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(sub.queued(), 2, "stored once");
    assert_eq!(stream.info().published, 2);
    server.close().await;
}

#[actix_rt::test]
async fn an_id_is_remembered_for_as_many_events_as_the_log_keeps() {
    let limits = LogLimits {
        max_events: 2,
        ..LogLimits::default()
    };
    let server = server().log_limits(limits).build();
    let stream = server.create_stream("s").await.unwrap();
    stream.publish(Event::data("a").id("a")).await.unwrap();
    stream.publish(Event::data("b")).await.unwrap();
    assert!(
        stream
            .publish(Event::data("a").id("a"))
            .await
            .unwrap()
            .duplicate
    );
    stream.publish(Event::data("c")).await.unwrap();
    // "a" left the log: publishing it again is a new event.
    let again = stream.publish(Event::data("a").id("a")).await.unwrap();
    assert_eq!((again.seq, again.duplicate), (4, false));
    server.close().await;
}

#[actix_rt::test]
async fn publisher_ids_a_client_cannot_send_back_are_refused_with_the_reason() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    for (id, reason) in [
        (" padded", InvalidId::SurroundingWhitespace),
        ("padded\t", InvalidId::ControlCharacter),
        ("bell\u{1}", InvalidId::ControlCharacter),
    ] {
        let refused = stream.publish(Event::data("x").id(id)).await.unwrap_err();
        assert_eq!(refused, PublishError::InvalidId(reason.clone()), "{id:?}");
        let refused = stream.try_publish(Event::data("x").id(id)).unwrap_err();
        assert_eq!(refused, TryPublishError::InvalidId(reason), "{id:?}");
    }
    // An id of the stream's generated form could name two events.
    let generated = stream.publish(Event::data("x")).await.unwrap().id;
    let (epoch, _) = generated.rsplit_once('-').unwrap();
    let refused = stream
        .publish(Event::data("x").id(format!("{epoch}-9")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            PublishError::InvalidId(InvalidId::GeneratedForm { .. })
        ),
        "{refused}"
    );
    assert_eq!(stream.info().published, 1, "nothing else was taken");
    server.close().await;
}

#[actix_rt::test]
async fn a_retry_above_the_limit_is_refused() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    let day = Duration::from_secs(86_400);
    let refused = stream
        .publish(Event::data("x").retry(day))
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        PublishError::RetryTooLong {
            retry: day,
            max: Duration::from_secs(60)
        }
    );
    stream
        .publish(Event::data("x").retry(Duration::from_secs(60)))
        .await
        .unwrap();
    server.close().await;

    let server = common::server().max_retry(Duration::from_secs(1)).build();
    let stream = server.create_stream("s").await.unwrap();
    let refused = stream
        .try_publish(Event::data("x").retry(Duration::from_millis(1001)))
        .unwrap_err();
    assert!(matches!(refused, TryPublishError::RetryTooLong { .. }));
    server.close().await;
}

#[actix_rt::test]
async fn a_resume_past_events_evicted_by_age_is_a_gap_on_the_virtual_clock() {
    let clock = ManualClock::new();
    let limits = LogLimits {
        max_age: Some(Duration::from_secs(60)),
        ..LogLimits::default()
    };
    let server = server().clock(clock.clone()).log_limits(limits).build();
    let stream = server.create_stream("s").await.unwrap();
    let old = stream.publish(Event::data("old")).await.unwrap();
    stream.publish(Event::data("missed")).await.unwrap();
    clock.advance(Duration::from_secs(61));
    let kept = stream.publish(Event::data("kept")).await.unwrap();
    let mut resumed = stream
        .subscribe(SubscribeRequest::new().last_event_id(&*old.id))
        .await
        .unwrap();
    let gap = format!("event: sse-gap\ndata: {}\n\n", kept.id);
    assert_eq!(next_str(&mut resumed).await, gap);
    assert_eq!(
        by_seq(next_str(&mut resumed).await),
        "id: 3\ndata: kept\n\n"
    );
    // Resuming after the newest evicted event misses nothing: no gap.
    let mut exact = stream
        .subscribe(SubscribeRequest::new().last_event_id(seq_prefix(&old.id, 2)))
        .await
        .unwrap();
    assert_eq!(by_seq(next_str(&mut exact).await), "id: 3\ndata: kept\n\n");
    server.close().await;
}

/// The generated id of event `seq` of the stream that generated `id`.
fn seq_prefix(id: &str, seq: u64) -> String {
    let (epoch, _) = id.rsplit_once('-').unwrap();
    format!("{epoch}-{seq}")
}

#[actix_rt::test]
async fn the_operator_chooses_what_a_gap_and_a_new_subscriber_get() {
    let server = server()
        .on_resume_gap(ResumeGap::LiveOnly)
        .first_replay(FirstReplay::Nothing)
        .build();
    let stream = server.create_stream("s").await.unwrap();
    for data in ["a", "b", "c"] {
        stream.publish(Event::data(data)).await.unwrap();
    }
    let mut gap = stream
        .subscribe(SubscribeRequest::new().last_event_id("gone"))
        .await
        .unwrap();
    let new = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(next_str(&mut gap).await, "event: sse-gap\ndata: \n\n");
    assert_eq!((gap.queued(), new.queued()), (0, 0), "live only");
    stream.publish(Event::data("live")).await.unwrap();
    assert_eq!(by_seq(next_str(&mut gap).await), "id: 4\ndata: live\n\n");
    server.close().await;

    let server = common::server().first_replay(FirstReplay::Last(2)).build();
    let stream = server.create_stream("s").await.unwrap();
    for data in ["a", "b", "c"] {
        stream.publish(Event::data(data)).await.unwrap();
    }
    let mut new = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(by_seq(next_str(&mut new).await), "id: 2\ndata: b\n\n");
    assert_eq!(new.queued(), 1);
    server.close().await;
}

#[actix_rt::test]
async fn a_resume_past_events_the_memory_budget_evicted_is_a_gap() {
    const BUDGET: usize = 8 * 1024;
    let server = server().memory_budget(Some(BUDGET)).build();
    let old = server.create_stream("old").await.unwrap();
    let new = server.create_stream("new").await.unwrap();
    let data = "x".repeat(1000);
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(old.publish(Event::data(data.as_str())).await.unwrap().id);
    }
    eventually("old's events to be logged", || {
        old.info().logged_events == 4
    })
    .await;
    // Another stream's events push old's oldest out of the shared budget.
    for _ in 0..6 {
        new.publish(Event::data(data.as_str())).await.unwrap();
    }
    eventually("the budget to evict old's oldest events", || {
        new.info().logged_events == 6 && old.info().logged_events < 4
    })
    .await;
    let kept = old.info().logged_events;
    let mut resumed = old
        .subscribe(SubscribeRequest::new().last_event_id(&*ids[0]))
        .await
        .unwrap();
    let first_kept = ids.get(4 - kept).map_or("", |id| &**id);
    let gap = format!("event: sse-gap\ndata: {first_kept}\n\n");
    assert_eq!(next_str(&mut resumed).await, gap, "old kept {kept}");
    assert_eq!(resumed.queued(), kept);
    server.close().await;
}
