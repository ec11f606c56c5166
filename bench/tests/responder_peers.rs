//! Every per-request responder peer serves what the load tool asks for, and
//! the tool's per-request scenario accounts for it exactly: a finite
//! response's every event once, in order, and an open-ended one's events at
//! the requested rate with nothing lost.

use std::net::SocketAddr;
use std::time::Duration;

use sse_bench::load::{self, PerRequestConfig, Report, Target};
use sse_bench::responders::{Peer, listen, serve};

const PEERS: [Peer; 3] = [Peer::SseActix, Peer::ActixWebLab, Peer::Axum];

/// Starts `peer` on a free loopback port; it lives as long as the test
/// process.
fn start(peer: Peer) -> SocketAddr {
    let listener = listen("127.0.0.1:0".parse().unwrap()).expect("listen");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || serve(peer, listener, 1).expect("serve"));
    addr
}

fn run(addr: SocketAddr, cfg: PerRequestConfig) -> Report {
    let mut target =
        Target::new("test", &format!("http://{addr}/events?stream={{stream}}")).expect("target");
    target.server_pids = vec![std::process::id()];
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(load::per_request(target, cfg))
}

#[test]
fn finite_responses_deliver_every_event_once_on_every_peer() {
    for peer in PEERS {
        let report = run(
            start(peer),
            PerRequestConfig {
                connections: 3,
                events: 2_000,
                rate: 0.0,
                event_size: 64,
                duration: Duration::from_secs(30),
                settle: Duration::ZERO,
            },
        );
        let outcome = (report.deliveries, report.lost, report.duplicated);
        assert_eq!(outcome, (6_000, 0, 0), "{peer:?}: {report:?}");
        assert_eq!(report.expected_deliveries, 6_000, "{peer:?}");
        assert_eq!(report.connect_errors + report.stream_errors, 0, "{peer:?}");
        assert!(report.server_cpu_us_per_delivery.is_some(), "{peer:?}");
    }
}

#[test]
fn open_ended_responses_send_at_the_requested_rate_on_every_peer() {
    for peer in PEERS {
        let report = run(
            start(peer),
            PerRequestConfig {
                connections: 5,
                events: 0,
                rate: 100.0,
                event_size: 64,
                duration: Duration::from_millis(500),
                settle: Duration::from_millis(100),
            },
        );
        assert_eq!(
            (report.lost, report.duplicated),
            (0, 0),
            "{peer:?}: {report:?}"
        );
        assert_eq!(report.connections_held, 5, "{peer:?}");
        // Ticks are never closer than the period (a late one is not made
        // up for), so at most 5 x 100/s, plus one per connection at the
        // window's edges; a loaded machine may send fewer.
        assert!(report.deliveries > 0, "{peer:?}");
        assert!(
            report.deliveries_per_second <= 500.0 + 5.0 / 0.5,
            "{peer:?}: {:.0} events/s",
            report.deliveries_per_second
        );
        assert_eq!(report.latency.count, report.deliveries, "{peer:?}");
    }
}
