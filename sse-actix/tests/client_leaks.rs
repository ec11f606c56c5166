//! Cancellation leaves nothing behind: 1,000 subscribe/cancel cycles of each
//! form, then the client's live counters and the server's open responses
//! must all be back to zero.

use std::time::Duration;

use futures_util::StreamExt as _;
use sse_actix::client::{Client, LiveCounts};
use sse_testkit::scripted::{End, Reply, ScriptedServer, eventually, fast, within};
use tokio::sync::{mpsc, oneshot};

const CYCLES: usize = 1_000;

fn server() -> ScriptedServer {
    // One event, then keep-alive comments forever: only the client can end
    // the response, and the writes let the server notice it promptly.
    ScriptedServer::start(|_, _| {
        Reply::sse(
            vec!["id: 1\ndata: hello\n\n".into()],
            End::KeepAlive(Duration::from_millis(20)),
        )
    })
}

async fn assert_nothing_left(client: &Client, server: &ScriptedServer) {
    eventually("client counters back to zero", || {
        client.live() == LiveCounts::default()
    })
    .await;
    eventually("server responses closed", || server.open() == 0).await;
}

#[actix_web::test]
async fn dropping_streams_leaks_nothing() {
    let server = server();
    let client = fast(Client::builder(&server.url)).build();
    for _ in 0..CYCLES {
        let mut stream = client.stream();
        let event = within("event", stream.next()).await.unwrap().unwrap();
        assert_eq!(event.data, "hello");
        assert_eq!(client.live().connections, 1);
    }
    assert_nothing_left(&client, &server).await;
    assert_eq!(server.request_count(), CYCLES);
}

#[actix_web::test]
async fn unsubscribing_channels_leaks_nothing() {
    let server = server();
    let client = fast(Client::builder(&server.url)).build();
    for _ in 0..CYCLES {
        let (tx, mut rx) = mpsc::channel(4);
        let subscription = client.subscribe_chan("s", tx);
        assert_eq!(within("event", rx.recv()).await.unwrap().data, "hello");
        subscription.unsubscribe();
        assert!(within("join", subscription.join()).await.is_ok());
        // The task dropped its sender: nothing else holds one.
        assert!(within("closed", rx.recv()).await.is_none());
    }
    assert_nothing_left(&client, &server).await;
}

#[actix_web::test]
async fn cancelling_handlers_leaks_nothing() {
    let server = server();
    let client = fast(Client::builder(&server.url)).build();
    for _ in 0..CYCLES {
        let (cancel, cancelled) = oneshot::channel::<()>();
        let mut cancel = Some(cancel);
        let result = within(
            "handler",
            client.subscribe_raw_with_cancel(
                async move {
                    let _ = cancelled.await;
                },
                move |_| drop(cancel.take()),
            ),
        )
        .await;
        assert!(result.is_ok());
    }
    assert_nothing_left(&client, &server).await;
}

#[actix_web::test]
async fn dropping_during_the_backoff_sleep_cancels_it() {
    // Every response ends at once; the delay before reconnecting is long.
    let server = ScriptedServer::start(|_, _| Reply::sse(vec!["data: x\n\n".into()], End::Eof));
    let client = Client::builder(&server.url)
        .initial_delay(Duration::from_secs(3600))
        .delay_bounds(Duration::from_secs(3600), Duration::from_secs(3600))
        .build();
    let mut stream = client.stream();
    assert!(within("event", stream.next()).await.unwrap().is_ok());
    assert!(within("end", stream.next()).await.unwrap().is_err());
    // The stream is now waiting an hour; a receiver dropping it must not.
    let task = actix_rt::spawn(async move { stream.next().await.map(|_| ()) });
    eventually("sleeping", || client.live().connections == 0).await;
    task.abort();
    assert_nothing_left(&client, &server).await;
    assert_eq!(server.request_count(), 1);
}

#[actix_web::test]
async fn a_dropped_receiver_ends_the_task_even_on_a_quiet_stream() {
    let server = server();
    let client = fast(Client::builder(&server.url)).build();
    let (tx, mut rx) = mpsc::channel(1);
    let subscription = client.subscribe_chan_raw(tx);
    assert!(within("event", rx.recv()).await.is_some());
    drop(rx);
    assert!(within("join", subscription.join()).await.is_ok());
    assert_nothing_left(&client, &server).await;
}
