//! `server::listener`'s write timeout over real TCP: a client that stops
//! reading (a small receive buffer, then nothing) has its connection ended,
//! and everything it held freed, once its socket accepted nothing for the
//! timeout.

use std::time::Duration;

use sse_actix::server::{Sse, listener};
use sse_actors::{Event, Server};
use sse_testkit::{GUARD, TestServer, stalled_client, until};
use tokio::io::AsyncReadExt as _;

#[actix_web::test]
async fn a_connection_whose_client_stops_reading_ends_after_the_write_timeout() {
    let server = Server::builder().arbiters(1).keep_alive(None).build();
    let stream = server.create_stream("s").await.unwrap();
    let sse = Sse::new(server.clone());
    let socket = listener(
        "127.0.0.1:0".parse().unwrap(),
        64,
        Some(Duration::from_millis(300)),
    )
    .unwrap();
    let http = TestServer::listen(socket, {
        let sse = sse.clone();
        move |cfg| {
            cfg.service(sse.resource("/events"));
        }
    });
    let mut stalled = stalled_client(http.addr, "/events?stream=s").await;
    until("the subscriber to join", async || {
        stream.info().subscribers == 1
    })
    .await;
    // Far more than the client's buffer and the server's socket hold.
    let data = "x".repeat(16 * 1024);
    for _ in 0..256 {
        stream.publish(Event::data(data.as_str())).await.unwrap();
    }
    until("the stalled connection to end", async || {
        sse.open_connections() == 0
    })
    .await;
    until("its subscriber to be freed", async || {
        server.stats().subscriber_actors == 0 && server.stats().queues == 0
    })
    .await;
    // The client finds its connection reset (or ended) once it reads again.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(GUARD, stalled.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection is over");
    server.close().await;
}
