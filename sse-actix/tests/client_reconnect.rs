//! The reconnection rules, against a scripted actix-web server on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use awc::http::Method;
use futures_util::StreamExt as _;
use sse_actix::client::{Client, ConstantBackoff, Error, MaxRetries, ReconnectPolicy};
use sse_testkit::scripted::{End, Reply, ScriptedServer, eventually, fast, numbered, within};

/// Collects `n` events (ignoring errors), failing after a guard timeout.
async fn take_events(
    stream: &mut sse_actix::client::EventStream,
    n: usize,
) -> Vec<(String, String)> {
    let mut events = Vec::new();
    within("events", async {
        while events.len() < n {
            match stream.next().await {
                Some(Ok(event)) => events.push((
                    event.id.as_deref().unwrap_or_default().to_owned(),
                    event.data.to_string(),
                )),
                Some(Err(_)) => {}
                None => panic!("stream ended after {events:?}"),
            }
        }
    })
    .await;
    events
}

fn expected(range: std::ops::RangeInclusive<u64>) -> Vec<(String, String)> {
    range
        .map(|i| (i.to_string(), format!("event {i}")))
        .collect()
}

#[actix_web::test]
async fn resumes_after_mid_event_drops_without_loss_or_duplicate() {
    // Each connection serves 3 events after Last-Event-ID, then half of the
    // next one, then ends: cleanly on even connections, by abort on odd ones.
    let server = ScriptedServer::start(|req, index| {
        let after = req.last_number();
        let mut chunks = numbered(after, 3, 10);
        let end = if after + 3 >= 10 {
            End::KeepAlive(Duration::from_millis(20))
        } else {
            chunks.push(format!("id: {}\ndata: partial", after + 4));
            if index % 2 == 0 { End::Eof } else { End::Abort }
        };
        Reply::sse(chunks, end)
    });
    let client = fast(Client::builder(format!("{}/events", server.url))).build();
    let mut stream = client.stream();
    assert_eq!(take_events(&mut stream, 10).await, expected(1..=10));
    assert_eq!(stream.last_event_id(), "10");
    assert_eq!(client.last_event_id(), "10");
    let mut sent: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.last_event_id)
        .collect();
    // An aborted response may lose its unflushed tail on the server side; the
    // client then resends the same ID, which must still yield no duplicate.
    sent.dedup();
    assert_eq!(
        sent,
        [None, Some("3".into()), Some("6".into()), Some("9".into())]
    );
}

#[actix_web::test]
async fn server_retry_sets_the_delay_within_floor_and_cap() {
    let server = ScriptedServer::start(|_, index| {
        let retry = [
            "retry: 40\n",
            "retry: 0\n",
            "retry: 99999999\n",
            "data: x\n\n",
        ];
        Reply::sse(vec![retry[index.min(3)].to_owned()], End::Eof)
    });
    let delays = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&delays);
    let client = Client::builder(&server.url)
        .initial_delay(Duration::from_millis(7))
        .delay_bounds(Duration::from_millis(5), Duration::from_millis(60))
        .reconnect_strategy(ConstantBackoff::default)
        .reconnect_notify(move |_, delay| recorded.lock().unwrap().push(delay))
        .build();
    let mut stream = client.stream();
    within("an event", async {
        while !matches!(stream.next().await, Some(Ok(_))) {}
    })
    .await;
    let ms = |n| Duration::from_millis(n);
    assert_eq!(delays.lock().unwrap()[..3], [ms(40), ms(5), ms(60)]);
}

#[actix_web::test]
async fn no_content_stops_for_good() {
    let server = ScriptedServer::start(|_, _| Reply::status(204));
    let client = fast(Client::builder(&server.url)).build();
    let mut stream = client.stream();
    assert!(within("end", stream.next()).await.is_none());
    assert!(!stream.failed());
    assert_eq!(server.request_count(), 1);
    let handler = within("subscribe", client.subscribe_raw(|_| {})).await;
    assert!(handler.is_ok());
}

#[actix_web::test]
async fn wrong_content_type_fails_with_a_typed_error() {
    let server = ScriptedServer::start(|_, _| Reply {
        content_type: Some("text/plain; charset=utf-8".into()),
        ..Reply::sse(vec!["data: no\n\n".into()], End::Eof)
    });
    let client = fast(Client::builder(&server.url)).build();
    let mut stream = client.stream();
    match within("error", stream.next()).await {
        Some(Err(Error::ContentType { content_type })) => {
            assert_eq!(content_type.as_deref(), Some("text/plain; charset=utf-8"));
        }
        other => panic!("expected a content-type error, got {other:?}"),
    }
    assert!(within("end", stream.next()).await.is_none());
    assert!(stream.failed());
    assert_eq!(server.request_count(), 1);
}

#[actix_web::test]
async fn service_unavailable_is_retried_until_the_strategy_gives_up() {
    let server = ScriptedServer::start(|_, _| Reply::status(503));
    let client = fast(Client::builder(&server.url))
        .reconnect_strategy(|| MaxRetries::new(ConstantBackoff::default(), 2))
        .build();
    let result = within("give up", client.subscribe_raw(|_| {})).await;
    assert!(matches!(result, Err(Error::Status { status, .. }) if status.as_u16() == 503));
    assert_eq!(server.request_count(), 3);
}

#[actix_web::test]
async fn redirect_is_followed() {
    let server = ScriptedServer::start(|req, _| match req.path.as_str() {
        "/old" => Reply {
            location: Some("/new".into()),
            ..Reply::status(307)
        },
        _ => Reply::sse(numbered(0, 2, 2), End::KeepAlive(Duration::from_millis(50))),
    });
    let client = fast(Client::builder(format!("{}/old", server.url))).build();
    let mut stream = client.stream();
    assert_eq!(take_events(&mut stream, 2).await, expected(1..=2));
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/old", "/new"]);
}

