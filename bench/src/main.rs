//! `sse-bench`: fan-out load for an SSE server over HTTP/1.1 on loopback.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sse_bench::http::UrlTemplate;
use sse_bench::load::{
    self, BodyFormat, ChurnConfig, FanoutConfig, IdleConfig, PerRequestConfig, Report, Shard,
    Target,
};

/// Opens subscriber connections to an SSE server, publishes through its
/// publish endpoint, and reports deliveries, loss, latency, memory and CPU.
///
/// URLs are templates: `{stream}` becomes the stream name (`s0`, `s1`, ...).
/// Only loopback targets are accepted. Every run stops by itself.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Subscription URL (GET, text/event-stream).
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:8080/events?stream={stream}"
    )]
    subscribe_url: String,
    /// Publish URL (POST); defaults to the subscription URL.
    #[arg(long, global = true)]
    publish_url: Option<String>,
    /// Publish body: the data itself, or `{"data": ...}`.
    #[arg(long, global = true, value_enum, default_value = "raw")]
    body: BodyFormat,
    /// Server process to read memory and CPU time from (repeat for several,
    /// e.g. nginx's master and worker).
    #[arg(long = "server-pid", global = true)]
    server_pids: Vec<u32>,
    /// Source addresses to spread connections over (127.0.S.1..=K), each
    /// with its own ephemeral ports; 0 lets the kernel choose.
    #[arg(long, global = true, default_value_t = 8)]
    source_addrs: u8,
    /// Generate only part `i` of `n` of the connections (for several tool
    /// processes; only shard 0 publishes).
    #[arg(long, global = true, value_parser = Shard::parse, default_value = "0/1")]
    shard: Shard,
    /// Runtime worker threads for the tool.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    /// Connection attempts in flight at once.
    #[arg(long, global = true, default_value_t = 256)]
    connect_concurrency: usize,
    /// Name of the peer, copied into the report.
    #[arg(long, global = true, default_value = "server")]
    label: String,
    /// Stream names are this prefix and a number (use a fresh one per run).
    #[arg(long, global = true, default_value = "s")]
    stream_prefix: String,
    /// Write the JSON report here.
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Subscribers on one or more streams while the tool publishes: fixed
    /// rate (`--rate R`) or as fast as the in-flight window allows (`--rate 0`).
    Fanout {
        /// Subscriber connections (over all shards).
        #[arg(long, short = 'n', default_value_t = 1000)]
        connections: u64,
        /// Streams; connection i subscribes to stream i % streams.
        #[arg(long, default_value_t = 1)]
        streams: u32,
        /// Events per second over all streams; 0 = unthrottled.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Unthrottled: events per stream in flight (published, not yet
        /// delivered to all).
        #[arg(long, default_value_t = 64)]
        window: u64,
        /// Bytes of data per event.
        #[arg(long, default_value_t = 200)]
        event_size: usize,
        /// Publisher connections (each owns a share of the streams).
        #[arg(long, default_value_t = 1)]
        publishers: u32,
        /// Seconds of publishing.
        #[arg(long, default_value_t = 20.0)]
        duration: f64,
        /// Seconds to wait for outstanding deliveries at the end.
        #[arg(long, default_value_t = 5.0)]
        drain: f64,
    },
    /// Idle subscribers: time to open them and server memory per connection.
    Idle {
        /// Connections (over all shards).
        #[arg(long, short = 'n', default_value_t = 1000)]
        connections: u64,
        /// Seconds to hold them once open.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
    },
    /// Connection churn: connect, subscribe, disconnect, at a steady rate.
    Churn {
        /// New connections per second (over all shards).
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Seconds of churn.
        #[arg(long, default_value_t = 30.0)]
        duration: f64,
        /// Milliseconds each connection stays subscribed.
        #[arg(long, default_value_t = 100)]
        hold_ms: u64,
        /// Streams the connections spread over.
        #[arg(long, default_value_t = 1)]
        streams: u32,
        /// Seconds to wait after the last disconnect before reading memory.
        #[arg(long, default_value_t = 3.0)]
        settle: f64,
    },
    /// Per-request streams: each connection's response makes its own events
    /// (the `sse-bench-responder` peers); nothing is published.
    PerRequest {
        /// Connections (over all shards), each with its own response.
        #[arg(long, short = 'n', default_value_t = 1000)]
        connections: u64,
        /// Events per response, then it ends; 0 = until the tool closes it.
        #[arg(long, default_value_t = 0)]
        events: u64,
        /// Events per second per response; 0 = as fast as the tool reads.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Bytes of data per event.
        #[arg(long, default_value_t = 64)]
        event_size: usize,
        /// Seconds measured (open-ended), or the most to wait for every
        /// event (finite).
        #[arg(long, default_value_t = 20.0)]
        duration: f64,
        /// Seconds between the last connection opening and the measured
        /// window (open-ended).
        #[arg(long, default_value_t = 2.0)]
        settle: f64,
    },
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.0, 24.0 * 3600.0))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let nofile = sse_bench::sys::raise_nofile_limit();
    let subscribe = UrlTemplate::parse(&cli.subscribe_url)?;
    let publish = UrlTemplate::parse(cli.publish_url.as_deref().unwrap_or(&cli.subscribe_url))?;
    let target = Target {
        label: cli.label.clone(),
        subscribe,
        publish,
        body: cli.body,
        server_pids: cli.server_pids.clone(),
        source_addrs: cli.source_addrs,
        shard: cli.shard,
        connect_concurrency: cli.connect_concurrency,
        progress: std::io::stderr().is_terminal(),
        stream_prefix: cli.stream_prefix.clone(),
    };
    let wanted = match &cli.scenario {
        Scenario::Fanout { connections, .. } | Scenario::Idle { connections, .. } => {
            connections.div_ceil(u64::from(cli.shard.count))
        }
        Scenario::PerRequest { connections, .. } => {
            connections.div_ceil(u64::from(cli.shard.count))
        }
        Scenario::Churn { .. } => 0,
    };
    if wanted + 64 > nofile {
        eprintln!(
            "warning: {wanted} connections but only {nofile} open files allowed; use --shard i/n over several processes"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?;
    let report = runtime.block_on(async move {
        match cli.scenario {
            Scenario::Fanout {
                connections,
                streams,
                rate,
                window,
                event_size,
                publishers,
                duration,
                drain,
            } => {
                let cfg = FanoutConfig {
                    connections,
                    streams: streams.max(1),
                    rate,
                    window,
                    event_size,
                    publishers,
                    duration: secs(duration),
                    drain: secs(drain),
                    ..FanoutConfig::default()
                };
                load::fanout(target, cfg).await
            }
            Scenario::Idle {
                connections,
                duration,
            } => {
                let cfg = IdleConfig {
                    connections,
                    hold: secs(duration),
                };
                load::idle(target, cfg).await
            }
            Scenario::Churn {
                rate,
                duration,
                hold_ms,
                streams,
                settle,
            } => {
                let cfg = ChurnConfig {
                    rate,
                    duration: secs(duration),
                    hold: Duration::from_millis(hold_ms),
                    streams: streams.max(1),
                    settle: secs(settle),
                };
                load::churn(target, cfg).await
            }
            Scenario::PerRequest {
                connections,
                events,
                rate,
                event_size,
                duration,
                settle,
            } => {
                let cfg = PerRequestConfig {
                    connections,
                    events,
                    rate,
                    event_size,
                    duration: secs(duration),
                    settle: secs(settle),
                };
                load::per_request(target, cfg).await
            }
        }
    });
    print_summary(&report);
    if let Some(path) = cli.out {
        std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    Ok(())
}

fn print_summary(r: &Report) {
    let kib = |v: Option<u64>| v.map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!(
        "{} {} [{}]: held {}/{} conns (connect errors {}, stream errors {}), opened in {:.2}s ({:.0}/s)",
        r.label,
        r.scenario,
        r.shard,
        r.connections_held,
        r.connections_requested,
        r.connect_errors,
        r.stream_errors,
        r.connect_seconds,
        r.connects_per_second
    );
    if r.scenario == "fanout" {
        println!(
            "  published {} ({:.1}/s, {} errors), delivered {}/{} ({:.0}/s), lost {}, duplicated {}",
            r.published,
            r.events_per_second,
            r.publish_errors,
            r.deliveries,
            r.expected_deliveries,
            r.deliveries_per_second,
            r.lost,
            r.duplicated
        );
    }
    if r.scenario == "per-request" {
        println!(
            "  delivered {}/{} ({:.0}/s), lost {}, duplicated {}; server CPU {} per event",
            r.deliveries,
            r.expected_deliveries,
            r.deliveries_per_second,
            r.lost,
            r.duplicated,
            r.server_cpu_us_per_delivery
                .map_or("-".into(), |us| format!("{us:.2} us"))
        );
    }
    println!(
        "  latency p50 {} us, p99 {} us, p99.9 {} us, max {} us ({} samples)",
        r.latency.p50_us, r.latency.p99_us, r.latency.p999_us, r.latency.max_us, r.latency.count
    );
    println!(
        "  server RSS before {} connected {} peak {} end {} after close {}; per connection {}",
        kib(r.memory.before_kib),
        kib(r.memory.connected_kib),
        kib(r.memory.peak_kib),
        kib(r.memory.end_kib),
        kib(r.memory.after_close_kib),
        r.memory
            .per_connection_bytes
            .map_or("-".into(), |b| format!("{:.0} B", b))
    );
    println!(
        "  server CPU {}; tool CPU {:.2}s ({:.0}% of a core); load average {:.2} -> {:.2}",
        r.server_cpu_seconds
            .map_or("-".into(), |c| format!("{c:.2}s")),
        r.tool_cpu_seconds,
        r.tool_cpu_share * 100.0,
        r.load_average_start[0],
        r.load_average_end[0]
    );
    if let Some(e) = &r.first_error {
        println!("  first error: {e}");
    }
}
