//! Ending one subscriber from the server's side: by its id, or by a
//! predicate over who it is.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use sse_actors::{EndReason, Event, SubscribeRequest, SubscriberInfo};

type Seen = Arc<Mutex<Vec<(u64, String)>>>;

fn recorder(
    seen: &Seen,
    tag: &'static str,
) -> impl Fn(&str, &SubscriberInfo) + Send + Sync + use<> {
    let seen = Arc::clone(seen);
    move |_, info| seen.lock().unwrap().push((info.id, tag.to_owned()))
}

#[actix_rt::test]
async fn kicking_a_subscriber_by_id_ends_it_alone_with_one_unsubscribe() {
    let seen: Seen = Arc::default();
    let server = server()
        .on_subscribe(recorder(&seen, "subscribed"))
        .on_unsubscribe(recorder(&seen, "unsubscribed"))
        .build();
    let stream = server.create_stream("s").await.unwrap();
    let mut kept = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    let mut kicked = stream.subscribe(SubscribeRequest::new()).await.unwrap();
    stream.publish(Event::data("before")).await.unwrap();
    eventually("the event to be queued", || kicked.queued() == 1).await;
    // The id the on-subscribe callback saw.
    let id = seen.lock().unwrap()[1].0;
    assert_eq!(id, kicked.id());

    assert!(server.kick(id).await);
    assert_eq!(
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(i, _)| *i == id)
            .count(),
        2,
        "on_unsubscribe ran before kick returned: {seen:?}"
    );
    assert_eq!(kicked.end_reason(), Some(EndReason::Kicked));
    assert!(
        drain(&mut kicked).await.is_empty(),
        "what it had queued is dropped"
    );
    assert!(!server.kick(id).await, "it is gone");
    assert_eq!(server.stats().ended_kicked, 1);

    stream.publish(Event::data("after")).await.unwrap();
    assert_eq!(by_seq(next_str(&mut kept).await), "id: 1\ndata: before\n\n");
    assert_eq!(by_seq(next_str(&mut kept).await), "id: 2\ndata: after\n\n");
    server.close().await;
    drop((kept, kicked));
    all_freed(&server).await;
    let unsubscribed = |i| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(id, tag)| *id == i && tag == "unsubscribed")
            .count()
    };
    assert_eq!(unsubscribed(id), 1, "exactly once, also after close");
}

#[actix_rt::test]
async fn kicking_by_predicate_ends_every_match_on_every_stream() {
    let server = server().arbiters(2).build();
    let mut subs = Vec::new();
    for stream in ["a", "b"] {
        server.create_stream(stream).await.unwrap();
        for user in ["user-1", "user-2"] {
            let request = SubscribeRequest::new().label(user);
            subs.push(server.subscribe(stream, request).await.unwrap());
        }
    }
    let kicked = server
        .kick_where(|info| info.label.as_deref() == Some("user-1"))
        .await;
    assert_eq!(kicked, 2);
    for sub in &subs {
        let expected = match sub.info().label.as_deref() {
            Some("user-1") => Some(EndReason::Kicked),
            _ => None,
        };
        assert_eq!(sub.end_reason(), expected, "{:?}", sub.info());
    }
    assert_eq!(server.kick_where(|_| false).await, 0);
    server.close().await;
}