#[actix_web::test]
async fn events_up_to_the_limit_pass_and_larger_ones_are_reported() {
    const LIMIT: usize = 256 * 1024;
    let fits = "a".repeat(LIMIT - 1); // data plus its line feed
    let too_big = "b".repeat(LIMIT + 1);
    let body = vec![
        format!("data: {fits}\n\n"),
        format!("data: {too_big}\n\n"),
        "data: after\n\n".to_owned(),
    ];
    let server = ScriptedServer::start(move |_, _| Reply::sse(body.clone(), End::Hang));
    let client = fast(Client::builder(&server.url))
        .max_event_size(LIMIT)
        .build();
    let mut stream = client.stream();
    let first = within("first", stream.next()).await.unwrap().unwrap();
    assert_eq!(first.data.len(), LIMIT - 1);
    match within("second", stream.next()).await {
        Some(Err(Error::Decode(error))) => {
            assert!(error.to_string().contains(&LIMIT.to_string()), "{error}");
        }
        other => panic!("expected a size error, got {other:?}"),
    }
    assert_eq!(
        within("third", stream.next()).await.unwrap().unwrap().data,
        "after"
    );
}

#[actix_web::test]
async fn request_body_method_and_headers_are_resent_on_every_reconnection() {
    let server =
        ScriptedServer::start(|req, _| Reply::sse(numbered(req.last_number(), 1, 3), End::Eof));
    let client = fast(Client::builder(&server.url))
        .method(Method::POST)
        .header("authorization", "Bearer t")
        .body(r#"{"prompt":"hi"}"#)
        .reconnect_policy(ReconnectPolicy::Always)
        .build();
    let mut stream = client.stream();
    assert_eq!(take_events(&mut stream, 3).await, expected(1..=3));
    for req in server.requests().iter().take(3) {
        assert_eq!(req.method, "POST");
        assert_eq!(&req.body[..], br#"{"prompt":"hi"}"#);
        assert_eq!(req.header("authorization"), Some("Bearer t"));
        assert_eq!(req.header("accept"), Some("text/event-stream"));
    }
}

#[actix_web::test]
async fn idle_timeout_reconnects_a_silent_stream() {
    let server =
        ScriptedServer::start(|req, _| Reply::sse(numbered(req.last_number(), 1, 2), End::Hang));
    let client = fast(Client::builder(&server.url))
        .idle_timeout(Duration::from_millis(100))
        .build();
    let mut stream = client.stream();
    let mut seen = Vec::new();
    within("two events and a timeout", async {
        while seen
            .iter()
            .filter(|s: &&String| s.starts_with("event"))
            .count()
            < 2
        {
            match stream.next().await {
                Some(Ok(event)) => seen.push(event.data.to_string()),
                Some(Err(Error::IdleTimeout(t))) => seen.push(format!("timeout {t:?}")),
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    assert_eq!(seen, ["event 1", "timeout 100ms", "event 2"]);
    assert_eq!(server.requests()[1].last_event_id.as_deref(), Some("1"));
}

#[actix_web::test]
async fn an_empty_id_clears_the_last_event_id_and_the_header() {
    let server = ScriptedServer::start(|_, index| {
        let chunks = match index {
            0 => vec![
                "id: 7\ndata: a\n\n".to_owned(),
                "id:\ndata: b\n\n".to_owned(),
            ],
            _ => vec!["data: c\n\n".to_owned()],
        };
        Reply::sse(chunks, if index == 0 { End::Eof } else { End::Hang })
    });
    let client = fast(Client::builder(&server.url))
        .last_event_id("start")
        .build();
    let mut stream = client.stream();
    let mut data = Vec::new();
    within("three events", async {
        while data.len() < 3 {
            if let Some(Ok(event)) = stream.next().await {
                data.push((event.id.map(|i| i.to_string()), event.data.to_string()));
            }
        }
    })
    .await;
    assert_eq!(
        data,
        [
            (Some("7".into()), "a".into()),
            (None, "b".into()),
            (None, "c".into())
        ]
    );
    let sent: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.last_event_id)
        .collect();
    assert_eq!(sent, [Some("start".to_owned()), None]);
}

#[actix_web::test]
async fn on_connect_fires_when_the_response_is_accepted_before_any_event() {
    let server = ScriptedServer::start(|_, _| Reply::sse(vec![], End::Hang));
    let connected = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&connected);
    let client = fast(Client::builder(&server.url))
        .on_connect(move || *counter.lock().unwrap() += 1)
        .build();
    let stream = client.stream();
    let task = actix_rt::spawn(stream.into_future());
    eventually("on_connect", || *connected.lock().unwrap() == 1).await;
    assert!(!task.is_finished());
    task.abort();
    eventually("connection closed", || client.live().connections == 0).await;
}

#[actix_web::test]
async fn invalid_url_is_a_fatal_error() {
    assert!(matches!(
        Client::builder("not a url").try_build(),
        Err(Error::InvalidRequest(_))
    ));
    let client = Client::new("/relative");
    assert!(matches!(
        client.subscribe_raw(|_| {}).await,
        Err(Error::InvalidRequest(_))
    ));
}

#[actix_web::test]
async fn an_id_without_data_updates_the_last_event_id() {
    let server = ScriptedServer::start(|_, _| Reply::sse(vec!["id: 5\n\n".into()], End::Hang));
    let client = fast(Client::builder(&server.url)).build();
    let stream = client.stream();
    let task = actix_rt::spawn(stream.into_future());
    eventually("last event id", || client.last_event_id() == "5").await;
    assert!(!task.is_finished(), "no event was dispatched");
    task.abort();
}
