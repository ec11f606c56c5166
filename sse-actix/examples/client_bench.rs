//! Client throughput: events per second decoded from a loopback server that
//! writes as fast as it can.
//!
//! Run: `cargo run --release -p sse-actix --example client_bench -- [EVENTS] [DATA_BYTES]`
//! (defaults: 2,000,000 events of 64 bytes of data each).

use std::time::Instant;

use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures_util::{StreamExt as _, stream};
use sse_actix::client::Client;

/// Events per chunk the server writes.
const BATCH: usize = 1000;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: usize = args
        .next()
        .map_or(Ok(2_000_000), |a| a.parse())
        .expect("EVENTS");
    let size: usize = args
        .next()
        .map_or(Ok(64), |a| a.parse())
        .expect("DATA_BYTES");
    let batches = events.div_ceil(BATCH);
    let data = "x".repeat(size);
    let chunk: String = (0..BATCH)
        .map(|i| format!("id: {i:06}\nevent: tick\ndata: {data}\n\n"))
        .collect();
    let chunk = Bytes::from(chunk);
    let wire_bytes = chunk.len() * batches;

    actix_rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            let chunk = chunk.clone();
            App::new().default_service(web::to(move || {
                let chunk = chunk.clone();
                async move {
                    let body = stream::iter((0..batches).map(move |_| {
                        Ok::<_, actix_web::Error>(chunk.clone())
                    }));
                    HttpResponse::Ok().content_type("text/event-stream").streaming(body)
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))?;
        let url = format!("http://{}/", server.addrs()[0]);
        actix_rt::spawn(server.run());

        let client = Client::new(url);
        let mut stream = client.stream();
        let total = batches * BATCH;
        let mut received = 0usize;
        let start = Instant::now();
        while received < total {
            match stream.next().await {
                Some(Ok(_)) => received += 1,
                Some(Err(error)) => panic!("after {received} events: {error}"),
                None => panic!("stream ended after {received} events"),
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{received} events ({size} B data, {:.1} MiB on the wire) in {seconds:.3} s: {:.0} events/s, {:.1} MiB/s",
            wire_bytes as f64 / 1048576.0,
            received as f64 / seconds,
            wire_bytes as f64 / 1048576.0 / seconds,
        );
        Ok(())
    })
}
