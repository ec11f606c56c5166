//! Resuming by position: every frame says where its event sits in the
//! stream, and a subscriber resumes exactly after a position whatever the
//! events' wire ids.

mod common;

use std::future::poll_fn;

use common::{by_seq, next_str, server};
use sse_actors::{Delivery, Event, Position, SubscribeRequest, Subscription};

async fn deliveries(sub: &mut Subscription, count: usize) -> Vec<Delivery> {
    let mut out = Vec::new();
    while out.len() < count {
        let read = common::guarded(
            "deliveries",
            poll_fn(|cx| sub.poll_deliveries(cx, &mut out, 64 * 1024)),
        )
        .await;
        assert!(read > 0, "the subscription ended early");
    }
    out
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[actix_rt::test]
async fn every_frame_leads_with_its_id_line_and_says_its_position() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!(sub.start(), Position::Seq(0));
    stream.publish(Event::data("a")).await.unwrap();
    stream
        .publish(Event::data("b").id("order-7"))
        .await
        .unwrap();
    // The encoder writes a comment before the id; the stream moves it after.
    stream
        .publish(Event::data("c").id("x").comment("note"))
        .await
        .unwrap();
    stream.publish(Event::data("d").id("")).await.unwrap();
    let got = deliveries(&mut sub, 4).await;
    let seen: Vec<_> = got
        .iter()
        .map(|d| {
            (
                d.position,
                by_seq(&d.frame[..d.id_line]),
                text(&d.without_id()).to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                Some(Position::Seq(1)),
                "id: 1\n".to_owned(),
                "data: a\n\n".to_owned()
            ),
            (
                Some(Position::Seq(2)),
                "id: order-7\n".to_owned(),
                "data: b\n\n".to_owned()
            ),
            (
                Some(Position::Seq(3)),
                "id: x\n".to_owned(),
                ": note\ndata: c\n\n".to_owned()
            ),
            (
                Some(Position::Seq(4)),
                "id:\n".to_owned(),
                "data: d\n\n".to_owned()
            ),
        ]
    );
    server.close().await;
}

#[actix_rt::test]
async fn resuming_after_a_position_replays_exactly_what_followed_it() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    for data in ["a", "b", "c", "d"] {
        // Publisher ids: positions place events whatever their ids.
        stream
            .publish(Event::data(data).id(format!("own-{data}")))
            .await
            .unwrap();
    }
    let mut resumed = stream
        .subscribe(SubscribeRequest::new().after(Position::Seq(2)))
        .await
        .unwrap();
    assert_eq!(resumed.start(), Position::Seq(2));
    assert_eq!(next_str(&mut resumed).await, "id: own-c\ndata: c\n\n");
    assert_eq!(next_str(&mut resumed).await, "id: own-d\ndata: d\n\n");

    // A new subscriber replayed the whole log starts before its first event.
    let fresh = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!((fresh.start(), fresh.queued()), (Position::Seq(0), 4));
    // A position the stream never reached (an earlier run's) is not held:
    // a gap, then the whole log, as for an unknown id.
    let ahead = stream
        .subscribe(SubscribeRequest::new().after(Position::Seq(99)))
        .await
        .unwrap();
    assert_eq!((ahead.start(), ahead.queued()), (Position::Seq(0), 5));
    server.close().await;
}

#[actix_rt::test]
async fn without_a_log_a_subscriber_starts_at_the_streams_end() {
    let server = server().auto_replay(false).build();
    let stream = server.create_stream("s").await.unwrap();
    for data in ["a", "b", "c"] {
        stream.publish(Event::data(data)).await.unwrap();
    }
    common::eventually("fanned out", || stream.info().buffered == 0).await;
    let sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    assert_eq!((sub.start(), sub.queued()), (Position::Seq(3), 0));
    server.close().await;
}

/// A position is only meaningful in the life of the stream it was taken
/// in: resuming after one of an earlier life is a gap, however small.
#[actix_rt::test]
async fn a_position_of_another_epoch_is_a_gap_and_one_of_this_epoch_resumes() {
    let server = server().build();
    let stream = server.create_stream("s").await.unwrap();
    for data in ["a", "b", "c"] {
        stream.publish(Event::data(data)).await.unwrap();
    }
    let first = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    let epoch = first.epoch().expect("one node has epochs").to_owned();
    let mut same = stream
        .subscribe(SubscribeRequest::new().after_in(&epoch, Position::Seq(2)))
        .await
        .unwrap();
    assert_eq!(by_seq(next_str(&mut same).await), "id: 3\ndata: c\n\n");
    // The stream created again is a new life: position 2 is not its 2.
    server.remove_stream("s").await;
    let stream = server.create_stream("s").await.unwrap();
    for data in ["x", "y", "z"] {
        stream.publish(Event::data(data)).await.unwrap();
    }
    for earlier in [epoch.as_str(), ""] {
        let mut resumed = stream
            .subscribe(SubscribeRequest::new().after_in(earlier, Position::Seq(2)))
            .await
            .unwrap();
        assert!(
            next_str(&mut resumed).await.starts_with("event: sse-gap\n"),
            "epoch {earlier:?}"
        );
        assert_eq!(resumed.queued(), 3, "then what the new life holds");
    }
    let mut unchecked = stream
        .subscribe(SubscribeRequest::new().after(Position::Seq(2)))
        .await
        .unwrap();
    assert_eq!(by_seq(next_str(&mut unchecked).await), "id: 3\ndata: z\n\n");
    server.close().await;
}
