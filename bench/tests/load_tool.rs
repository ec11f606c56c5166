//! The load tool against in-process servers that misbehave on purpose: its
//! loss, duplicate and latency accounting must see exactly what they did.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use sse_bench::baseline::{self, Hub, StreamQuery};
use sse_bench::load::{self, FanoutConfig, Report, Target, parse_payload};
use sse_proto::ByteString;

/// What the test server does with one published event.
#[derive(Clone, Copy)]
enum Fault {
    None,
    /// Never broadcasts the event with this sequence number.
    Drop(u64),
    /// Broadcasts the event with this sequence number twice.
    Duplicate(u64),
    /// Waits this long before broadcasting each event.
    Delay(Duration),
}

async fn faulty_publish(
    hub: web::Data<Hub>,
    fault: web::Data<Fault>,
    query: web::Query<StreamQuery>,
    body: web::Bytes,
) -> HttpResponse {
    let data = ByteString::try_from(body).expect("UTF-8 body");
    let seq = parse_payload(&data).map(|(_, seq, _)| seq);
    match **fault {
        Fault::None => {}
        Fault::Drop(n) if seq == Some(n) => return HttpResponse::Ok().finish(),
        Fault::Drop(_) => {}
        Fault::Duplicate(n) => {
            if seq == Some(n) {
                hub.publish(&query.stream, data.clone());
            }
        }
        Fault::Delay(d) => tokio::time::sleep(d).await,
    }
    hub.publish(&query.stream, data);
    HttpResponse::Ok().finish()
}

/// Starts a one-worker server on a free loopback port; it lives as long as
/// the test process.
fn start(fault: Fault) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let hub = web::Data::new(Hub::new(1024));
            let fault = web::Data::new(fault);
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(hub.clone())
                    .app_data(fault.clone())
                    .route("/events", web::get().to(baseline::subscribe))
                    .route("/events", web::post().to(faulty_publish))
            })
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .expect("bind");
            tx.send(server.addrs()[0]).expect("send address");
            server.run().await.expect("server");
        });
    });
    rx.recv().expect("server address")
}

fn run(addr: SocketAddr, connections: u64, rate: f64) -> Report {
    let mut target =
        Target::new("test", &format!("http://{addr}/events?stream={{stream}}")).expect("target");
    target.server_pids = vec![std::process::id()];
    // Exercise the source-address spreading too.
    target.source_addrs = 2;
    let cfg = FanoutConfig {
        connections,
        rate,
        duration: Duration::from_millis(600),
        settle: Duration::from_millis(200),
        drain: Duration::from_secs(2),
        ..FanoutConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(load::fanout(target, cfg))
}

#[test]
fn clean_server_loses_nothing() {
    let addr = start(Fault::None);
    let r = run(addr, 20, 50.0);
    assert!(r.published >= 5, "{r:?}");
    assert_eq!(r.connections_held, 20);
    assert_eq!(
        r.connect_errors + r.stream_errors + r.publish_errors,
        0,
        "{r:?}"
    );
    assert_eq!((r.lost, r.duplicated), (0, 0), "{r:?}");
    assert_eq!(r.deliveries, r.published * 20);
    assert_eq!(r.expected_deliveries, r.deliveries);
    assert_eq!(r.latency.count, r.deliveries);
    assert!(r.latency.p50_us > 0 && r.latency.p50_us <= r.latency.max_us);
    assert!(r.memory.before_kib.is_some() && r.tool_cpu_seconds >= 0.0);
}

#[test]
fn unthrottled_mode_loses_nothing() {
    let addr = start(Fault::None);
    let r = run(addr, 10, 0.0);
    assert!(r.published >= 10, "{r:?}");
    assert_eq!((r.lost, r.duplicated), (0, 0), "{r:?}");
    assert_eq!(r.deliveries, r.published * 10);
}

#[test]
fn a_dropped_event_is_one_loss_per_subscriber() {
    let addr = start(Fault::Drop(3));
    let r = run(addr, 3, 50.0);
    assert!(r.published > 4, "{r:?}");
    assert_eq!(r.lost, 3, "{r:?}");
    assert_eq!(r.duplicated, 0);
    assert_eq!(r.deliveries, (r.published - 1) * 3);
}

#[test]
fn a_dropped_first_event_is_lost_too() {
    // The tool expects every subscriber to start at sequence 0.
    let addr = start(Fault::Drop(0));
    let r = run(addr, 1, 50.0);
    assert_eq!(r.lost, 1, "{r:?}");
}

#[test]
fn a_repeated_event_is_one_duplicate_per_subscriber() {
    let addr = start(Fault::Duplicate(2));
    let r = run(addr, 4, 50.0);
    assert!(r.published > 3, "{r:?}");
    assert_eq!((r.lost, r.duplicated), (0, 4), "{r:?}");
}

#[test]
fn latency_includes_server_delay() {
    let delay = Duration::from_millis(40);
    let addr = start(Fault::Delay(delay));
    let r = run(addr, 2, 20.0);
    assert!(r.deliveries > 0, "{r:?}");
    // A lower bound only: the server cannot deliver before it publishes.
    assert!(r.latency.p50_us >= 40_000, "{:?}", r.latency);
    assert!(r.latency.max_us >= r.latency.p99_us);
}
