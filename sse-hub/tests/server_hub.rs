//! `sse hub` and `sse publish` as a user runs them: the built binary on a
//! free port, driven over real sockets.

mod support;

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use sse_testkit::{EventClient, GUARD, client, seen, seq_of, until};
use support::call;
use support::hub_process::Hub;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn triple(id: &str, kind: &str, data: &str) -> (String, String, String) {
    (id.to_owned(), kind.to_owned(), data.to_owned())
}

async fn publish(hub: &Hub, stream: &str, body: &str) -> (u16, serde_json::Value) {
    call(
        client().post(hub.url(&format!("/events?stream={stream}"))),
        body.to_owned(),
    )
    .await
}

async fn publish_json(
    hub: &Hub,
    stream: &str,
    event: serde_json::Value,
) -> (u16, serde_json::Value) {
    let request = client()
        .post(hub.url(&format!("/events?stream={stream}")))
        .insert_header(("content-type", "application/json"));
    call(request, event.to_string()).await
}

fn error_of(json: &serde_json::Value) -> &str {
    json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("an error body, got {json}"))
}

#[actix_web::test]
async fn publish_api_round_trip() {
    let hub = Hub::start(&[]);
    let mut events = EventClient::open(&hub.url("/events?stream=demo")).await;

    let (status, answer) = publish(&hub, "demo", "plain\nbody").await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["id"].as_str().unwrap().to_owned();
    assert_eq!(seq_of(&id), "1", "{answer}");
    assert_eq!(
        answer,
        serde_json::json!({"stream": "demo", "id": id, "seq": 1, "duplicate": false})
    );

    let event =
        serde_json::json!({"data": "full", "event": "update", "id": "my-id", "retry": 2500});
    let (status, answer) = publish_json(&hub, "demo", event).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["id"], "my-id");
    assert_eq!(answer["seq"], 2);
    // A retry of the same id is not stored again and names the first event.
    let event = serde_json::json!({"data": "full", "event": "update", "id": "my-id"});
    let (status, answer) = publish_json(&hub, "demo", event).await;
    assert_eq!(
        (status, answer),
        (
            200,
            serde_json::json!({"stream": "demo", "id": "my-id", "seq": 2, "duplicate": true})
        )
    );

    let received = events.events(2).await;
    assert_eq!(
        seen(&received),
        [
            triple("1", "message", "plain\nbody"),
            triple("my-id", "update", "full")
        ]
    );
    assert_eq!(received[1].retry, Some(Duration::from_millis(2500)));

    // Auto-stream (the hub default): publishing to a new name creates it.
    assert_eq!(publish(&hub, "fresh", "x").await.0, 200);

    let (status, listing) = call(client().get(hub.url("/streams")), "").await;
    assert_eq!(status, 200);
    let streams = listing["streams"].as_array().unwrap();
    let demo = streams
        .iter()
        .find(|s| s["name"] == "demo")
        .expect("demo listed");
    assert_eq!(
        (demo["subscribers"].as_u64(), demo["published"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(streams.iter().any(|s| s["name"] == "fresh"));
    assert_eq!(listing["connections"], 1);

    let (status, health) = call(client().get(hub.url("/healthz")), "").await;
    assert_eq!(
        (status, &health["status"], &health["connections"]),
        (200, &"ok".into(), &1.into()),
        "{health}"
    );

    let log = hub.log();
    assert!(
        log.contains("event stream opened") && log.contains("stream=demo"),
        "{log}"
    );
}

#[actix_web::test]
async fn demo_page_is_served() {
    let hub = Hub::start(&["--demo-stream", "lobby"]);
    let mut response = client().get(hub.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
    assert!(
        page.contains("new EventSource("),
        "the page subscribes with EventSource"
    );
    assert!(
        page.contains("value=\"lobby\""),
        "the page opens the configured stream"
    );

    let hidden = Hub::start(&["--no-demo"]);
    assert_eq!(
        client().get(hidden.url("/")).send().await.unwrap().status(),
        404
    );
}

#[actix_web::test]
async fn tokens_guard_publishing_and_subscribing() {
    // Subscribers below read the event published before they came.
    let hub = Hub::start(&[
        "--publish-token",
        "pub-secret",
        "--subscribe-token",
        "sub-secret",
        "--first-replay",
        "all",
    ]);

    let (status, body) = publish(&hub, "demo", "x").await;
    assert_eq!(status, 401);
    assert!(error_of(&body).contains("publishing requires"), "{body}");
    let wrong = client()
        .post(hub.url("/events?stream=demo"))
        .bearer_auth("nope");
    assert_eq!(call(wrong, "x").await.0, 401);
    // The subscribe token does not publish, and query tokens never publish.
    let other = client()
        .post(hub.url("/events?stream=demo"))
        .bearer_auth("sub-secret");
    assert_eq!(call(other, "x").await.0, 401);
    let query = client().post(hub.url("/events?stream=demo&token=pub-secret"));
    assert_eq!(call(query, "x").await.0, 401);
    let right = client()
        .post(hub.url("/events?stream=demo"))
        .bearer_auth("pub-secret");
    let (status, answer) = call(right, "x").await;
    assert_eq!(
        (
            status,
            seq_of(answer["id"].as_str().unwrap()),
            &answer["seq"]
        ),
        (200, "1", &serde_json::json!(1))
    );

    let (status, body) = call(client().get(hub.url("/events?stream=demo")), "").await;
    assert_eq!(status, 401, "{body}");
    assert!(error_of(&body).contains("subscribing requires"), "{body}");
    assert_eq!(
        call(client().get(hub.url("/events?stream=demo&token=wrong")), "")
            .await
            .0,
        401
    );
    // EventSource cannot set headers: the query parameter works too.
    let mut by_query = EventClient::open(&hub.url("/events?stream=demo&token=sub-secret")).await;
    let mut by_header = EventClient::open_with(
        &hub.url("/events?stream=demo"),
        &[("authorization", "Bearer sub-secret")],
    )
    .await;
    assert_eq!(
        seen(&by_query.events(1).await),
        [triple("1", "message", "x")]
    );
    assert_eq!(
        seen(&by_header.events(1).await),
        [triple("1", "message", "x")]
    );
}

#[actix_web::test]
async fn stream_names_and_counts_need_a_token_when_subscribing_does() {
    let hub = Hub::start(&[
        "--publish-token",
        "pub-secret",
        "--subscribe-token",
        "sub-secret",
    ]);
    let (status, body) = call(client().get(hub.url("/streams")), "").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        error_of(&body).contains("listing streams requires"),
        "{body}"
    );
    let wrong = client().get(hub.url("/streams")).bearer_auth("guess");
    assert_eq!(call(wrong, "").await.0, 401);
    for token in ["sub-secret", "pub-secret"] {
        let (status, listing) =
            call(client().get(hub.url("/streams")).bearer_auth(token), "").await;
        assert_eq!(status, 200, "{listing}");
        assert!(
            listing["streams"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "demo")
        );
    }
    let (status, listing) = call(client().get(hub.url("/streams?token=sub-secret")), "").await;
    assert_eq!(
        status, 200,
        "the subscribe token works as a query parameter: {listing}"
    );

    // Health: up or not for anyone, the counts only with a token.
    let (status, health) = call(client().get(hub.url("/healthz")), "").await;
    assert_eq!((status, health), (200, serde_json::json!({"status": "ok"})));
    let (status, health) = call(
        client().get(hub.url("/healthz")).bearer_auth("sub-secret"),
        "",
    )
    .await;
    assert_eq!(
        (status, &health["connections"]),
        (200, &0.into()),
        "{health}"
    );

    // A publish token alone leaves reading open, as subscribing is.
    let open = Hub::start(&["--publish-token", "pub-secret"]);
    assert_eq!(call(client().get(open.url("/streams")), "").await.0, 200);
    let (_, health) = call(client().get(open.url("/healthz")), "").await;
    assert_eq!(health["streams"], 1, "{health}");
}

#[actix_web::test]
async fn cors_is_closed_unless_origins_are_listed() {
    let closed = Hub::start(&[]);
    let response = client()
        .get(closed.url("/healthz"))
        .insert_header(("origin", "http://elsewhere.example"))
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let open = Hub::start(&["--cors-origin", "http://app.example"]);
    let preflight = client()
        .request(awc::http::Method::OPTIONS, open.url("/events?stream=demo"))
        .insert_header(("origin", "http://app.example"))
        .insert_header(("access-control-request-method", "POST"))
        .insert_header((
            "access-control-request-headers",
            "authorization, content-type",
        ))
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "http://app.example"
    );
    let events = EventClient::open_with(
        &open.url("/events?stream=demo"),
        &[("origin", "http://app.example")],
    )
    .await;
    assert_eq!(
        events.headers.get("access-control-allow-origin").unwrap(),
        "http://app.example"
    );
    let stranger = client()
        .get(open.url("/healthz"))
        .insert_header(("origin", "http://elsewhere.example"))
        .send()
        .await
        .unwrap();
    assert!(
        !stranger
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[actix_web::test]
async fn limits_answer_with_clear_errors() {
    let hub = Hub::start(&[
        "--max-body-size",
        "1024",
        "--max-connections",
        "3",
        "--max-subscribers-per-stream",
        "2",
        "--max-stream-name-len",
        "8",
        "--max-auto-streams",
        "4",
    ]);
    // Body size: declared, and streamed without a declared length.
    let (status, body) = publish(&hub, "demo", &"x".repeat(1025)).await;
    assert_eq!(status, 413);
    assert!(
        error_of(&body).contains("the limit is 1024 bytes"),
        "{body}"
    );
    let chunks = futures_util::stream::iter(
        (0..64).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&[b'y'; 100]))),
    );
    let mut response = client()
        .post(hub.url("/events?stream=demo"))
        .send_stream(chunks)
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let _ = response.body().await;
    assert_eq!(publish(&hub, "demo", &"x".repeat(1024)).await.0, 200);

    // Stream names.
    let (status, body) = publish(&hub, "nine-char", "x").await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("the limit is 8"), "{body}");
    let (status, body) = call(client().get(hub.url("/events?stream=%3Cscript%3E")), "").await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("'<' is not allowed"), "{body}");

    // Subscribers per stream, then connections.
    let _a = EventClient::open(&hub.url("/events?stream=demo")).await;
    let _b = EventClient::open(&hub.url("/events?stream=demo")).await;
    let (status, body) = call(client().get(hub.url("/events?stream=demo")), "").await;
    assert_eq!(status, 503);
    assert!(error_of(&body).contains("too many subscribers"), "{body}");
    let _c = EventClient::open(&hub.url("/events?stream=other")).await;
    let (status, body) = call(client().get(hub.url("/events?stream=third")), "").await;
    assert_eq!(status, 503);
    assert!(
        error_of(&body).contains("the limit of 3 open event streams"),
        "{body}"
    );
    // Publishing is not a connection: it still works.
    assert_eq!(publish(&hub, "demo", "still").await.0, 200);

    // Streams made up on the spot, by subscribing or publishing: with
    // other, p1 to p3 make the limit of 4 (demo was created at start, it
    // does not count); no more are created.
    for name in ["p1", "p2", "p3"] {
        assert_eq!(publish(&hub, name, "x").await.0, 200, "{name}");
    }
    let (status, body) = publish(&hub, "p4", "x").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        error_of(&body).contains("limit of 4 auto-created streams"),
        "{body}"
    );
}

