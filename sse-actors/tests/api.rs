//! The basic API end to end.

mod common;

use common::*;
use sse_actors::{EndReason, Event, SubscribeError, SubscribeRequest};

#[actix_rt::test]
async fn publish_reaches_subscriber_and_remove_ends_it() {
    let server = server().build();
    server.create_stream("news").await.unwrap();
    let mut sub = server
        .subscribe("news", SubscribeRequest::new())
        .await
        .unwrap();
    let p = server.publish("news", Event::data("hi")).await.unwrap();
    assert_eq!((p.seq, &*p.id), (1, "1"));
    assert_eq!(next_str(&mut sub).await, "id: 1\ndata: hi\n\n");
    assert!(server.remove_stream("news").await);
    assert_eq!(next(&mut sub).await, None);
    assert_eq!(sub.end_reason(), Some(EndReason::StreamRemoved));
    assert_eq!(
        server
            .subscribe("news", SubscribeRequest::new())
            .await
            .unwrap_err(),
        SubscribeError::UnknownStream {
            stream: "news".into()
        }
    );
    server.close().await;
    drop(sub);
    all_freed(&server).await;
}
