//! The client's public API, one behaviour per test: every way to consume a
//! stream, the callbacks, validation, decoding options and cancellation.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use sse_actix::client::{
    Client, ConstantBackoff, Error, Frame, HttpErrorPolicy, LiveCounts, MaxRetries,
};
use sse_testkit::scripted::{End, Reply, ScriptedServer, eventually, fast, within};
use tokio::sync::{mpsc, oneshot, watch};

const MULTILINE: &str = "{\n\t\"key\": \"value\",\n\t\"array\": [\n\t\t1,\n\t\t2,\n\t\t3\n\t]\n}";

fn pings(n: usize) -> ScriptedServer {
    ScriptedServer::start(move |_, _| {
        Reply::sse(
            vec!["data: ping\n\n".to_owned(); n],
            End::KeepAlive(Duration::from_millis(20)),
        )
    })
}

/// Runs a handler subscription until `n` events arrived; returns them.
async fn subscribe_n(client: &Client, stream: &str, n: usize) -> Vec<sse_actix::client::Event> {
    let (done, finished) = oneshot::channel::<()>();
    let mut done = Some(done);
    let mut events = Vec::new();
    let result = within(
        "subscription",
        client.subscribe_with_cancel(
            async move {
                let _ = finished.await;
            },
            stream,
            |event| {
                events.push(event);
                if events.len() == n {
                    done.take();
                }
            },
        ),
    )
    .await;
    assert!(result.is_ok(), "{result:?}");
    events
}

#[actix_web::test]
async fn subscribe_of_a_stream_name_adds_the_query_parameter() {
    let server = pings(5);
    let client = fast(Client::builder(format!("{}/events", server.url))).build();
    let events = subscribe_n(&client, "test", 5).await;
    assert!(
        events
            .iter()
            .all(|e| e.data == "ping" && e.event_type() == "message")
    );
    assert_eq!(server.requests()[0].query, "stream=test");
}

#[actix_web::test]
async fn multi_line_data_arrives_joined_with_line_feeds() {
    let wire: String = MULTILINE.lines().map(|l| format!("data: {l}\n")).collect();
    let server =
        ScriptedServer::start(move |_, _| Reply::sse(vec![format!("{wire}\n")], End::Hang));
    let client = fast(Client::builder(&server.url)).build();
    let events = subscribe_n(&client, "test", 1).await;
    assert_eq!(events[0].data, MULTILINE);
}

#[actix_web::test]
async fn empty_messages_are_events_with_empty_data() {
    let server = ScriptedServer::start(|_, _| {
        Reply::sse(
            vec!["data\n\ndata:\n\n:only a comment\n\ndata: ping\n\n".into()],
            End::Hang,
        )
    });
    let client = fast(Client::builder(&server.url)).build();
    let data: Vec<_> = subscribe_n(&client, "test", 3)
        .await
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert_eq!(data, ["", "", "ping"]);
}

#[actix_web::test]
async fn channel_subscription_delivers_and_unsubscribe_keeps_the_callers_channel() {
    let server = pings(5);
    let client = fast(Client::builder(&server.url)).build();
    let (tx, mut rx) = mpsc::channel(1);
    let kept = tx.clone();
    let subscription = client.subscribe_chan("test", tx);
    for _ in 0..5 {
        assert_eq!(within("event", rx.recv()).await.unwrap().data, "ping");
    }
    assert!(subscription.is_connected());
    subscription.unsubscribe();
    assert!(within("join", subscription.join()).await.is_ok());
    assert_eq!(client.live().connections, 0);
    // The library dropped only its own sender: the caller's channel is open.
    assert_eq!(rx.try_recv(), Err(mpsc::error::TryRecvError::Empty));
    drop(kept);
}

#[actix_web::test]
async fn on_disconnect_is_called_on_every_loss() {
    let server = ScriptedServer::start(|_, _| Reply::sse(vec!["data: ping\n\n".into()], End::Eof));
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reasons);
    let client = fast(Client::builder(&server.url))
        .on_disconnect(move |e| seen.lock().unwrap().push(e.to_string()))
        .build();
    subscribe_n(&client, "test", 3).await;
    let reasons = reasons.lock().unwrap();
    assert!(reasons.len() >= 2);
    assert!(reasons.iter().all(|r| *r == Error::StreamEnded.to_string()));
}

#[actix_web::test]
async fn on_connect_is_called_per_accepted_response() {
    let server = ScriptedServer::start(|_, _| Reply::sse(vec!["data: ping\n\n".into()], End::Eof));
    let connects = Arc::new(Mutex::new(0));
    let count = Arc::clone(&connects);
    let client = fast(Client::builder(&server.url))
        .on_connect(move || *count.lock().unwrap() += 1)
        .build();
    subscribe_n(&client, "test", 3).await;
    assert!(*connects.lock().unwrap() >= 3);
}

#[actix_web::test]
async fn channel_subscription_reconnects_after_the_server_cuts_it() {
    let server =
        ScriptedServer::start(|_, _| Reply::sse(vec!["data: ping\n\n".into()], End::Abort));
    let client = fast(Client::builder(&server.url)).build();
    let (tx, mut rx) = mpsc::channel(1);
    let subscription = client.subscribe_chan("test", tx);
    for _ in 0..5 {
        assert_eq!(within("event", rx.recv()).await.unwrap().data, "ping");
    }
    assert!(server.request_count() >= 5);
    subscription.unsubscribe();
}

