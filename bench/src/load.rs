//! The load scenarios: fan-out (fixed rate, as fast as possible, many
//! streams), idle connections and connection churn.
//!
//! Every event the tool publishes carries `STREAM SEQ SEND_NS` followed by
//! padding in its data, so each subscriber can tell, on its own, which
//! events it missed or saw twice and how long each took to arrive. Send
//! times are wall-clock nanoseconds so that several tool processes (shards)
//! on the same machine share one clock.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sse_proto::{Decoder, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::http::{BodyDecoder, BodyKind, HttpError, UrlTemplate, parse_head};
use crate::sys;

mod per_request;
pub use per_request::{PerRequestConfig, per_request};

/// How the publish request body carries the event data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// The body is the data itself (`text/plain`): our hub, the baseline, nchan.
    Raw,
    /// `{"data": "..."}` (`application/json`).
    Json,
    /// A Mercure publication (`application/x-www-form-urlencoded`): the
    /// stream's name is the update's topic, `topic=NAME&data=...`.
    Mercure,
}

/// Which part of the connections this process opens when the load is split
/// over several processes (each is limited to 20,000 open files here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's index, from 0.
    pub index: u32,
    /// How many processes share the load.
    pub count: u32,
}

impl Shard {
    /// The whole load in one process.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `i/n`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (i, n) = text.split_once('/').ok_or("expected i/n")?;
        let index: u32 = i.parse().map_err(|_| "bad shard index")?;
        let count: u32 = n.parse().map_err(|_| "bad shard count")?;
        if count == 0 || index >= count {
            return Err("need 0 <= i < n".into());
        }
        Ok(Shard { index, count })
    }

    /// Whether this process owns global connection `idx`.
    fn owns(self, idx: u64) -> bool {
        idx % u64::from(self.count) == u64::from(self.index)
    }

    /// Only the first shard publishes, so that each event is published once.
    fn publishes(self) -> bool {
        self.index == 0
    }
}

/// Where and how to reach the server under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// A name for the peer, copied into the report.
    pub label: String,
    /// Subscription URL, `{stream}` replaced by the stream name.
    pub subscribe: UrlTemplate,
    /// Publish URL, `{stream}` replaced by the stream name.
    pub publish: UrlTemplate,
    /// Publish body format.
    pub body: BodyFormat,
    /// Server processes whose memory and CPU time to report.
    pub server_pids: Vec<u32>,
    /// How many source addresses (127.0.S.1 ..= 127.0.S.K) to spread
    /// connections over; 0 lets the kernel pick (127.0.0.1). Each source
    /// address has its own ~28,000 ephemeral ports.
    pub source_addrs: u8,
    /// The part of the load this process generates.
    pub shard: Shard,
    /// Connection attempts in flight at once: more overflows the server's
    /// listen backlog and turns into SYN retries a second later.
    pub connect_concurrency: usize,
    /// Show a progress line on stderr (only when it is a terminal).
    pub progress: bool,
    /// Stream names are this prefix and a number: a fresh prefix per run
    /// keeps a server's retained events from an earlier run out of this one.
    pub stream_prefix: String,
}

impl Target {
    /// A target with one URL for both subscribing and publishing (the shape
    /// of our hub and the baseline) and defaults for everything else.
    pub fn new(label: &str, url: &str) -> Result<Self, HttpError> {
        let url = UrlTemplate::parse(url)?;
        Ok(Target {
            label: label.to_owned(),
            subscribe: url.clone(),
            publish: url,
            body: BodyFormat::Raw,
            server_pids: Vec::new(),
            source_addrs: 0,
            shard: Shard::ALL,
            connect_concurrency: 256,
            progress: false,
            stream_prefix: "s".into(),
        })
    }

    fn stream_name(&self, stream: impl std::fmt::Display) -> String {
        format!("{}{stream}", self.stream_prefix)
    }

    fn source_for(&self, idx: u64) -> Option<IpAddr> {
        (self.source_addrs > 0).then(|| {
            // Shards use distinct third octets so their addresses never meet.
            let third = u8::try_from(self.shard.index + 1).unwrap_or(255);
            let fourth = u8::try_from(idx % u64::from(self.source_addrs)).unwrap_or(0) + 1;
            IpAddr::V4(Ipv4Addr::new(127, 0, third, fourth))
        })
    }
}

