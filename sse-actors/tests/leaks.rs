//! Nothing outlives its use: after any order of unsubscribing, removing
//! streams, closing and dropping the server, every actor, queue and
//! subscriber record is freed (counted by `Server::stats`).

mod common;

use common::*;
use sse_actors::{EndReason, Event, SubscribeRequest, Subscription};

#[derive(Clone, Copy, Debug)]
enum Step {
    DropSubscriptions,
    RemoveStream,
    Close,
    DropServer,
}

fn permutations(steps: &[Step]) -> Vec<Vec<Step>> {
    if steps.len() <= 1 {
        return vec![steps.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..steps.len() {
        let mut rest = steps.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            out.push(tail);
        }
    }
    out
}

/// Every order of the four ways state goes away, with live, replayed,
/// lagged and auto-created subscribers in play.
#[actix_rt::test]
async fn every_order_of_unsubscribe_remove_close_and_drop_frees_everything() {
    let all = [
        Step::DropSubscriptions,
        Step::RemoveStream,
        Step::Close,
        Step::DropServer,
    ];
    for order in permutations(&all) {
        let server = server()
            .arbiters(2)
            .subscriber_queue(2)
            .auto_stream(true)
            .build();
        let probe = server.stats_probe();
        let stream = server.create_stream("s").await.unwrap();
        for i in 0..3 {
            stream.publish(Event::data(i.to_string())).await.unwrap();
        }
        let mut subs: Vec<Subscription> = Vec::new();
        for _ in 0..5 {
            subs.push(stream.subscribe(SubscribeRequest::new()).await.unwrap());
        }
        subs.push(
            server
                .subscribe("auto", SubscribeRequest::new())
                .await
                .unwrap(),
        );
        subs.push(
            stream
                .subscribe(SubscribeRequest::new().last_event_id("1"))
                .await
                .unwrap(),
        );
        // Overflow the two-frame queues: every subscriber of "s" lags.
        for i in 3..6 {
            stream.publish(Event::data(i.to_string())).await.unwrap();
        }
        drop(stream);
        let mut server = Some(server);
        for step in &order {
            match step {
                Step::DropSubscriptions => subs.clear(),
                Step::RemoveStream => {
                    if let Some(server) = &server {
                        server.remove_stream("s").await;
                        server.remove_stream("auto").await;
                    }
                }
                Step::Close => {
                    if let Some(server) = &server {
                        server.close().await;
                    }
                }
                Step::DropServer => server = None,
            }
        }
        // Whatever is still held has ended, with a reason.
        for sub in &mut subs {
            drain(sub).await;
            assert!(sub.end_reason().is_some(), "{order:?}");
        }
        drop(subs);
        drop(server);
        all_freed_probe(&probe).await;
    }
}

#[actix_rt::test]
async fn dropping_the_server_without_close_ends_subscriptions() {
    let server = server().build();
    let probe = server.stats_probe();
    server.create_stream("s").await.unwrap();
    let mut sub = server
        .subscribe("s", SubscribeRequest::new())
        .await
        .unwrap();
    drop(server);
    assert!(drain(&mut sub).await.is_empty());
    assert_eq!(sub.end_reason(), Some(EndReason::ServerClosed));
    drop(sub);
    all_freed_probe(&probe).await;
}

#[actix_rt::test]
async fn churn_of_many_subscribers_leaves_nothing() {
    let server = server().arbiters(2).build();
    let stream = server.create_stream("s").await.unwrap();
    for round in 0..20 {
        let mut subs = Vec::new();
        for _ in 0..50 {
            subs.push(stream.subscribe(SubscribeRequest::new()).await.unwrap());
        }
        stream
            .publish(Event::data(round.to_string()))
            .await
            .unwrap();
        // Drop half at once, read the rest.
        subs.truncate(25);
        for sub in &mut subs {
            next(sub).await.unwrap();
        }
    }
    eventually("every subscriber to leave", || {
        stream.info().subscribers == 0
    })
    .await;
    let stats = server.stats();
    assert_eq!(
        (
            stats.subscriber_actors,
            stats.subscriber_records,
            stats.queues
        ),
        (0, 0, 0)
    );
    server.close().await;
    all_freed(&server).await;
}

#[actix_rt::test]
async fn closing_twice_and_using_a_closed_server_is_harmless() {
    let server = server().build();
    server.create_stream("s").await.unwrap();
    server.close().await;
    server.close().await;
    assert!(server.is_closed());
    assert!(server.create_stream("t").await.is_err());
    assert!(!server.remove_stream("s").await);
    assert!(server.streams().await.is_empty());
    all_freed(&server).await;
}
