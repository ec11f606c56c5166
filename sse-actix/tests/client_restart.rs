//! Forcing a reconnection now (`restart`), against a scripted server.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::StreamExt as _;
use sse_actix::client::Client;
use sse_testkit::scripted::{End, Reply, ScriptedServer, eventually, fast, numbered, within};
use tokio::sync::mpsc;

#[actix_web::test]
async fn restart_reconnects_at_once_from_the_last_event_id_with_one_connection_at_a_time() {
    // Client-side connections open when each request arrives.
    let probe: Arc<OnceLock<Client>> = Arc::default();
    let open_at_request = Arc::new(Mutex::new(Vec::new()));
    let server = ScriptedServer::start({
        let probe = Arc::clone(&probe);
        let open_at_request = Arc::clone(&open_at_request);
        move |req, _| {
            let open = probe.get().map(|c| c.live().connections);
            open_at_request.lock().unwrap().push(open);
            Reply::sse(numbered(req.last_number(), 1, 3), End::Hang)
        }
    });
    // A long delay: a restart that waited for it would time the test out.
    let client = Client::builder(&server.url)
        .initial_delay(Duration::from_secs(3600))
        .delay_bounds(Duration::from_secs(3600), Duration::from_secs(3600))
        .build();
    probe.set(client.clone()).unwrap();
    let mut stream = client.stream();
    for n in 1..=3 {
        let event = within("event", stream.next()).await.unwrap();
        // Not an error: a restart reports nothing.
        assert_eq!(event.unwrap().data, format!("event {n}"));
        if n < 3 {
            stream.restart();
        }
    }
    let sent: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.last_event_id)
        .collect();
    assert_eq!(sent, [None, Some("1".into()), Some("2".into())]);
    // The old connection was closed before each new request was sent.
    assert_eq!(
        *open_at_request.lock().unwrap(),
        [Some(0), Some(0), Some(0)]
    );
    assert_eq!(client.live().connections, 1);
}

#[actix_web::test]
async fn restart_cancels_a_pending_reconnection_delay() {
    let server =
        ScriptedServer::start(|req, _| Reply::sse(numbered(req.last_number(), 1, 2), End::Eof));
    let client = Client::builder(&server.url)
        .initial_delay(Duration::from_secs(3600))
        .delay_bounds(Duration::from_secs(3600), Duration::from_secs(3600))
        .build();
    let mut stream = client.stream();
    assert_eq!(
        within("event", stream.next()).await.unwrap().unwrap().data,
        "event 1"
    );
    // The clean end: the stream now waits an hour before reconnecting.
    assert!(within("end", stream.next()).await.unwrap().is_err());
    let restart = stream.restart_handle();
    actix_rt::spawn(async move {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        restart.restart();
    });
    assert_eq!(
        within("event after restart", stream.next())
            .await
            .unwrap()
            .unwrap()
            .data,
        "event 2"
    );
    assert_eq!(server.requests()[1].last_event_id.as_deref(), Some("1"));
}

#[actix_web::test]
async fn a_channel_subscription_restarts_from_another_thread() {
    let server =
        ScriptedServer::start(|req, _| Reply::sse(numbered(req.last_number(), 1, 2), End::Hang));
    let client = fast(Client::builder(&server.url)).build();
    let (tx, mut rx) = mpsc::channel(4);
    let subscription = client.subscribe_chan_raw(tx);
    assert_eq!(within("event", rx.recv()).await.unwrap().data, "event 1");
    let restart = subscription.restart_handle();
    std::thread::spawn(move || restart.restart())
        .join()
        .unwrap();
    assert_eq!(within("event 2", rx.recv()).await.unwrap().data, "event 2");
    assert_eq!(server.request_count(), 2);
    subscription.unsubscribe();
    eventually("nothing left", || client.live().connections == 0).await;
}