/// Scenarios (a), (b) and (c): subscribers on one or many streams while the
/// tool publishes.
#[derive(Debug, Clone)]
pub struct FanoutConfig {
    /// Subscriber connections over all shards.
    pub connections: u64,
    /// Streams; connection `i` subscribes to stream `i % streams`.
    pub streams: u32,
    /// Events per second over all streams; 0 publishes as fast as the
    /// in-flight window allows.
    pub rate: f64,
    /// Unthrottled mode: at most this many events per stream published but
    /// not yet delivered to every subscriber.
    pub window: u64,
    /// Size of each event's data in bytes.
    pub event_size: usize,
    /// Concurrent publisher connections; each owns a disjoint set of streams
    /// so that per-stream order is kept.
    pub publishers: u32,
    /// How long to publish.
    pub duration: Duration,
    /// Pause between the last subscriber connecting and the first publish,
    /// for servers that register a subscription after sending headers.
    pub settle: Duration,
    /// How long to wait for outstanding deliveries after the last publish.
    pub drain: Duration,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        FanoutConfig {
            connections: 1000,
            streams: 1,
            rate: 10.0,
            window: 64,
            event_size: 200,
            publishers: 1,
            duration: Duration::from_secs(20),
            settle: Duration::from_millis(500),
            drain: Duration::from_secs(5),
        }
    }
}

/// Scenario (d): idle subscribers.
#[derive(Debug, Clone)]
pub struct IdleConfig {
    /// Connections over all shards.
    pub connections: u64,
    /// How long to hold them once all are open.
    pub hold: Duration,
}

/// Scenario (e): connection churn.
#[derive(Debug, Clone)]
pub struct ChurnConfig {
    /// New connections per second (each also disconnects after `hold`).
    pub rate: f64,
    /// How long to keep opening connections.
    pub duration: Duration,
    /// How long each connection stays subscribed.
    pub hold: Duration,
    /// Streams the connections spread over.
    pub streams: u32,
    /// Wait after the last disconnect before the final memory reading.
    pub settle: Duration,
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Samples recorded.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Maximum.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

impl Latency {
    fn from_histogram(h: &Histogram<u64>) -> Self {
        Latency {
            count: h.len(),
            p50_us: h.value_at_quantile(0.5),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean(),
        }
    }
}

/// Server resident memory at the phases of a run, in KiB.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Memory {
    /// Before the tool opened any connection.
    pub before_kib: Option<u64>,
    /// Once every connection was open (and idle).
    pub connected_kib: Option<u64>,
    /// The highest reading while running (sampled every 250 ms).
    pub peak_kib: Option<u64>,
    /// At the end of the load, connections still open.
    pub end_kib: Option<u64>,
    /// After every connection was closed and the server had time to notice.
    pub after_close_kib: Option<u64>,
    /// `(connected - before) / connections held`, in bytes.
    pub per_connection_bytes: Option<f64>,
}

/// The result of one run, written as JSON by `--out`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// `fanout`, `idle` or `churn`.
    pub scenario: String,
    /// The peer's name.
    pub label: String,
    /// The subscription URL template.
    pub subscribe_url: String,
    /// `i/n` when the load was split over processes.
    pub shard: String,
    /// Connections this process was asked to open.
    pub connections_requested: u64,
    /// Connections open and streaming when the load ended.
    pub connections_held: u64,
    /// Connections that failed to open (refused, timed out, non-200).
    pub connect_errors: u64,
    /// Open connections that ended or failed before the tool closed them.
    pub stream_errors: u64,
    /// The first error seen, to say what went wrong.
    pub first_error: Option<String>,
    /// Seconds from the first connection attempt to the last one open.
    pub connect_seconds: f64,
    /// Connections opened per second during that time.
    pub connects_per_second: f64,
    /// Streams.
    pub streams: u32,
    /// Bytes of data per event.
    pub event_size: usize,
    /// Requested publish rate (events/s, 0 = unthrottled).
    pub rate_requested: f64,
    /// Seconds spent publishing.
    pub publish_seconds: f64,
    /// Events the server accepted.
    pub published: u64,
    /// Publish requests that failed.
    pub publish_errors: u64,
    /// Achieved publish rate.
    pub events_per_second: f64,
    /// Deliveries expected: each published event times the subscribers of
    /// its stream that were connected.
    pub expected_deliveries: u64,
    /// Events received by subscribers (duplicates excluded).
    pub deliveries: u64,
    /// Deliveries per second over the publish and drain time.
    pub deliveries_per_second: f64,
    /// Expected deliveries that never arrived.
    pub lost: u64,
    /// Events received twice (or out of order) on one connection.
    pub duplicated: u64,
    /// Events whose data was not the tool's (ignored).
    pub foreign_events: u64,
    /// Unthrottled mode: times the window did not drain within a second.
    pub window_stalls: u64,
    /// Publish-to-delivery latency (fan-out), or connect-to-headers
    /// latency (churn).
    pub latency: Latency,
    /// Server memory.
    pub memory: Memory,
    /// Server CPU seconds during the load phase.
    pub server_cpu_seconds: Option<f64>,
    /// Server CPU microseconds per delivery.
    pub server_cpu_us_per_delivery: Option<f64>,
    /// This tool's CPU seconds (user + system) over the whole run.
    pub tool_cpu_seconds: f64,
    /// This tool's CPU seconds per wall second (1.0 = one core busy).
    pub tool_cpu_share: f64,
    /// Wall seconds of the whole run.
    pub wall_seconds: f64,
    /// Load average at the start.
    pub load_average_start: [f64; 3],
    /// Load average at the end.
    pub load_average_end: [f64; 3],
}

