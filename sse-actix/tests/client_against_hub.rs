//! Our client against our own server: the HTTP server is killed while events
//! are being published and restarted on the same port; the client must resume
//! with `Last-Event-ID` and see every event exactly once, in order.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use sse_actix::client::Client;
use sse_actix::server::Sse;
use sse_actors::Server;
use sse_proto::Event;
use sse_testkit::{GUARD, TestServer, seq_of};

const EVENTS: u64 = 30;

fn serve(sse: &Sse, listener: TcpListener) -> TestServer {
    let sse = sse.clone();
    TestServer::listen(listener, move |cfg| {
        cfg.service(sse.resource("/events"));
    })
}

#[actix_web::test]
async fn killed_and_restarted_hub_resumes_without_loss_or_duplicate() {
    let presented = Arc::new(Mutex::new(Vec::new()));
    let seen_ids = Arc::clone(&presented);
    let server = Server::builder()
        .auto_replay(true)
        .on_subscribe(move |_, info| {
            seen_ids.lock().unwrap().push(info.last_event_id.clone());
        })
        .build();
    server.create_stream("s").await.unwrap();
    let sse = Sse::new(server.clone());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let http = serve(&sse, listener);

    let client = Client::builder(format!("http://{addr}/events"))
        .initial_delay(Duration::from_millis(5))
        .delay_bounds(Duration::from_millis(1), Duration::from_millis(50))
        .build();
    let mut events = client.stream_of("s");

    // Publish continuously, so the kill lands in the middle of the stream.
    let publisher = server.clone();
    let publishing = actix_web::rt::spawn(async move {
        for i in 1..=EVENTS {
            publisher
                .publish("s", Event::data(format!("event {i}")))
                .await
                .unwrap();
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
    });

    let mut received = Vec::new();
    let mut restarted = None;
    tokio::time::timeout(GUARD, async {
        while received.len() < EVENTS as usize {
            match events.next().await {
                Some(Ok(event)) => received.push((
                    seq_of(event.id.as_deref().unwrap_or_default()).to_owned(),
                    event.data.to_string(),
                )),
                Some(Err(_)) => {} // the loss of the connection; it goes on
                None => panic!("the client gave up after {received:?}"),
            }
            if received.len() == 10 && restarted.is_none() {
                http.kill().await;
                // Events published while no HTTP server listens go to the log.
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                let listener = TcpListener::bind(addr).expect("rebind the same port");
                restarted = Some(serve(&sse, listener));
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only received {received:?}"));
    publishing.await.unwrap();

    let expected: Vec<_> = (1..=EVENTS)
        .map(|i| (i.to_string(), format!("event {i}")))
        .collect();
    assert_eq!(received, expected);
    let presented = presented.lock().unwrap().clone();
    assert_eq!(presented.first(), Some(&None));
    assert!(
        presented[1..].iter().all(|id| id.is_some()),
        "every reconnection presents a Last-Event-ID: {presented:?}"
    );
    // The client may have read a little past event 10 before the kill.
    let resumed_after: u64 = seq_of(presented[1].as_deref().unwrap()).parse().unwrap();
    assert!((10..EVENTS).contains(&resumed_after), "{presented:?}");
}
