//! How long the client waits before reconnecting: a backoff that grows
//! while connections do not last, `Retry-After`, and which statuses are
//! retried at all.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use sse_actix::client::{Client, ClientBuilder, Error, ExponentialBackoff};
use sse_testkit::scripted::{End, Reply, ScriptedServer, within};

type Delays = Arc<Mutex<Vec<Duration>>>;

/// A client recording each reconnection delay, with a 1 ms floor so that
/// the server's `retry: 10` is the base.
fn recording(url: &str) -> (ClientBuilder, Delays) {
    let delays: Delays = Arc::default();
    let sink = Arc::clone(&delays);
    let builder = Client::builder(url)
        .delay_bounds(Duration::from_millis(1), Duration::from_secs(30))
        .reconnect_notify(move |_, delay| sink.lock().unwrap().push(delay));
    (builder, delays)
}

fn without_jitter() -> ExponentialBackoff {
    ExponentialBackoff::default().randomization_factor(0.0)
}

/// Reads the stream until `n` reconnection delays were chosen.
async fn until_delays(client: &Client, delays: &Delays, n: usize) {
    let mut stream = client.stream();
    within("the delays", async {
        while delays.lock().unwrap().len() < n {
            assert!(stream.next().await.is_some(), "the stream ended");
        }
    })
    .await;
}

fn ms(delays: &Delays) -> Vec<f64> {
    delays
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect()
}

/// 200, `retry: 10`, and the end at once: every connection.
fn ends_at_once() -> ScriptedServer {
    ScriptedServer::start(|_, _| Reply::sse(vec!["retry: 10\n".into()], End::Eof))
}

#[actix_web::test]
async fn the_delay_grows_while_connections_end_at_once_whatever_retry_says() {
    let server = ends_at_once();
    let (builder, delays) = recording(&server.url);
    let client = builder.reconnect_strategy(without_jitter).build();
    until_delays(&client, &delays, 6).await;
    assert_eq!(ms(&delays)[..6], [10.0, 15.0, 22.5, 33.75, 50.625, 75.9375]);
    // One connection per delay: the count grows as slowly.
    assert!(server.request_count() <= 7, "{}", server.request_count());
}

#[actix_web::test]
async fn the_default_backoff_grows_with_jitter_for_a_server_that_ends_at_once() {
    let server = ends_at_once();
    let (builder, delays) = recording(&server.url);
    let client = builder.build();
    until_delays(&client, &delays, 7).await;
    let delays = ms(&delays);
    // Jitter draws each delay within ±50 %: the 7th is at least
    // 0.5 × 10 × 1.5⁶ ≈ 57 ms, where a constant 10 ms base would stay
    // below 15 ms.
    assert!(delays[6] > 50.0, "{delays:?}");
    assert!(
        delays.iter().all(|&d| d <= 1.5 * 10.0 * 1.5f64.powi(6)),
        "{delays:?}"
    );
}

#[actix_web::test]
async fn a_connection_that_delivered_an_event_resets_the_backoff() {
    let server = ScriptedServer::start(|_, index| {
        let mut chunks = vec!["retry: 10\n".to_owned()];
        if index == 3 {
            chunks.push("data: x\n\n".to_owned());
        }
        Reply::sse(chunks, End::Eof)
    });
    let (builder, delays) = recording(&server.url);
    let client = builder.reconnect_strategy(without_jitter).build();
    until_delays(&client, &delays, 6).await;
    assert_eq!(ms(&delays)[..6], [10.0, 15.0, 22.5, 10.0, 15.0, 22.5]);
}

#[actix_web::test]
async fn a_connection_that_lasted_resets_the_backoff() {
    let server = ScriptedServer::start(|_, index| {
        let end = if index == 2 {
            End::EofAfter(Duration::from_millis(100))
        } else {
            End::Eof
        };
        Reply::sse(vec!["retry: 10\n".into()], end)
    });
    let (builder, delays) = recording(&server.url);
    let client = builder
        .reconnect_strategy(without_jitter)
        .healthy_after(Duration::from_millis(50))
        .build();
    until_delays(&client, &delays, 4).await;
    assert_eq!(ms(&delays)[..4], [10.0, 15.0, 10.0, 15.0]);
}

#[actix_web::test]
async fn retry_after_on_503_and_429_sets_the_delay_up_to_the_cap() {
    for (status, retry_after, expected) in [(503, "2", 2), (429, "3", 3), (503, "3600", 30)] {
        let server = ScriptedServer::start(move |_, _| Reply {
            headers: vec![("retry-after".into(), retry_after.into())],
            ..Reply::status(status)
        });
        let (builder, delays) = recording(&server.url);
        let client = builder.reconnect_strategy(without_jitter).build();
        let mut stream = client.stream();
        match within("the refusal", stream.next()).await {
            Some(Err(Error::Status {
                status: got,
                retry_after: Some(asked),
            })) => {
                assert_eq!(got.as_u16(), status);
                assert_eq!(asked.as_secs(), retry_after.parse::<u64>().unwrap());
            }
            other => panic!("expected a {status}, got {other:?}"),
        }
        assert_eq!(*delays.lock().unwrap(), [Duration::from_secs(expected)]);
    }
}

#[actix_web::test]
async fn server_errors_408_and_429_are_retried_until_the_stream_opens() {
    let server = ScriptedServer::start(|_, index| match index {
        0 => Reply::status(500),
        1 => Reply::status(408),
        2 => Reply::status(429),
        3 => Reply::status(502),
        _ => Reply::sse(vec!["data: at last\n\n".into()], End::Hang),
    });
    let (builder, _) = recording(&server.url);
    let client = builder.initial_delay(Duration::from_millis(1)).build();
    let mut stream = client.stream();
    let mut refused = Vec::new();
    let event = within("the event", async {
        loop {
            match stream.next().await {
                Some(Ok(event)) => break event,
                Some(Err(Error::Status { status, .. })) => refused.push(status.as_u16()),
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    assert_eq!(event.data, "at last");
    assert_eq!(refused, [500, 408, 429, 502]);
}

#[actix_web::test]
async fn client_errors_stop_at_once_with_a_clear_message() {
    for (status, hint) in [
        (401, "check the credentials"),
        (404, "no such event stream"),
        (400, ""),
    ] {
        let server = ScriptedServer::start(move |_, _| Reply::status(status));
        let (builder, delays) = recording(&server.url);
        let client = builder.build();
        let mut stream = client.stream();
        match within("the refusal", stream.next()).await {
            Some(Err(error @ Error::Status { .. })) => {
                let message = error.to_string();
                assert!(message.contains(&status.to_string()), "{message}");
                assert!(message.contains(hint), "{message}");
            }
            other => panic!("expected a {status}, got {other:?}"),
        }
        assert!(within("the end", stream.next()).await.is_none());
        assert!(stream.failed());
        assert!(delays.lock().unwrap().is_empty());
        assert_eq!(server.request_count(), 1);
    }
}