/// Wall-clock nanoseconds since the Unix epoch.
fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The event data the tool publishes: `STREAM SEQ SEND_NS ` padded with `x`
/// to `size` bytes (or longer, if `size` is too small for the header).
pub fn payload(stream: u32, seq: u64, send_ns: u64, size: usize) -> String {
    let mut data = format!("{stream} {seq} {send_ns} ");
    if data.len() < size {
        data.extend(std::iter::repeat_n('x', size - data.len()));
    }
    data
}

/// Reads back `(stream, seq, send_ns)` from [`payload`] data.
pub fn parse_payload(data: &str) -> Option<(u32, u64, u64)> {
    let mut it = data.splitn(4, ' ');
    let stream = it.next()?.parse().ok()?;
    let seq = it.next()?.parse().ok()?;
    let ts = it.next()?.parse().ok()?;
    Some((stream, seq, ts))
}

/// Per-connection bookkeeping of sequence numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqTracker {
    /// The next sequence number expected.
    pub next: u64,
    /// Distinct events received.
    pub received: u64,
    /// Events skipped over (a later one arrived first).
    pub gaps: u64,
    /// Events at or below one already received.
    pub dups: u64,
    started: bool,
}

impl SeqTracker {
    /// Accounts for one received sequence number, returning whether it is a
    /// new event (not a duplicate). With `from_first`, the
    /// first number seen sets the start (a shard that does not publish
    /// cannot know what was published before it connected).
    pub fn observe(&mut self, seq: u64, from_first: bool) -> bool {
        if !self.started {
            self.started = true;
            if from_first {
                self.next = seq;
            }
        }
        if seq >= self.next {
            self.gaps += seq - self.next;
            self.next = seq + 1;
            self.received += 1;
            true
        } else {
            self.dups += 1;
            false
        }
    }
}

/// Counters shared by every task of a run.
struct Shared {
    connected: AtomicU64,
    held: AtomicU64,
    connect_errors: AtomicU64,
    stream_errors: AtomicU64,
    deliveries: AtomicU64,
    foreign: AtomicU64,
    published: AtomicU64,
    publish_errors: AtomicU64,
    expected: AtomicU64,
    window_stalls: AtomicU64,
    hist: Mutex<Histogram<u64>>,
    first_error: Mutex<Option<String>>,
    peak_rss: AtomicU64,
}

impl Shared {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            connected: AtomicU64::new(0),
            held: AtomicU64::new(0),
            connect_errors: AtomicU64::new(0),
            stream_errors: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
            published: AtomicU64::new(0),
            publish_errors: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            window_stalls: AtomicU64::new(0),
            hist: Mutex::new(new_histogram()),
            first_error: Mutex::new(None),
            peak_rss: AtomicU64::new(0),
        })
    }

    fn error(&self, counter: &AtomicU64, what: String) {
        counter.fetch_add(1, Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(what);
    }

    fn record_latencies(&self, samples: &[u64]) {
        if samples.is_empty() {
            return;
        }
        let mut hist = self.hist.lock().unwrap_or_else(|e| e.into_inner());
        for &us in samples {
            hist.saturating_record(us.max(1));
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 10 min at 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends a request and reads the response head, returning the stream, the
/// head's body framing and whatever body bytes came with the head.
async fn open_stream(
    addr: SocketAddr,
    source: Option<IpAddr>,
    request: &[u8],
) -> Result<(TcpStream, BodyKind, Vec<u8>), BoxError> {
    let mut sock = connect(addr, source).await?;
    sock.write_all(request).await?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed before the response head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((head, len)) = parse_head(&buf)? {
            if head.status != 200 {
                return Err(format!("HTTP status {}", head.status).into());
            }
            buf.drain(..len);
            return Ok((sock, head.body, buf));
        }
    }
}

/// What a subscriber saw, handed back when it ends.
struct SubOutcome {
    stream: u32,
    tracker: SeqTracker,
}

struct SubSpec {
    idx: u64,
    stream: u32,
    addr: SocketAddr,
    source: Option<IpAddr>,
    request: Vec<u8>,
    from_first: bool,
}

async fn subscriber(
    spec: SubSpec,
    shared: Arc<Shared>,
    gate: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> Option<SubOutcome> {
    let opened = {
        let _permit = gate.acquire().await.ok()?;
        tokio::time::timeout(
            Duration::from_secs(15),
            open_stream(spec.addr, spec.source, &spec.request),
        )
        .await
    };
    let (mut sock, kind, rest) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => {
            shared.error(
                &shared.connect_errors,
                format!("connect #{}: {e}", spec.idx),
            );
            return None;
        }
        Err(_) => {
            shared.error(
                &shared.connect_errors,
                format!("connect #{}: timed out", spec.idx),
            );
            return None;
        }
    };
    shared.connected.fetch_add(1, Relaxed);
    shared.held.fetch_add(1, Relaxed);

    let mut body = BodyDecoder::new(kind);
    let mut decoder = Decoder::new();
    let mut tracker = SeqTracker::default();
    let mut latencies = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending = rest;
    loop {
        if !pending.is_empty() {
            let fed = body.feed(&pending, |b| decoder.feed(b));
            pending.clear();
            if let Err(e) = fed {
                shared.error(&shared.stream_errors, format!("stream #{}: {e}", spec.idx));
                break;
            }
            // One clock reading per socket read: every event in it arrived then.
            let now = now_ns();
            for frame in decoder.by_ref() {
                match frame {
                    Ok(Frame::Event(event)) => match parse_payload(&event.data) {
                        // Duplicates are counted apart: counting them as
                        // deliveries would end the drain one event early.
                        Some((_, seq, sent)) if tracker.observe(seq, spec.from_first) => {
                            latencies.push(now.saturating_sub(sent) / 1000);
                        }
                        Some(_) => {}
                        None => {
                            shared.foreign.fetch_add(1, Relaxed);
                        }
                    },
                    Ok(_) => {}
                    Err(e) => {
                        shared.error(&shared.stream_errors, format!("decode #{}: {e}", spec.idx))
                    }
                }
            }
            if !latencies.is_empty() {
                shared.record_latencies(&latencies);
                shared.deliveries.fetch_add(latencies.len() as u64, Relaxed);
                latencies.clear();
            }
        }
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            read = sock.read(&mut buf) => match read {
                Ok(0) => {
                    shared.error(&shared.stream_errors, format!("stream #{}: server closed", spec.idx));
                    break;
                }
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e) => {
                    shared.error(&shared.stream_errors, format!("stream #{}: {e}", spec.idx));
                    break;
                }
            },
        }
    }
    shared.held.fetch_sub(1, Relaxed);
    Some(SubOutcome {
        stream: spec.stream,
        tracker,
    })
}