#[actix_web::test]
async fn bad_input_gets_clear_errors_and_the_hub_keeps_serving() {
    let hub = Hub::start(&["--no-auto-stream"]);
    let mut watcher = EventClient::open(&hub.url("/events?stream=demo")).await;

    let json = |body: &str| {
        client()
            .post(hub.url("/events?stream=demo"))
            .insert_header(("content-type", "application/json; charset=utf-8"))
            .send_body(body.to_owned())
    };
    let cases: Vec<(awc::SendClientRequest, u16, &str)> = vec![
        (json("{not json"), 400, "invalid JSON event"),
        (json("{\"data\": 5}"), 400, "invalid JSON event"),
        (
            json("{\"evnt\": \"x\", \"data\": \"y\"}"),
            400,
            "unknown field `evnt`",
        ),
        (
            json("{\"data\": \"x\", \"id\": \"a\\nb\"}"),
            400,
            "holds a control character",
        ),
        (
            json("{\"data\": \"x\", \"id\": \" padded\"}"),
            400,
            "starts or ends with whitespace",
        ),
        (
            json("{\"data\": \"x\", \"id\": \"bell\\u0001\"}"),
            400,
            "holds a control character",
        ),
        (
            json("{\"data\": \"x\", \"retry\": 86400000}"),
            400,
            "above the limit of 60s",
        ),
        (
            json("{\"data\": \"x\", \"event\": \"a\\rb\"}"),
            400,
            "contains CR or LF",
        ),
        (
            client()
                .post(hub.url("/events?stream=demo"))
                .send_body(Bytes::from_static(b"\xff\xfe")),
            400,
            "not valid UTF-8",
        ),
        (
            client().post(hub.url("/events?stream=nope")).send_body("x"),
            404,
            "unknown stream \"nope\"",
        ),
        (
            client().get(hub.url("/events?stream=nope")).send(),
            404,
            "unknown stream \"nope\"",
        ),
        (
            client().get(hub.url("/events?stream=%%%")).send(),
            400,
            "invalid stream name",
        ),
        (
            client().get(hub.url("/events?&&=&stream")).send(),
            400,
            "it is empty",
        ),
        (
            // A subscribe may name several streams; a publish names one.
            client()
                .post(hub.url("/events?stream=a&stream=demo"))
                .send_body("x"),
            400,
            "more than once",
        ),
        (
            client().post(hub.url("/events")).send_body("x"),
            400,
            "missing stream name",
        ),
    ];
    for (request, status, message) in cases {
        let mut response = request.await.expect("request");
        let body = response.body().await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error body");
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert!(
            error_of(&body).contains(message),
            "{body} should mention {message:?}"
        );
    }

    // Huge headers: refused by actix-web's parser, the hub goes on.
    let mut socket = tokio::net::TcpStream::connect(hub.addr).await.unwrap();
    let huge = format!(
        "GET /events?stream=demo HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "h".repeat(256 * 1024)
    );
    let _ = socket.write_all(huge.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(GUARD, socket.read_to_end(&mut answer))
        .await
        .expect("the hub answers or closes");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );

    // Garbage instead of HTTP.
    let mut socket = tokio::net::TcpStream::connect(hub.addr).await.unwrap();
    socket
        .write_all(b"\x00\x01\x02 not http at all\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(GUARD, socket.read_to_end(&mut answer))
        .await
        .expect("the hub answers or closes");
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Nothing above reached the stream; a valid publish still does.
    assert_eq!(publish(&hub, "demo", "after all that").await.0, 200);
    assert_eq!(
        seen(&watcher.events(1).await),
        [triple("1", "message", "after all that")]
    );
}

#[actix_web::test]
async fn thousands_of_connections_come_and_go_without_leaking() {
    let hub = Hub::start(&["--keep-alive", "1s"]);
    let streams = || async {
        let (_, listing) = call(client().get(hub.url("/streams")), "").await;
        listing["connections"].as_u64().unwrap()
    };
    let open_all = async |n: usize| {
        let mut sockets = Vec::with_capacity(n);
        for i in 0..n {
            let mut socket = tokio::net::TcpStream::connect(hub.addr).await.unwrap();
            let request = format!(
                "GET /events?stream=load{} HTTP/1.1\r\nHost: t\r\n\r\n",
                i % 20
            );
            socket.write_all(request.as_bytes()).await.unwrap();
            sockets.push(socket);
        }
        sockets
    };
    // What the hub holds is counted exactly: every subscriber, queue and
    // connection slot must be gone once the sockets are. RSS is checked too,
    // but the allocator keeps freed memory for reuse rather than returning
    // it to the kernel, so RSS after a round is a high-water mark: it must
    // level off, not grow by what each round's connections took.
    let health = || async { call(client().get(hub.url("/healthz")), "").await.1 };
    let idle = hub.rss_kib();
    let mut afters = Vec::new();
    let mut first_peak = 0;
    for round in 0..6 {
        let sockets = open_all(2000).await;
        until("2000 connections are open", async || {
            streams().await == 2000
        })
        .await;
        let peak = hub.rss_kib();
        if round == 0 {
            first_peak = peak;
        }
        // Meanwhile, others are served.
        let probe = format!("probe{round}");
        let mut other = EventClient::open(&hub.url(&format!("/events?stream={probe}"))).await;
        assert_eq!(
            publish(&hub, &probe, &format!("round {round}")).await.0,
            200
        );
        assert_eq!(other.events(1).await[0].data, format!("round {round}"));
        drop(other);
        drop(sockets);
        until("every connection is gone", async || streams().await == 0).await;
        until("every subscriber and queue is freed", async || {
            let health = health().await;
            health["subscribers"] == 0 && health["queues"] == 0
        })
        .await;
        let after = hub.rss_kib();
        eprintln!("round {round}: idle {idle} KiB, 2000 open {peak} KiB, all closed {after} KiB");
        afters.push(after);
    }
    let per_round = first_peak.saturating_sub(idle);
    let late_growth = afters[5].saturating_sub(afters[2]);
    assert!(
        late_growth < per_round / 2,
        "RSS keeps growing with connections that are gone: {afters:?} KiB after each round; \
         2000 connections take {per_round} KiB"
    );
    let (status, listing) = call(client().get(hub.url("/streams")), "").await;
    assert_eq!(status, 200);
    assert!(
        listing["streams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["subscribers"] == 0),
        "{listing}"
    );
}

#[actix_web::test]
async fn sigterm_ends_every_response_and_exits_cleanly() {
    let mut hub = Hub::start(&[]);
    let mut events = EventClient::open(&hub.url("/events?stream=demo")).await;
    assert_eq!(publish(&hub, "demo", "bye").await.0, 200);
    assert_eq!(events.events(1).await[0].data, "bye");
    let status = Command::new("kill")
        .args(["-TERM", &hub.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(events.rest().await, [], "the response ends cleanly");
    let exit = tokio::task::spawn_blocking(move || {
        let status = hub.child.wait().unwrap();
        (status, hub.log())
    });
    let (status, log) = tokio::time::timeout(GUARD, exit).await.unwrap().unwrap();
    assert!(status.success(), "{status}\n{log}");
    assert!(log.contains("event stream closed"), "{log}");
}

#[actix_web::test]
async fn sse_publish_prints_the_assigned_id() {
    let hub = Hub::start(&["--publish-token", "t0k"]);
    let mut events = EventClient::open(&hub.url("/events?stream=cli")).await;
    let base = format!("http://{}", hub.addr);
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_sse"))
                .arg("publish")
                .args(args)
                .output()
                .unwrap()
        })
    };
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![base.clone(), "cli".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    let out = run(args(&[
        "--token",
        "t0k",
        "--event",
        "note",
        "--id",
        "n-1",
        "first\nline",
    ]))
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n-1\n");
    let out = run(args(&["--token", "t0k", "second"])).await.unwrap();
    assert_eq!(seq_of(String::from_utf8_lossy(&out.stdout).trim_end()), "2");
    assert_eq!(
        seen(&events.events(2).await),
        [
            triple("n-1", "note", "first\nline"),
            triple("2", "message", "second")
        ]
    );

    let out = run(args(&["second"])).await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("publishing requires"),
        "{stderr}"
    );
}
