//! `Server::stats()` running totals for operators (the hub's metrics):
//! frames delivered and replayed, and subscriptions ended by reason.

mod common;

use common::*;
use sse_actors::{Event, SubscribeRequest};

#[actix_rt::test]
async fn delivered_replayed_and_ended_by_reason_are_counted() {
    let server = server().build();
    server.create_stream("s").await.unwrap();
    // Reading both events from a subscriber proves they are in the log.
    let mut first = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for data in ["1", "2"] {
        ids.push(server.publish("s", Event::data(data)).await.unwrap().id);
    }
    assert_eq!(by_seq(next_str(&mut first).await), "id: 1\ndata: 1\n\n");
    assert_eq!(by_seq(next_str(&mut first).await), "id: 2\ndata: 2\n\n");
    // An id the log does not hold replays the whole log (after the gap
    // event, which is no replayed event); its newest id replays nothing.
    let resumed = server
        .subscribe("s", SubscribeRequest::new().last_event_id("unknown"))
        .await
        .unwrap();
    let mut current = server
        .subscribe("s", SubscribeRequest::new().last_event_id(&*ids[1]))
        .await
        .unwrap();
    assert_eq!(server.stats().replayed, 2);
    server.publish("s", Event::data("3")).await.unwrap();
    assert_eq!(by_seq(next_str(&mut current).await), "id: 3\ndata: 3\n\n");
    eventually("two live frames to one, then one to each of three", || {
        server.stats().delivered == 5
    })
    .await;
    drop(first);
    drop(resumed);
    eventually("the dropped ones are counted", || {
        server.stats().ended_unsubscribed == 2
    })
    .await;
    assert!(server.remove_stream("s").await);
    assert_eq!(drain(&mut current).await, Vec::<bytes::Bytes>::new());
    eventually("the removed stream's subscriber is counted", || {
        server.stats().ended_stream_removed == 1
    })
    .await;

    server.create_stream("t").await.unwrap();
    let mut last = server
        .subscribe("t", SubscribeRequest::new())
        .await
        .unwrap();
    server.close().await;
    assert_eq!(drain(&mut last).await, Vec::<bytes::Bytes>::new());
    eventually("the closed server's subscriber is counted", || {
        server.stats().ended_server_closed == 1
    })
    .await;
    let stats = server.stats();
    assert_eq!(
        (
            stats.ended_unsubscribed,
            stats.ended_stream_removed,
            stats.lagged
        ),
        (2, 1, 0),
        "each end counted once: {stats:?}"
    );
    drop((current, last));
    all_freed(&server).await;
}