/// Publish requests in flight on one connection at a fixed rate: enough that
/// the schedule never waits for the server (open loop, so a slow server shows
/// as latency instead of slowing the publisher down and hiding it).
const OPEN_LOOP_DEPTH: usize = 4096;
/// Publish requests in flight when publishing as fast as possible.
const UNTHROTTLED_DEPTH: usize = 16;

/// One pipelined HTTP/1.1 publish connection: requests are written without
/// waiting, and a reader task matches responses to them in order.
struct Pipe {
    writer: tokio::net::tcp::OwnedWriteHalf,
    sent: mpsc::UnboundedSender<u32>,
    reader: JoinHandle<()>,
}

async fn open_pipe(
    addr: SocketAddr,
    depth: &Arc<Semaphore>,
    subs: &Arc<Vec<u64>>,
    failed: &Arc<Vec<AtomicU64>>,
    shared: &Arc<Shared>,
) -> Result<Pipe, BoxError> {
    let (reader, writer) = connect(addr, None).await?.into_split();
    let (sent, answered) = mpsc::unbounded_channel();
    let reader = tokio::spawn(read_responses(
        reader,
        answered,
        Arc::clone(depth),
        Arc::clone(subs),
        Arc::clone(failed),
        Arc::clone(shared),
    ));
    Ok(Pipe {
        writer,
        sent,
        reader,
    })
}

/// Reads one response per request sent, in order, and accounts for it.
async fn read_responses(
    mut sock: tokio::net::tcp::OwnedReadHalf,
    mut sent: mpsc::UnboundedReceiver<u32>,
    depth: Arc<Semaphore>,
    subs: Arc<Vec<u64>>,
    failed: Arc<Vec<AtomicU64>>,
    shared: Arc<Shared>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 8192];
    let fail = |stream: u32, why: String| {
        failed[stream as usize].fetch_add(1, Relaxed);
        shared.error(&shared.publish_errors, why);
        depth.add_permits(1);
    };
    'responses: while let Some(stream) = sent.recv().await {
        let (head, len) = loop {
            match parse_head(&buf) {
                Ok(Some(parsed)) => break parsed,
                Ok(None) => {}
                Err(e) => {
                    fail(stream, format!("publish: {e}"));
                    break 'responses;
                }
            }
            match sock.read(&mut chunk).await {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                Ok(_) => {
                    fail(stream, "publish: server closed the connection".into());
                    break 'responses;
                }
                Err(e) => {
                    fail(stream, format!("publish: {e}"));
                    break 'responses;
                }
            }
        };
        buf.drain(..len);
        if head.body == BodyKind::UntilClose {
            fail(
                stream,
                "publish: response without length cannot be pipelined".into(),
            );
            break;
        }
        let mut body = BodyDecoder::new(head.body);
        loop {
            match body.feed_some(&buf, |_| {}) {
                Ok(used) => {
                    buf.drain(..used);
                }
                Err(e) => {
                    fail(stream, format!("publish: {e}"));
                    break 'responses;
                }
            }
            if body.is_done() {
                break;
            }
            match sock.read(&mut chunk).await {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => {
                    fail(stream, "publish: connection lost inside a response".into());
                    break 'responses;
                }
            }
        }
        if (200..300).contains(&head.status) {
            shared.published.fetch_add(1, Relaxed);
            shared.expected.fetch_add(subs[stream as usize], Relaxed);
            depth.add_permits(1);
        } else {
            fail(stream, format!("publish: HTTP status {}", head.status));
        }
        if head.close {
            break;
        }
    }
    // Whatever was sent on this connection and not answered is lost.
    sent.close();
    while let Ok(stream) = sent.try_recv() {
        fail(
            stream,
            "publish: connection closed with requests in flight".into(),
        );
    }
}

