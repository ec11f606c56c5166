//! Resident memory per idle subscriber in the actors layer: the Subscriber
//! actor, its queue, its record in the stream and the `Subscription` itself.
//!
//! Run: `cargo run --release -p sse-actors --example idle_memory [N]`

use sse_actors::{Server, SubscribeRequest};

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
        let before = rss_kib();
        let mut subs = Vec::with_capacity(n);
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
        let after = rss_kib();
        let per = (after.saturating_sub(before)) as f64 * 1024.0 / n as f64;
        println!(
            "{n} idle subscribers: VmRSS {before} KiB -> {after} KiB, {per:.0} bytes per subscriber"
        );
        drop((subs, warm));
        server.close().await;
    });
}
