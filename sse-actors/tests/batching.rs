//! Events that reach a stream together are fanned out together: every
//! subscriber still gets each of them exactly once and in order, and a
//! subscriber that joins while some are waiting to be fanned out gets those
//! only by replay, never twice.

mod common;

use std::future::poll_fn;

use bytes::Bytes;
use common::*;
use sse_actors::{Event, Server, SubscribeRequest};

fn ids(frames: &[Bytes]) -> Vec<String> {
    frames
        .iter()
        .map(|frame| {
            let text = std::str::from_utf8(frame).unwrap();
            let id = text.lines().next().unwrap().strip_prefix("id: ").unwrap();
            seq_of(id).to_owned()
        })
        .collect()
}

fn server() -> Server {
    // One arbiter: the stream handles its messages strictly in the order
    // they were sent, so the publishes below wait in its mailbox together.
    Server::builder().arbiters(1).build()
}

#[actix_rt::test]
async fn a_subscriber_joining_behind_waiting_events_gets_each_once() {
    let server = server();
    let stream = server.create_stream("s").await.unwrap();
    let mut early = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    // Publishing returns once the event is accepted, before it is fanned
    // out: these five and the subscription below queue up in the mailbox.
    let mut ids = Vec::new();
    for i in 1..=5 {
        ids.push(
            stream
                .publish(Event::data(format!("e{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let mut late = stream
        .subscribe(SubscribeRequest::new().last_event_id(&*ids[1]))
        .await
        .unwrap();
    stream.publish(Event::data("e6")).await.unwrap();

    let mut early_frames = Vec::new();
    while early_frames.len() < 6 {
        early_frames.push(next(&mut early).await.expect("early ended"));
    }
    assert_eq!(self::ids(&early_frames), ["1", "2", "3", "4", "5", "6"]);

    let mut late_frames = Vec::new();
    while late_frames.len() < 4 {
        late_frames.push(next(&mut late).await.expect("late ended"));
    }
    assert_eq!(self::ids(&late_frames), ["3", "4", "5", "6"]);
    server.close().await;
    assert_eq!(drain(&mut early).await, Vec::<Bytes>::new());
    assert_eq!(drain(&mut late).await, Vec::<Bytes>::new(), "no duplicate");
}

#[actix_rt::test]
async fn poll_next_many_reads_queued_frames_within_the_byte_limit() {
    let server = server();
    let stream = server.create_stream("s").await.unwrap();
    let mut sub = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    for i in 1..=4 {
        stream.publish(Event::data(format!("e{i}"))).await.unwrap();
    }
    eventually("four frames queued", || sub.queued() == 4).await;
    // `id: EPOCH-N\ndata: eN\n\n` is 26 bytes: 60 bytes hold two frames, not three.
    let mut frames = Vec::new();
    let read = guarded(
        "frames",
        poll_fn(|cx| sub.poll_next_many(cx, &mut frames, 60)),
    )
    .await;
    assert_eq!((read, ids(&frames)), (2, vec!["1".into(), "2".into()]));
    // A limit smaller than one frame still reads one.
    let read = guarded(
        "a frame",
        poll_fn(|cx| sub.poll_next_many(cx, &mut frames, 1)),
    )
    .await;
    assert_eq!((read, ids(&frames[2..])), (1, vec!["3".to_owned()]));
    server.close().await;
    let read = guarded(
        "the last frame",
        poll_fn(|cx| sub.poll_next_many(cx, &mut frames, 1 << 20)),
    )
    .await;
    assert_eq!((read, ids(&frames[3..])), (1, vec!["4".to_owned()]));
    let read = guarded(
        "the end",
        poll_fn(|cx| sub.poll_next_many(cx, &mut frames, 1)),
    )
    .await;
    assert_eq!(read, 0, "the end, after what close left to read");
}