async fn publisher(
    target: Arc<Target>,
    cfg: FanoutConfig,
    own_streams: Vec<u32>,
    subs_per_stream: Arc<Vec<u64>>,
    failed: Arc<Vec<AtomicU64>>,
    shared: Arc<Shared>,
    deadline: Instant,
) -> Vec<(u32, u64)> {
    let mut next_seq = vec![0u64; own_streams.len()];
    let depth = Arc::new(Semaphore::new(if cfg.rate > 0.0 {
        OPEN_LOOP_DEPTH
    } else {
        UNTHROTTLED_DEPTH
    }));
    let mut ticker = (cfg.rate > 0.0).then(|| {
        let per_publisher = cfg.rate / f64::from(cfg.publishers.max(1));
        let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / per_publisher));
        // Catch up after a stall, so the average rate holds when it can.
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        t
    });
    let local_subs: u64 = subs_per_stream.iter().sum();
    let window = cfg.window.max(1) * local_subs.div_ceil(u64::from(cfg.streams.max(1)));
    let content_type = match target.body {
        BodyFormat::Raw => "text/plain",
        BodyFormat::Json => "application/json",
        BodyFormat::Mercure => "application/x-www-form-urlencoded",
    };
    let mut pipe: Option<Pipe> = None;
    let mut retired = Vec::new();
    while Instant::now() < deadline {
        match &mut ticker {
            Some(t) => {
                t.tick().await;
            }
            None => {
                let waited = Instant::now();
                while shared.expected.load(Relaxed) > shared.deliveries.load(Relaxed) + window {
                    if waited.elapsed() > Duration::from_secs(1) {
                        // Lost deliveries never arrive: do not wait for them forever.
                        shared.window_stalls.fetch_add(1, Relaxed);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        let Ok(permit) = depth.acquire().await else {
            break;
        };
        permit.forget();
        let slot = if own_streams.len() == 1 {
            0
        } else {
            fastrand::usize(..own_streams.len())
        };
        let stream = own_streams[slot];
        let data = payload(stream, next_seq[slot], now_ns(), cfg.event_size);
        // The payload is digits, spaces and `x`, stream names letters and
        // digits: nothing to escape but the spaces of a form.
        let body = match target.body {
            BodyFormat::Raw => data,
            BodyFormat::Json => format!("{{\"data\":\"{data}\"}}"),
            BodyFormat::Mercure => format!(
                "topic={}&data={}",
                target.stream_name(stream),
                data.replace(' ', "+")
            ),
        };
        let request =
            target
                .publish
                .post_request(&target.stream_name(stream), content_type, body.as_bytes());
        let mut written = false;
        for _attempt in 0..2 {
            if pipe.as_ref().is_none_or(|p| p.sent.is_closed()) {
                if let Some(old) = pipe.take() {
                    retired.push(old.reader);
                }
                match open_pipe(
                    target.publish.addr,
                    &depth,
                    &subs_per_stream,
                    &failed,
                    &shared,
                )
                .await
                {
                    Ok(p) => pipe = Some(p),
                    Err(e) => {
                        shared.error(&shared.publish_errors, format!("publish connect: {e}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                }
            }
            let Some(p) = pipe.as_mut() else { continue };
            if p.sent.send(stream).is_err() {
                continue;
            }
            // Once queued, a failed write is accounted for by the reader
            // (it sees the connection end with this request unanswered).
            let _ = p.writer.write_all(&request).await;
            written = true;
            break;
        }
        if written {
            next_seq[slot] += 1;
        } else {
            depth.add_permits(1);
        }
    }
    if let Some(p) = pipe.take() {
        drop(p.sent);
        retired.push(p.reader);
        // Keep the write half open until every response is in.
        let _writer = p.writer;
        for reader in retired.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), reader).await;
        }
    }
    for reader in retired {
        let _ = tokio::time::timeout(Duration::from_secs(10), reader).await;
    }
    own_streams.into_iter().zip(next_seq).collect()
}

/// Progress line and peak-memory sampler, every 250 ms until dropped.
struct Monitor {
    task: JoinHandle<()>,
    bar: ProgressBar,
}

impl Monitor {
    fn start(target: &Target, shared: &Arc<Shared>, what: &'static str) -> Self {
        let bar = if target.progress {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {prefix} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("{} {what}", target.label));
        let shared = Arc::clone(shared);
        let pids = target.server_pids.clone();
        let bar2 = bar.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut last = (Instant::now(), 0u64);
            loop {
                tick.tick().await;
                if let Some(rss) = sys::total_rss_kib(&pids) {
                    shared.peak_rss.fetch_max(rss, Relaxed);
                }
                let delivered = shared.deliveries.load(Relaxed);
                let rate = (delivered - last.1) as f64 / last.0.elapsed().as_secs_f64();
                last = (Instant::now(), delivered);
                bar2.set_message(format!(
                    "held {} conn-err {} published {} delivered {} ({:.0}/s) stream-err {}",
                    shared.held.load(Relaxed),
                    shared.connect_errors.load(Relaxed),
                    shared.published.load(Relaxed),
                    delivered,
                    rate,
                    shared.stream_errors.load(Relaxed),
                ));
                bar2.tick();
            }
        });
        Monitor { task, bar }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

struct Opened {
    handles: Vec<JoinHandle<Option<SubOutcome>>>,
    stop: watch::Sender<bool>,
    subs_per_stream: Vec<u64>,
    seconds: f64,
}

/// Opens this shard's part of `connections` subscribers over `streams`
/// streams and waits until each is open or has failed.
async fn open_subscribers(
    target: &Target,
    shared: &Arc<Shared>,
    connections: u64,
    streams: u32,
    from_first: bool,
) -> Opened {
    let (stop, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
    let mut subs_per_stream = vec![0u64; streams.max(1) as usize];
    let started = Instant::now();
    let mut handles = Vec::new();
    for idx in (0..connections).filter(|&i| target.shard.owns(i)) {
        let stream = u32::try_from(idx % u64::from(streams.max(1))).unwrap_or(0);
        subs_per_stream[stream as usize] += 1;
        let spec = SubSpec {
            idx,
            stream,
            addr: target.subscribe.addr,
            source: target.source_for(idx),
            request: target
                .subscribe
                .subscribe_request(&target.stream_name(stream)),
            from_first,
        };
        handles.push(tokio::spawn(subscriber(
            spec,
            Arc::clone(shared),
            Arc::clone(&gate),
            stop_rx.clone(),
        )));
    }
    let wanted = handles.len() as u64;
    while shared.connected.load(Relaxed) + shared.connect_errors.load(Relaxed) < wanted {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Opened {
        handles,
        stop,
        subs_per_stream,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Closes every subscriber and collects what each saw.
async fn close_subscribers(opened: Opened) -> Vec<SubOutcome> {
    let _ = opened.stop.send(true);
    let mut outcomes = Vec::with_capacity(opened.handles.len());
    for handle in opened.handles {
        if let Ok(Some(outcome)) = handle.await {
            outcomes.push(outcome);
        }
    }
    outcomes
}

fn base_report(scenario: &str, target: &Target) -> Report {
    Report {
        scenario: scenario.into(),
        label: target.label.clone(),
        subscribe_url: format!("http://{}{}", target.subscribe.host, target.subscribe.path),
        shard: format!("{}/{}", target.shard.index, target.shard.count),
        load_average_start: sys::load_average(),
        memory: Memory {
            before_kib: sys::total_rss_kib(&target.server_pids),
            ..Memory::default()
        },
        ..Report::default()
    }
}

fn finish_report(report: &mut Report, shared: &Shared, started: Instant, cpu0: f64) {
    report.connect_errors = shared.connect_errors.load(Relaxed);
    report.stream_errors = shared.stream_errors.load(Relaxed);
    report.foreign_events = shared.foreign.load(Relaxed);
    report.first_error = shared
        .first_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let peak = shared.peak_rss.load(Relaxed);
    report.memory.peak_kib = (peak > 0).then_some(peak);
    if let (Some(before), Some(connected)) = (report.memory.before_kib, report.memory.connected_kib)
        && report.connections_held > 0
    {
        report.memory.per_connection_bytes =
            Some((connected as f64 - before as f64) * 1024.0 / report.connections_held as f64);
    }
    report.wall_seconds = started.elapsed().as_secs_f64();
    report.tool_cpu_seconds = sys::own_cpu_seconds() - cpu0;
    report.tool_cpu_share = report.tool_cpu_seconds / report.wall_seconds;
    report.load_average_end = sys::load_average();
}

/// Runs scenarios (a), (b) or (c).
pub async fn fanout(target: Target, cfg: FanoutConfig) -> Report {
    let started = Instant::now();
    let cpu0 = sys::own_cpu_seconds();
    let shared = Shared::new();
    let mut report = base_report("fanout", &target);
    report.connections_requested = (0..cfg.connections)
        .filter(|&i| target.shard.owns(i))
        .count() as u64;
    report.streams = cfg.streams;
    report.event_size = cfg.event_size;
    report.rate_requested = cfg.rate;
    let _monitor = Monitor::start(&target, &shared, "fanout");

    let publishes = target.shard.publishes();
    let opened = open_subscribers(&target, &shared, cfg.connections, cfg.streams, !publishes).await;
    report.connect_seconds = opened.seconds;
    report.connects_per_second = shared.connected.load(Relaxed) as f64 / opened.seconds;
    tokio::time::sleep(cfg.settle).await;
    report.memory.connected_kib = sys::total_rss_kib(&target.server_pids);

    let target = Arc::new(target);
    let subs = Arc::new(opened.subs_per_stream.clone());
    let server_cpu0 = sys::total_cpu_seconds(&target.server_pids);
    let publish_start = Instant::now();
    let deadline = publish_start + cfg.duration;
    let mut published_per_stream = vec![0u64; cfg.streams.max(1) as usize];
    let failed: Arc<Vec<AtomicU64>> =
        Arc::new((0..cfg.streams.max(1)).map(|_| AtomicU64::new(0)).collect());
    if publishes {
        let publishers = cfg.publishers.clamp(1, cfg.streams.max(1));
        let tasks: Vec<_> = (0..publishers)
            .map(|p| {
                let own: Vec<u32> = (0..cfg.streams.max(1))
                    .filter(|s| s % publishers == p)
                    .collect();
                tokio::spawn(publisher(
                    Arc::clone(&target),
                    FanoutConfig {
                        publishers,
                        ..cfg.clone()
                    },
                    own,
                    Arc::clone(&subs),
                    Arc::clone(&failed),
                    Arc::clone(&shared),
                    deadline,
                ))
            })
            .collect();
        for task in tasks {
            if let Ok(counts) = task.await {
                for (stream, count) in counts {
                    published_per_stream[stream as usize] = count;
                }
            }
        }
    } else {
        tokio::time::sleep_until(deadline.into()).await;
    }
    report.publish_seconds = publish_start.elapsed().as_secs_f64();
    let drain_deadline = Instant::now() + cfg.drain;
    while shared.deliveries.load(Relaxed) < shared.expected.load(Relaxed)
        && Instant::now() < drain_deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let load_seconds = publish_start.elapsed().as_secs_f64();
    if let (Some(a), Some(b)) = (server_cpu0, sys::total_cpu_seconds(&target.server_pids)) {
        report.server_cpu_seconds = Some(b - a);
    }
    report.memory.end_kib = sys::total_rss_kib(&target.server_pids);
    report.connections_held = shared.held.load(Relaxed);

    let outcomes = close_subscribers(opened).await;
    if !publishes {
        // A non-publishing shard knows only what its subscribers saw.
        for o in &outcomes {
            let seen = &mut published_per_stream[o.stream as usize];
            *seen = (*seen).max(o.tracker.next);
        }
    }
    for o in &outcomes {
        // Sent but refused by the server: never meant to be delivered.
        let refused = failed[o.stream as usize].load(Relaxed);
        let sent = published_per_stream[o.stream as usize];
        report.expected_deliveries += sent.saturating_sub(refused);
        report.deliveries += o.tracker.received;
        report.duplicated += o.tracker.dups;
        report.lost +=
            (o.tracker.gaps + sent.saturating_sub(o.tracker.next)).saturating_sub(refused);
    }
    report.published = shared.published.load(Relaxed);
    report.publish_errors = shared.publish_errors.load(Relaxed);
    report.window_stalls = shared.window_stalls.load(Relaxed);
    report.events_per_second = report.published as f64 / report.publish_seconds;
    report.deliveries_per_second = report.deliveries as f64 / load_seconds;
    report.latency =
        Latency::from_histogram(&shared.hist.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(cpu) = report.server_cpu_seconds
        && report.deliveries > 0
    {
        report.server_cpu_us_per_delivery = Some(cpu * 1e6 / report.deliveries as f64);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.memory.after_close_kib = sys::total_rss_kib(&target.server_pids);
    finish_report(&mut report, &shared, started, cpu0);
    report
}

/// Runs scenario (d): opens idle subscribers, holds them, closes them.
pub async fn idle(target: Target, cfg: IdleConfig) -> Report {
    let started = Instant::now();
    let cpu0 = sys::own_cpu_seconds();
    let shared = Shared::new();
    let mut report = base_report("idle", &target);
    report.connections_requested = (0..cfg.connections)
        .filter(|&i| target.shard.owns(i))
        .count() as u64;
    report.streams = 1;
    let _monitor = Monitor::start(&target, &shared, "idle");
    let opened = open_subscribers(&target, &shared, cfg.connections, 1, true).await;
    report.connect_seconds = opened.seconds;
    report.connects_per_second = shared.connected.load(Relaxed) as f64 / opened.seconds;
    // Give the server a moment to finish per-connection setup it does after
    // sending headers, so the reading reflects steady state.
    tokio::time::sleep(Duration::from_millis(500)).await;
    report.memory.connected_kib = sys::total_rss_kib(&target.server_pids);
    tokio::time::sleep(cfg.hold).await;
    report.memory.end_kib = sys::total_rss_kib(&target.server_pids);
    report.connections_held = shared.held.load(Relaxed);
    close_subscribers(opened).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.memory.after_close_kib = sys::total_rss_kib(&target.server_pids);
    finish_report(&mut report, &shared, started, cpu0);
    report
}

/// Runs scenario (e): opens `rate` connections a second, each subscribing,
/// waiting for the response head, staying `hold`, then disconnecting.
pub async fn churn(target: Target, cfg: ChurnConfig) -> Report {
    let started = Instant::now();
    let cpu0 = sys::own_cpu_seconds();
    let shared = Shared::new();
    let mut report = base_report("churn", &target);
    report.streams = cfg.streams;
    report.rate_requested = cfg.rate;
    let _monitor = Monitor::start(&target, &shared, "churn");
    let server_cpu0 = sys::total_cpu_seconds(&target.server_pids);
    let per_shard = cfg.rate / f64::from(target.shard.count);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_shard.max(0.001)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    // Bounds the sockets in use whatever the server does.
    let gate = Arc::new(Semaphore::new(8_000));
    let deadline = Instant::now() + cfg.duration;
    let mut handles = Vec::new();
    let mut idx: u64 = 0;
    while Instant::now() < deadline {
        tick.tick().await;
        let global = idx * u64::from(target.shard.count) + u64::from(target.shard.index);
        idx += 1;
        let stream = global % u64::from(cfg.streams.max(1));
        let request = target
            .subscribe
            .subscribe_request(&target.stream_name(stream));
        let (addr, source) = (target.subscribe.addr, target.source_for(global));
        let (shared, gate, hold) = (Arc::clone(&shared), Arc::clone(&gate), cfg.hold);
        handles.push(tokio::spawn(async move {
            let Ok(_permit) = gate.acquire_owned().await else {
                return;
            };
            let t0 = Instant::now();
            let opened =
                tokio::time::timeout(Duration::from_secs(15), open_stream(addr, source, &request))
                    .await;
            match opened {
                Ok(Ok((mut sock, _, _))) => {
                    shared.record_latencies(&[t0.elapsed().as_micros() as u64]);
                    shared.connected.fetch_add(1, Relaxed);
                    shared.held.fetch_add(1, Relaxed);
                    let mut sink = [0u8; 4096];
                    // Keep reading so a server's keep-alives never block it.
                    let _ = tokio::time::timeout(hold, async {
                        while let Ok(n) = sock.read(&mut sink).await {
                            if n == 0 {
                                break;
                            }
                        }
                    })
                    .await;
                    shared.held.fetch_sub(1, Relaxed);
                }
                Ok(Err(e)) => shared.error(&shared.connect_errors, format!("churn connect: {e}")),
                Err(_) => shared.error(&shared.connect_errors, "churn connect: timed out".into()),
            }
        }));
    }
    report.publish_seconds = cfg.duration.as_secs_f64();
    report.connections_requested = idx;
    report.memory.end_kib = sys::total_rss_kib(&target.server_pids);
    for h in handles {
        let _ = h.await;
    }
    report.connect_seconds = started.elapsed().as_secs_f64();
    report.connects_per_second = shared.connected.load(Relaxed) as f64 / cfg.duration.as_secs_f64();
    if let (Some(a), Some(b)) = (server_cpu0, sys::total_cpu_seconds(&target.server_pids)) {
        report.server_cpu_seconds = Some(b - a);
    }
    tokio::time::sleep(cfg.settle).await;
    report.memory.after_close_kib = sys::total_rss_kib(&target.server_pids);
    report.latency =
        Latency::from_histogram(&shared.hist.lock().unwrap_or_else(|e| e.into_inner()));
    report.connections_held = shared.connected.load(Relaxed);
    finish_report(&mut report, &shared, started, cpu0);
    // Per-connection memory means nothing here: nothing is held at the end.
    report.memory.per_connection_bytes = None;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_padding() {
        let data = payload(3, 17, 123_456, 200);
        assert_eq!(data.len(), 200);
        assert_eq!(parse_payload(&data), Some((3, 17, 123_456)));
        assert!(payload(1, 2, 3, 0).len() < 200);
        assert_eq!(parse_payload("hello"), None);
    }

    #[test]
    fn tracker_counts_gaps_and_duplicates() {
        let mut t = SeqTracker::default();
        for seq in [0, 1, 3, 3, 4, 2] {
            t.observe(seq, false);
        }
        assert_eq!((t.next, t.received, t.gaps, t.dups), (5, 4, 1, 2));
        let mut late = SeqTracker::default();
        late.observe(10, true);
        late.observe(11, true);
        assert_eq!((late.next, late.received, late.gaps), (12, 2, 0));
    }

    #[test]
    fn shards_partition_connections() {
        let shards = [Shard::parse("0/2").unwrap(), Shard::parse("1/2").unwrap()];
        for i in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1);
        }
        assert!(Shard::parse("2/2").is_err());
    }
}
