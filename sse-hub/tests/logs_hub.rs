//! `sse hub --log-format json`: structured access logs, one line when an
//! event stream opens and one when it ends, never a token.

mod support;

use serde_json::Value;
use sse_testkit::{EventClient, client, until};
use support::call;
use support::hub_process::Hub;

const TOKEN: &str = "subscribe-token-that-must-not-be-logged";

fn lines(hub: &Hub) -> Vec<Value> {
    hub.log()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line:?}"))
        })
        .collect()
}

fn find<'a>(lines: &'a [Value], message: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message))
        })
        .unwrap_or_else(|| panic!("no {message:?} line in {lines:#?}"))
}

#[actix_web::test]
async fn json_access_logs_one_line_per_stream_opened_and_ended() {
    let hub = Hub::start(&["--log-format", "json", "--subscribe-token", TOKEN]);
    let mut events =
        EventClient::open(&hub.url(&format!("/events?stream=demo&token={TOKEN}"))).await;
    for data in ["one", "two"] {
        assert_eq!(
            call(client().post(hub.url("/events?stream=demo")), data)
                .await
                .0,
            200
        );
    }
    assert_eq!(events.events(2).await.len(), 2);
    drop(events);
    let refused = client().get(hub.url("/events?stream=demo&token=wrong-token-also-secret"));
    assert_eq!(call(refused, "").await.0, 401);
    // The log is read from the hub's stderr by another thread: a line
    // written before a response arrives may still be on its way.
    until(
        "the end of the stream and the refusal are logged",
        async || {
            let log = hub.log();
            log.contains("event stream closed") && log.contains("event stream refused")
        },
    )
    .await;

    let lines = lines(&hub);
    let opened = find(&lines, "event stream opened");
    assert_eq!(opened["level"], "INFO");
    assert_eq!(opened["stream"], "demo");
    assert!(
        opened["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:")),
        "{opened}"
    );
    assert!(opened["timestamp"].is_string(), "{opened}");
    let closed = find(&lines, "event stream closed");
    assert_eq!(closed["stream"], "demo");
    assert_eq!(closed["peer"], opened["peer"]);
    assert_eq!(closed["end"], "ConnectionDropped", "{closed}");
    assert_eq!(closed["frames"], 2, "{closed}");
    assert!(closed["bytes"].as_u64().is_some_and(|b| b > 0), "{closed}");
    assert!(closed["duration_ms"].is_u64(), "{closed}");
    let refusal = find(&lines, "event stream refused");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("the token is wrong"),
        "{refusal}"
    );

    let log = hub.log();
    assert!(
        !log.contains(TOKEN) && !log.contains("wrong-token-also-secret"),
        "{log}"
    );
}
