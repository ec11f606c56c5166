//! Memory per idle subscriber in the actors layer: the Subscriber actor and
//! its mailbox, its queue, its record in the stream and the `Subscription`
//! itself. Counts the bytes allocated and still held (exact, the same on
//! every run) and the resident memory (what the system sees, allocator
//! overhead included).
//!
//! Run: `cargo run --release -p sse-actors --example idle_memory [N]`

use std::alloc::System;

use sse_actors::{Server, SubscribeRequest, Subscription};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    actix::System::new().block_on(async move {
        let server = Server::builder().arbiters(1).keep_alive(None).build();
        let stream = server.create_stream("idle").await.expect("server is open");
        // One subscriber first, so the stream's and runtime's one-off costs
        // are not counted per subscriber.
        let warm = stream
            .subscribe(SubscribeRequest::new())
            .await
            .expect("subscribe");
        // Let it start on its arbiter.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut subs: Vec<Subscription> = Vec::with_capacity(n);
        let before = rss_kib();
        let region = Region::new(GLOBAL);
        for _ in 0..n {
            subs.push(
                stream
                    .subscribe(SubscribeRequest::new())
                    .await
                    .expect("subscribe"),
            );
        }
        // Let every Subscriber actor start on its arbiter.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let change = region.change();
        let after = rss_kib();
        let held = change.bytes_allocated as f64 - change.bytes_deallocated as f64;
        let per = (after.saturating_sub(before)) as f64 * 1024.0 / n as f64;
        println!(
            "{n} idle subscribers: {:.0} bytes allocated and held per subscriber \
             ({:.1} allocations) plus {} bytes of Subscription; \
             VmRSS {before} KiB -> {after} KiB, {per:.0} bytes per subscriber",
            held / n as f64,
            (change.allocations as f64 - change.deallocations as f64) / n as f64,
            std::mem::size_of::<Subscription>(),
        );
        drop((subs, warm));
        server.close().await;
    });
}
