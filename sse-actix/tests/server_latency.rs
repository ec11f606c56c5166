//! `Sse::observe_delivery_latency`: the publish-to-write wait is reported
//! for live events, on single- and multi-stream responses, and never for
//! replayed ones.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sse_actix::server::Sse;
use sse_actors::{Event, Server};
use sse_testkit::{EventClient, TestServer, until};

type Waits = Arc<Mutex<Vec<Duration>>>;

async fn serve(streams: &[&str]) -> (Server, TestServer, Waits) {
    let server = Server::builder().arbiters(1).keep_alive(None).build();
    for name in streams {
        server.create_stream(name).await.unwrap();
    }
    let waits = Waits::default();
    let seen = Arc::clone(&waits);
    let sse = Sse::new(server.clone())
        .max_streams_per_connection(2)
        .observe_delivery_latency(move |wait| seen.lock().unwrap().push(wait));
    (server, TestServer::start(sse), waits)
}

#[actix_web::test]
async fn live_events_report_their_wait_and_replayed_ones_do_not() {
    let (server, http, waits) = serve(&["s"]).await;
    let mut ids = Vec::new();
    for data in ["old1", "old2", "old3"] {
        ids.push(server.publish("s", Event::data(data)).await.unwrap().id);
    }
    let mut events =
        EventClient::open_with(&http.url("/events?stream=s"), &[("Last-Event-ID", &ids[0])]).await;
    let replayed = events.events(2).await;
    assert_eq!(&*replayed[1].data, "old3");
    assert!(waits.lock().unwrap().is_empty(), "a replay is not a wait");

    let before = Instant::now();
    server.publish("s", Event::data("live")).await.unwrap();
    assert_eq!(&*events.events(1).await[0].data, "live");
    let bound = before.elapsed();
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1, "one chunk, one wait: {waits:?}");
    assert!(
        waits[0] <= bound,
        "{:?} waited longer than {bound:?}",
        waits[0]
    );
}

#[actix_web::test]
async fn a_multi_stream_response_reports_the_wait_of_each_chunk() {
    let (server, http, waits) = serve(&["a", "b"]).await;
    let mut events = EventClient::open(&http.url("/events?stream=a&stream=b")).await;
    until("both subscribed", async || {
        server.stats().subscriber_actors == 2
    })
    .await;
    server.publish("a", Event::data("1")).await.unwrap();
    server.publish("b", Event::data("2")).await.unwrap();
    events.events(2).await;
    let count = waits.lock().unwrap().len();
    assert!(
        (1..=2).contains(&count),
        "{count} chunks observed for 2 events"
    );
}
