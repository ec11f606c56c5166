//! Per-request streams: every connection gets a response of its own, made
//! by the server's producer (no publishing), as the `sse-bench-responder`
//! peers serve it (see [`crate::responders`]).
//!
//! Two shapes, chosen by `events`:
//! - **finite** (`events > 0`): each response sends that many events and
//!   ends. The measured window runs from the first connection attempt until
//!   every event has arrived (or `duration` passed): scenario (a), one
//!   connection and a million events as fast as the tool reads.
//! - **open-ended** (`events == 0`): responses run until the tool closes
//!   them. Once every connection is open and `settle` has passed, the
//!   window is `duration` long: scenario (b), 1,000 connections at 10
//!   events/s each.
//!
//! Deliveries, server CPU and latency (from the time the server made each
//! event to the tool's read) are counted over the window only, so
//! `server_cpu_us_per_delivery` is the server's cost per event sent.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::{
    Latency, Report, Shared, Target, base_report, close_subscribers, finish_report,
    open_subscribers,
};
use crate::load::Monitor;
use crate::sys;

/// What each connection asks its response for.
#[derive(Debug, Clone)]
pub struct PerRequestConfig {
    /// Connections over all shards, each with its own response.
    pub connections: u64,
    /// Events per response, then it ends; 0 = until the tool closes it.
    pub events: u64,
    /// Events per second per response; 0 = as fast as the tool reads.
    pub rate: f64,
    /// Bytes of data per event.
    pub event_size: usize,
    /// Open-ended: the measured window. Finite: the most to wait for every
    /// event.
    pub duration: Duration,
    /// Open-ended: the pause between the last connection opening and the
    /// window, so the window sees the steady state only.
    pub settle: Duration,
}

/// Runs the per-request scenario against `target`, whose subscription URL
/// gets `events`, `rate` and `size` appended to its query, and `{stream}`
/// replaced by the connection's number.
pub async fn per_request(mut target: Target, cfg: PerRequestConfig) -> Report {
    let started = Instant::now();
    let cpu0 = sys::own_cpu_seconds();
    let shared = Shared::new();
    let separator = if target.subscribe.path.contains('?') {
        '&'
    } else {
        '?'
    };
    target.subscribe.path = format!(
        "{}{separator}events={}&rate={}&size={}",
        target.subscribe.path, cfg.events, cfg.rate, cfg.event_size
    );
    // `{stream}` becomes the bare connection number, which the peers copy
    // into the data.
    target.stream_prefix = String::new();
    let mut report = base_report("per-request", &target);
    report.connections_requested = (0..cfg.connections)
        .filter(|&i| target.shard.owns(i))
        .count() as u64;
    report.streams = u32::try_from(cfg.connections).unwrap_or(u32::MAX);
    report.event_size = cfg.event_size;
    report.rate_requested = cfg.rate;
    let _monitor = Monitor::start(&target, &shared, "per-request");

    let finite = cfg.events > 0;
    let server_cpu_before = sys::total_cpu_seconds(&target.server_pids);
    let opened = open_subscribers(&target, &shared, cfg.connections, report.streams, true).await;
    report.connect_seconds = opened.seconds;
    report.connects_per_second = shared.connected.load(Relaxed) as f64 / opened.seconds;
    report.memory.connected_kib = sys::total_rss_kib(&target.server_pids);

    let (window_start, delivered_before, cpu_start) = if finite {
        (started, 0, server_cpu_before)
    } else {
        tokio::time::sleep(cfg.settle).await;
        shared
            .hist
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reset();
        (
            Instant::now(),
            shared.deliveries.load(Relaxed),
            sys::total_cpu_seconds(&target.server_pids),
        )
    };
    let deadline = window_start + cfg.duration;
    if finite {
        let expected = shared.connected.load(Relaxed) * cfg.events;
        report.expected_deliveries = expected;
        while shared.deliveries.load(Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    } else {
        tokio::time::sleep_until(deadline.into()).await;
    }
    let window = window_start.elapsed().as_secs_f64();
    let delivered = shared.deliveries.load(Relaxed) - delivered_before;
    if let (Some(a), Some(b)) = (cpu_start, sys::total_cpu_seconds(&target.server_pids)) {
        report.server_cpu_seconds = Some(b - a);
    }
    report.latency =
        Latency::from_histogram(&shared.hist.lock().unwrap_or_else(|e| e.into_inner()));
    report.memory.end_kib = sys::total_rss_kib(&target.server_pids);
    report.connections_held = shared.held.load(Relaxed);

    let outcomes = close_subscribers(opened).await;
    for o in &outcomes {
        report.duplicated += o.tracker.dups;
        report.lost += o.tracker.gaps;
        if finite {
            report.lost += cfg.events.saturating_sub(o.tracker.next);
        }
    }
    report.deliveries = delivered;
    if !finite {
        report.expected_deliveries = delivered + report.lost;
    }
    report.deliveries_per_second = delivered as f64 / window;
    if let Some(cpu) = report.server_cpu_seconds
        && delivered > 0
    {
        report.server_cpu_us_per_delivery = Some(cpu * 1e6 / delivered as f64);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.memory.after_close_kib = sys::total_rss_kib(&target.server_pids);
    finish_report(&mut report, &shared, started, cpu0);
    report
}
