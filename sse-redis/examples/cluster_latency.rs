//! Publish→deliver latency and deliveries/s: one node in process, or two
//! nodes sharing a Redis (subscribers on one, the publisher on the other).
//! Both nodes run in this process, so one clock times both ends.
//!
//! Run: `cargo run --release -p sse-redis --example cluster_latency -- [local|redis://HOST:PORT] [EVENTS] [SUBSCRIBERS] [RATE]`
//!
//! `RATE` is events per second, paced (default 0: as fast as publishing
//! goes, which measures throughput; latency then includes queueing).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use sse_actors::{Event, Server, ServerBuilder, SubscribeRequest};
use sse_redis::{RedisBackplane, RedisOptions};

/// Publishes in flight at once, so the Redis round trip does not cap the rate.
const IN_FLIGHT: usize = 32;

fn builder(events: usize) -> ServerBuilder {
    Server::builder()
        .auto_stream(true)
        .auto_replay(false)
        .keep_alive(None)
        .arbiters(1)
        // Every subscriber may hold the whole run: none is dropped as slow.
        .subscriber_queue(events + 1)
        .buffer_size(events + 1)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| "local".to_owned());
    let events: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let subscribers: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let rate: u64 = args.next().map_or(Ok(0), |a| a.parse())?;

    actix_rt::System::new().block_on(async move {
        let (publisher, subscriber_node) = if target == "local" {
            let server = builder(events).build();
            (server.clone(), server)
        } else {
            let node = || -> Result<Server, Box<dyn std::error::Error>> {
                let backplane = RedisBackplane::new(&target, RedisOptions::default())?;
                Ok(builder(events).backplane(Arc::new(backplane)).build())
            };
            (node()?, node()?)
        };
        let stream = format!("bench-{}", std::process::id());
        let epoch = Instant::now();

        let mut readers = Vec::with_capacity(subscribers);
        for _ in 0..subscribers {
            let mut subscription = subscriber_node
                .subscribe(&stream, SubscribeRequest::new())
                .await?;
            readers.push(actix_rt::spawn(async move {
                let mut latencies = Vec::with_capacity(events);
                while latencies.len() < events {
                    let Some(frame) = subscription.next().await else {
                        break;
                    };
                    let now = epoch.elapsed().as_nanos() as u64;
                    if let Some(sent) = sent_at(&frame) {
                        latencies.push(now.saturating_sub(sent));
                    }
                }
                latencies
            }));
        }

        let start = Instant::now();
        futures_util::stream::iter(0..events)
            .then(|i| async move {
                if let Some(offset) = (i as u64 * 1_000_000_000).checked_div(rate) {
                    let due = start + Duration::from_nanos(offset);
                    actix_rt::time::sleep_until(due.into()).await;
                }
                i
            })
            .map(|_| {
                let publisher = publisher.clone();
                let stream = stream.clone();
                async move {
                    let sent = epoch.elapsed().as_nanos() as u64;
                    publisher
                        .publish(&stream, Event::data(sent.to_string()))
                        .await
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .for_each(|result| async move {
                if let Err(error) = result {
                    eprintln!("publish failed: {error}");
                }
            })
            .await;
        let mut latencies = Vec::with_capacity(events * subscribers);
        for reader in readers {
            latencies.extend(reader.await?);
        }
        let elapsed = start.elapsed();
        latencies.sort_unstable();
        let pct = |p: f64| {
            let at = ((latencies.len() as f64 - 1.0) * p).round() as usize;
            Duration::from_nanos(latencies.get(at).copied().unwrap_or_default())
        };
        println!(
            "{target}: {events} events x {subscribers} subscribers at {}: {} deliveries in {elapsed:.2?}, {:.2} M deliveries/s; publish->deliver p50 {:.2?} p90 {:.2?} p99 {:.2?} max {:.2?}",
            if rate > 0 { format!("{rate} events/s") } else { "full speed".to_owned() },
            latencies.len(),
            latencies.len() as f64 / elapsed.as_secs_f64() / 1e6,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(1.0),
        );
        publisher.close().await;
        subscriber_node.close().await;
        Ok(())
    })
}

/// The publish time carried as the event's data.
fn sent_at(frame: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(frame).ok()?;
    let data = text.lines().find_map(|line| line.strip_prefix("data: "))?;
    data.parse().ok()
}
