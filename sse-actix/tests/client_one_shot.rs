//! The reconnect policy: a `POST` (an LLM completion) is not sent again
//! once a response was accepted, unless asked; a `GET` reconnects per spec.

use std::time::Duration;

use awc::http::Method;
use futures_util::StreamExt as _;
use sse_actix::client::{Client, Error, EventStream, ReconnectPolicy, StopReason};
use sse_testkit::scripted::{End, Reply, ScriptedServer, fast, numbered, within};

/// Everything the stream yields until it ends: event data, or the error.
async fn drain(stream: &mut EventStream) -> Vec<String> {
    let mut seen = Vec::new();
    within("the end of the stream", async {
        while let Some(item) = stream.next().await {
            seen.push(match item {
                Ok(event) => event.data.to_string(),
                Err(Error::Status { status, .. }) => format!("status {}", status.as_u16()),
                Err(Error::IdleTimeout(_)) => "idle timeout".to_owned(),
                Err(other) => format!("{other}"),
            });
        }
    })
    .await;
    seen
}

fn completion(server: &ScriptedServer) -> Client {
    fast(Client::builder(format!("{}/v1/chat", server.url)))
        .method(Method::POST)
        .header("content-type", "application/json")
        .body(r#"{"stream":true}"#)
        .build()
}

#[actix_web::test]
async fn a_post_stops_after_the_response_ends_cleanly() {
    let server = ScriptedServer::start(|_, _| Reply::sse(numbered(0, 2, 2), End::Eof));
    let client = completion(&server);
    let mut stream = client.stream();
    assert_eq!(drain(&mut stream).await, ["event 1", "event 2"]);
    assert_eq!(stream.stop_reason(), Some(StopReason::Completed));
    assert_eq!(server.request_count(), 1);
    // The handler form calls it a success.
    assert!(
        within("subscribe", client.subscribe_raw(|_| {}))
            .await
            .is_ok()
    );
    assert_eq!(server.request_count(), 2);
}

#[actix_web::test]
async fn a_post_is_retried_only_before_a_response_was_accepted() {
    let server = ScriptedServer::start(|_, index| match index {
        0 => Reply::status(503),
        _ => Reply::sse(numbered(0, 1, 1), End::Hang),
    });
    // The stream goes silent after its event: an error once accepted.
    let client = fast(Client::builder(&server.url))
        .method(Method::POST)
        .body(r#"{"stream":true}"#)
        .idle_timeout(Duration::from_millis(100))
        .build();
    let mut stream = client.stream();
    assert_eq!(
        drain(&mut stream).await,
        ["status 503", "event 1", "idle timeout"]
    );
    assert_eq!(stream.stop_reason(), Some(StopReason::Error));
    assert_eq!(server.request_count(), 2);
}

#[actix_web::test]
async fn a_post_reconnects_after_every_end_when_asked() {
    let server =
        ScriptedServer::start(|req, _| Reply::sse(numbered(req.last_number(), 1, 3), End::Eof));
    let client = fast(Client::builder(&server.url))
        .method(Method::POST)
        .body("{}")
        .reconnect_policy(ReconnectPolicy::Always)
        .build();
    let mut stream = client.stream();
    let mut data = Vec::new();
    within("three events", async {
        while data.len() < 3 {
            if let Some(Ok(event)) = stream.next().await {
                data.push(event.data.to_string());
            }
        }
    })
    .await;
    assert_eq!(data, ["event 1", "event 2", "event 3"]);
    assert!(server.requests().iter().all(|r| &r.body[..] == b"{}"));
}

#[actix_web::test]
async fn a_get_reconnects_after_a_clean_end_unless_told_to_stop() {
    let server = ScriptedServer::start(|req, _| {
        Reply::sse(
            numbered(req.last_number(), 1, 2),
            End::EofAfter(Duration::ZERO),
        )
    });
    let client = fast(Client::builder(&server.url)).build();
    let mut stream = client.stream();
    let mut data = Vec::new();
    within("two events", async {
        while data.len() < 2 {
            if let Some(Ok(event)) = stream.next().await {
                data.push(event.data.to_string());
            }
        }
    })
    .await;
    assert_eq!(data, ["event 1", "event 2"]);
    drop(stream);

    let once = fast(Client::builder(&server.url))
        .reconnect_policy(ReconnectPolicy::UntilAccepted)
        .build();
    let mut stream = once.stream();
    assert_eq!(drain(&mut stream).await, ["event 1"]);
    assert_eq!(stream.stop_reason(), Some(StopReason::Completed));
}