#[actix_web::test]
async fn unsubscribe_from_many_tasks_at_once_ends_it_once() {
    let server = pings(1);
    let client = fast(Client::builder(&server.url)).build();
    let (tx, mut rx) = mpsc::channel(1);
    let subscription = Arc::new(client.subscribe_chan("test", tx));
    assert!(within("event", rx.recv()).await.is_some());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let subscription = Arc::clone(&subscription);
            actix_rt::spawn(async move { subscription.unsubscribe() })
        })
        .collect();
    for task in tasks {
        within("unsubscribe", task).await.unwrap();
    }
    eventually("finished", || subscription.is_finished()).await;
    eventually("nothing left", || client.live() == LiveCounts::default()).await;
}

#[actix_web::test]
async fn unsubscribe_does_not_block_on_a_full_channel() {
    let server = pings(10);
    let client = fast(Client::builder(&server.url)).build();
    let (tx, rx) = mpsc::channel(1);
    let subscription = client.subscribe_chan("test", tx);
    // Nobody reads: the task is stuck sending the second event.
    eventually("channel full", || rx.capacity() == 0).await;
    subscription.unsubscribe();
    assert!(within("join", subscription.join()).await.is_ok());
    eventually("nothing left", || client.live() == LiveCounts::default()).await;
    drop(rx);
}

#[actix_web::test]
async fn retried_http_errors_stop_when_the_strategy_gives_up() {
    let server = ScriptedServer::start(|_, _| Reply::status(401));
    let client = fast(Client::builder(&server.url))
        .http_error_policy(HttpErrorPolicy::Retry)
        .reconnect_strategy(|| MaxRetries::new(ConstantBackoff::default(), 3))
        .build();
    let result = within("give up", client.subscribe("test", |_| {})).await;
    assert!(matches!(result, Err(Error::Status { status, .. }) if status.as_u16() == 401));
    assert_eq!(server.request_count(), 4);
}

#[actix_web::test]
async fn a_response_validator_refusal_is_a_typed_error() {
    let server = pings(1);
    let client = fast(Client::builder(&server.url))
        .response_validator(|_, headers| {
            headers
                .get("x-required")
                .map(|_| ())
                .ok_or_else(|| "x-required header missing".to_owned())
        })
        .build();
    let result = within("reject", client.subscribe("test", |_| {})).await;
    assert!(matches!(result, Err(Error::Rejected(ref m)) if m == "x-required header missing"));
}

#[actix_web::test]
async fn large_events_arrive_whole() {
    let data: String = (0..1 << 20)
        .map(|i| char::from(b"0123456789abcdef"[i % 16]))
        .collect();
    let wire = format!("data: {data}\n\n");
    let server = ScriptedServer::start(move |_, _| Reply::sse(vec![wire.clone()], End::Hang));
    let client = fast(Client::builder(&server.url)).build();
    let events = subscribe_n(&client, "test", 1).await;
    assert_eq!(events[0].data, data);
}

#[actix_web::test]
async fn comments_are_skipped_unless_asked_for() {
    let server =
        ScriptedServer::start(|_, _| Reply::sse(vec![": hello\ndata: x\n\n".into()], End::Hang));
    let client = fast(Client::builder(&server.url)).build();
    let events = subscribe_n(&client, "test", 1).await;
    assert_eq!(
        (&*events[0].data, events[0].comment.as_deref()),
        ("x", None)
    );

    let client = fast(Client::builder(&server.url)).comments(true).build();
    let mut frames = client.frames();
    assert_eq!(
        within("comment", frames.next()).await.unwrap().unwrap(),
        Frame::Comment("hello".into())
    );
    match within("event", frames.next()).await {
        Some(Ok(Frame::Event(event))) => assert_eq!(event.comment.as_deref(), Some("hello")),
        other => panic!("{other:?}"),
    }
}

#[actix_web::test]
async fn trim_header_removes_exactly_one_space() {
    let server = ScriptedServer::start(|_, _| {
        Reply::sse(
            vec!["data:one\n\ndata:  two\n\nevent:  t\ndata: three\n\n".into()],
            End::Hang,
        )
    });
    let client = fast(Client::builder(&server.url)).build();
    let events = subscribe_n(&client, "test", 3).await;
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.event_type().to_owned(), e.data.to_string()))
        .collect();
    assert_eq!(
        seen,
        [
            ("message".to_owned(), "one".to_owned()),
            ("message".to_owned(), " two".to_owned()),
            (" t".to_owned(), "three".to_owned())
        ]
    );
}

#[actix_web::test]
async fn base64_data_and_custom_fields_are_decoded() {
    let server = ScriptedServer::start(|_, _| {
        Reply::sse(
            vec!["data: aGVsbG8=\nfoo: bar\nbaz: no\n\n".into()],
            End::Hang,
        )
    });
    let client = fast(Client::builder(&server.url))
        .base64(true)
        .keep_fields(["foo"])
        .build();
    let events = subscribe_n(&client, "test", 1).await;
    assert_eq!(events[0].data, "hello");
    assert_eq!(events[0].fields, [("foo".into(), "bar".into())]);
}

#[actix_web::test]
async fn a_cancel_future_ends_many_subscriptions_and_their_connections() {
    const N: usize = 100;
    let server = pings(1);
    let client = fast(Client::builder(&server.url)).build();
    let (cancel, cancelled) = watch::channel(false);
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let client = client.clone();
            let mut cancelled = cancelled.clone();
            actix_rt::spawn(async move {
                let cancel = async move {
                    let _ = cancelled.wait_for(|c| *c).await;
                };
                client.subscribe_with_cancel(cancel, "test", |_| {}).await
            })
        })
        .collect();
    eventually("all connected", || server.open() == N).await;
    cancel.send(true).unwrap();
    for task in tasks {
        assert!(within("cancelled", task).await.unwrap().is_ok());
    }
    eventually("nothing left", || client.live() == LiveCounts::default()).await;
    eventually("server side closed", || server.open() == 0).await;
}
