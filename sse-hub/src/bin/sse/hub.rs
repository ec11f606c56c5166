//! `sse hub`: a standalone SSE server with a publish API, limits, auth and a
//! live demo page. Every option is a flag and an environment variable.

use std::time::Duration;

use actix_web::{App, HttpServer};
use sse_actix::server::{Sse, listener, validate_stream_name};
use sse_actors::{FirstReplay, LogLimits, ResumeGap, Server, SlowSubscriberPolicy};
use sse_hub::{BackplaneCounts, Hub, HubConfig};

use crate::flags::{parse_duration, parse_size};
use crate::hub_deploy::{self, DeployArgs};

/// Arguments of `sse hub`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, env = "SSE_HUB_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// HTTP worker threads (default: half the cores, at least one; the
    /// stream arbiters and the kernel's TCP work need the rest).
    #[arg(long, env = "SSE_HUB_WORKERS", value_parser = at_least_one())]
    workers: Option<usize>,
    /// Connections the kernel queues until the hub accepts them (capped by
    /// `net.core.somaxconn`). When the queue is full, a client's connect
    /// waits a whole SYN retransmit (1 s) before it is retried.
    #[arg(long, env = "SSE_HUB_BACKLOG", default_value_t = 4096)]
    backlog: u32,

    // Access.
    /// Bearer token required to publish.
    #[arg(long, env = "SSE_HUB_PUBLISH_TOKEN", hide_env_values = true)]
    publish_token: Option<String>,
    /// Bearer token required to subscribe (also accepted as `?token=`), and
    /// to list streams or see the counts of `/healthz` (a publish token
    /// does too).
    #[arg(long, env = "SSE_HUB_SUBSCRIBE_TOKEN", hide_env_values = true)]
    subscribe_token: Option<String>,
    /// Origin allowed to use the hub from another site's pages (CORS);
    /// repeat or separate with commas; `*` allows any. Default: none.
    #[arg(
        long = "cors-origin",
        env = "SSE_HUB_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,

    // Limits.
    /// Most event streams open at once; one more gets 503.
    #[arg(long, env = "SSE_HUB_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,
    /// Most streams one subscriber may follow on one connection
    /// (`/events?stream=a&stream=b`: every event names its stream in a
    /// `stream:` field, and its id resumes them all); more get 400.
    #[arg(long, env = "SSE_HUB_MAX_STREAMS_PER_CONNECTION", default_value_t = 32, value_parser = at_least_one())]
    max_streams_per_connection: usize,
    /// Most subscribers per stream; one more gets 503 (default: no limit).
    #[arg(long, env = "SSE_HUB_MAX_SUBSCRIBERS_PER_STREAM")]
    max_subscribers_per_stream: Option<usize>,
    /// Largest publish body, e.g. `1MiB`; a larger one gets 413.
    #[arg(long, env = "SSE_HUB_MAX_BODY_SIZE", default_value = "1MiB", value_parser = parse_size)]
    max_body_size: usize,
    /// Most streams that subscribing or publishing to a new name may create
    /// (auto-stream); one more gets 503.
    #[arg(long, env = "SSE_HUB_MAX_AUTO_STREAMS", default_value_t = 1000)]
    max_auto_streams: usize,
    /// How long a stream created by subscribing or publishing to a new name
    /// stays without a subscriber (from its creation, for a publisher's)
    /// before it is removed (with its log) and no longer counts against
    /// `--max-auto-streams`, e.g. `60s`; a client reconnecting within it is
    /// still replayed what it missed.
    #[arg(long, env = "SSE_HUB_AUTO_STREAM_IDLE", default_value = "60s", value_parser = parse_duration)]
    auto_stream_idle: Duration,
    /// Longest stream name in bytes; names are ASCII letters, digits and `-_.~`.
    #[arg(long, env = "SSE_HUB_MAX_STREAM_NAME_LEN", default_value_t = 128)]
    max_stream_name_len: usize,

    // Streams.
    /// The stream created at start and shown by the demo page.
    #[arg(long, env = "SSE_HUB_DEMO_STREAM", default_value = "demo")]
    demo_stream: String,
    /// Do not serve the demo page at `/`.
    #[arg(long, env = "SSE_HUB_NO_DEMO")]
    no_demo: bool,
    /// Do not serve the Mercure protocol at `/.well-known/mercure`.
    #[arg(long, env = "SSE_HUB_NO_MERCURE")]
    no_mercure: bool,
    /// Let Mercure subscribers without a token receive public updates when a
    /// subscribe key or token is set (without one they get 401).
    #[arg(long, env = "SSE_HUB_ANONYMOUS")]
    anonymous: bool,
    /// Most topics one Mercure update may name, and most `topic` selectors
    /// one subscription may give (more is a 400).
    #[arg(long, env = "SSE_HUB_MERCURE_MAX_TOPICS", default_value_t = 64, value_parser = at_least_one())]
    mercure_max_topics: usize,
    /// Track active Mercure subscriptions: publish their opening and end
    /// (private updates to /.well-known/mercure/subscriptions/{topic}/{subscriber})
    /// and list them at GET /.well-known/mercure/subscriptions (with --redis,
    /// every node's, kept in Redis).
    #[arg(long, env = "SSE_HUB_SUBSCRIPTIONS")]
    subscriptions: bool,
    /// Most compiled URI-template selectors the hub keeps for reuse.
    #[arg(long, env = "SSE_HUB_MERCURE_TEMPLATE_CACHE", default_value_t = 4096, value_parser = at_least_one())]
    mercure_template_cache: usize,
    /// Refuse subscriptions and publications to streams that do not exist
    /// (auto-stream off): 404 instead of creating them.
    #[arg(long, env = "SSE_HUB_NO_AUTO_STREAM")]
    no_auto_stream: bool,
    /// Keep no event log: new subscribers get only live events and
    /// Last-Event-ID replays nothing (auto-replay off).
    #[arg(long, env = "SSE_HUB_NO_AUTO_REPLAY")]
    no_auto_replay: bool,
    /// Most events kept per stream for replay.
    #[arg(long, env = "SSE_HUB_LOG_MAX_EVENTS", default_value_t = 1000)]
    log_max_events: usize,
    /// Most encoded bytes kept per stream for replay, e.g. `8MiB`.
    #[arg(long, env = "SSE_HUB_LOG_MAX_BYTES", default_value = "8MiB", value_parser = parse_size)]
    log_max_bytes: usize,
    /// Most encoded bytes kept for replay by every stream together, e.g.
    /// `64MiB`: past it the oldest logged events across streams are evicted
    /// first; publishing never waits or fails because of it. `/metrics`
    /// (`sse_log_bytes`) and `/healthz` (`log_bytes`) report what is held.
    #[arg(long, env = "SSE_HUB_MEMORY_BUDGET", default_value = "64MiB", value_parser = parse_size)]
    memory_budget: usize,
    /// Oldest event kept for replay, e.g. `10m` (default: no age limit).
    #[arg(long, env = "SSE_HUB_LOG_MAX_AGE", value_parser = parse_duration)]
    log_max_age: Option<Duration>,
    /// Events older than this since publication are never delivered, e.g.
    /// `30s` (default: no TTL).
    #[arg(long, env = "SSE_HUB_EVENT_TTL", value_parser = parse_duration)]
    event_ttl: Option<Duration>,
    /// What a subscriber without a Last-Event-ID is replayed: `none` (live
    /// events only, as Mercure), `all` (every event held, as r3labs/sse) or
    /// a number N (the newest N).
    #[arg(long, env = "SSE_HUB_FIRST_REPLAY", default_value = "none", value_parser = parse_first_replay)]
    first_replay: FirstReplay,
    /// What a subscriber whose Last-Event-ID the log no longer holds (evicted,
    /// or from before a restart) gets after the `sse-gap` event:
    /// `replay-held` (every event held) or `live-only`.
    #[arg(long, env = "SSE_HUB_ON_RESUME_GAP", default_value = "replay-held", value_parser = parse_resume_gap)]
    on_resume_gap: ResumeGap,
    /// Longest `retry:` a published event may carry, e.g. `60s`; a longer
    /// one is refused with 400.
    #[arg(long, env = "SSE_HUB_MAX_RETRY", default_value = "60s", value_parser = parse_duration)]
    max_retry: Duration,
    /// Send event data base64-encoded.
    #[arg(long, env = "SSE_HUB_BASE64")]
    base64: bool,

    // Delivery.
    /// Keep-alive comment interval, e.g. `15s`; `0` disables it.
    #[arg(long, env = "SSE_HUB_KEEP_ALIVE", default_value = "15s", value_parser = parse_duration)]
    keep_alive: Duration,
    /// End a connection whose socket accepts nothing for this long although
    /// data waits (the client stopped reading), freeing what it held, e.g.
    /// `30s`; `0` disables it. Linux only (TCP_USER_TIMEOUT).
    #[arg(long, env = "SSE_HUB_WRITE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    write_timeout: Duration,
    /// Reconnection delay sent to clients as `retry:`, e.g. `2s`
    /// (default: none, browsers wait 3 s).
    #[arg(long, env = "SSE_HUB_RETRY", value_parser = parse_duration)]
    retry: Option<Duration>,
    /// Events a stream accepts before publishers wait.
    #[arg(long, env = "SSE_HUB_BUFFER_SIZE", default_value_t = 1024, value_parser = at_least_one())]
    buffer_size: usize,
    /// Frames queued per subscriber before it counts as slow.
    #[arg(long, env = "SSE_HUB_SUBSCRIBER_QUEUE", default_value_t = 1024, value_parser = at_least_one())]
    subscriber_queue: usize,
    /// Encoded bytes queued per subscriber before it counts as slow,
    /// whichever of this and `--subscriber-queue` comes first, e.g. `4MiB`:
    /// a client that stops reading pins no more than this (plus its socket
    /// buffers), however large the events.
    #[arg(long, env = "SSE_HUB_SUBSCRIBER_QUEUE_BYTES", default_value = "4MiB", value_parser = parse_size)]
    subscriber_queue_bytes: usize,
    /// What to do with a slow subscriber: `disconnect` (it reconnects and
    /// replays) or `drop-oldest` (it silently misses events).
    #[arg(long, env = "SSE_HUB_SLOW_SUBSCRIBER", default_value = "disconnect", value_parser = parse_policy)]
    slow_subscriber: SlowSubscriberPolicy,
    /// Extra response header on event streams, `Name: value`; repeatable.
    #[arg(long = "header", env = "SSE_HUB_HEADERS", value_delimiter = '\n')]
    headers: Vec<String>,
    /// Threads the stream actors are spread over (default: one per core).
    #[arg(long, env = "SSE_HUB_ARBITERS", value_parser = at_least_one())]
    arbiters: Option<usize>,

    // Cluster.
    /// Make this hub a node of a cluster sharing the Redis at this URL
    /// (`redis://127.0.0.1:6379`): events published on any node reach
    /// subscribers on every node, ids follow the single-node rules (an event
    /// without its own id gets its Redis stream id), and clients resume on
    /// any node. Redis keeps `--redis-max-len` events per stream.
    #[arg(long, env = "SSE_HUB_REDIS")]
    redis: Option<String>,
    /// Events kept per stream in Redis, exactly (with their own ids), which
    /// bounds Redis memory and how far back any node can replay.
    #[arg(long, env = "SSE_HUB_REDIS_MAX_LEN", default_value_t = 10_000, value_parser = at_least_one())]
    redis_max_len: usize,

    #[command(flatten)]
    deploy: DeployArgs,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    hub_deploy::init_tracing(&args.deploy);
    validate_stream_name(&args.demo_stream, args.max_stream_name_len)
        .map_err(|error| format!("--demo-stream: {error}"))?;
    actix_web::rt::System::new().block_on(serve(args))
}

async fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let certificate = args.deploy.certificate()?;
    let mut builder = server_builder(&args)?;
    let mut backplane_counts = None;
    if let Some(url) = &args.redis {
        let (backplane, counts) = redis_backplane(url, &args)?;
        builder = builder.backplane(backplane);
        backplane_counts = Some(counts);
        tracing::info!(%url, "cluster node: events go through Redis");
    }
    let server = builder.build();
    server
        .create_stream(&args.demo_stream)
        .await
        .map_err(|error| format!("cannot create the demo stream: {error}"))?;

    let mut sse = Sse::new(server.clone())
        .max_connections(args.max_connections)
        .max_streams_per_connection(args.max_streams_per_connection)
        .max_stream_name_len(args.max_stream_name_len);
    if let Some(retry) = args.retry {
        sse = sse.retry(retry);
    }
    let mut config = HubConfig {
        publish_token: args.publish_token.clone(),
        subscribe_token: args.subscribe_token.clone(),
        cors_origins: args.cors_origins.clone(),
        max_body_size: args.max_body_size,
        demo_stream: args.demo_stream.clone(),
        demo_page: !args.no_demo,
        mercure: !args.no_mercure,
        mercure_anonymous: args.anonymous,
        mercure_max_topics: args.mercure_max_topics,
        mercure_template_cache: args.mercure_template_cache,
        mercure_subscriptions: args.subscriptions,
        ..HubConfig::default()
    };
    args.deploy.configure_hub(&mut config)?;
    let hub = Hub::new(sse, config);
    if let Some(counts) = backplane_counts {
        hub.export_backplane_counts(counts);
    }
    #[cfg(feature = "redis")]
    if let Some(url) = &args.redis {
        hub.share_subscriptions(url)
            .map_err(|error| format!("--redis: {error}"))?;
    }
    let mut http = HttpServer::new(move || {
        let hub = hub.clone();
        App::new().configure(move |cfg| hub.configure(cfg))
    })
    // A closed socket is noticed at once, not at the next keep-alive write.
    .h1_allow_half_closed(false)
    // Event frames are small and sent as they come: Nagle's algorithm would
    // hold one back until the client acknowledges the previous one.
    .tcp_nodelay(true)
    // actix-http flushes a response once 32 KiB are buffered by default, and
    // its write buffer keeps whatever capacity it grew to: a subscriber that
    // reads slowly pinned ~32 KiB of copied frames for the rest of its life.
    // At 4 KiB the buffer stays at its initial 8 KiB; frames wait in the
    // subscriber's queue as shared handles instead.
    .h1_write_buffer_size(4 * 1024)
    // Signals are ours: event streams never end by themselves, so the event
    // server must be closed first for a graceful stop to finish.
    .disable_signals()
    .shutdown_timeout(5);
    let cannot_listen = |error: std::io::Error| format!("cannot listen on {}: {error}", args.bind);
    let addrs = std::net::ToSocketAddrs::to_socket_addrs(&args.bind).map_err(cannot_listen)?;
    // As actix-web's `bind`: every address the name resolves to, and an
    // error only if none could be bound.
    let mut failed = None;
    for addr in addrs {
        // std's TcpListener::bind queues only 128 connections: a burst of
        // subscribers (1,000 opened 256 at a time) overflowed it and every
        // dropped SYN cost its client a second.
        match listener(addr, args.backlog, Some(args.write_timeout)) {
            Ok(socket) => {
                http = match &certificate {
                    Some(certificate) => {
                        http.listen_rustls_0_23(socket, certificate.server_config())
                    }
                    None => http.listen(socket),
                }
                .map_err(cannot_listen)?;
            }
            Err(error) => failed = Some(error),
        }
    }
    if http.addrs().is_empty()
        && let Some(error) = failed
    {
        return Err(cannot_listen(error).into());
    }
    let address = *http.addrs().first().ok_or("bound to no address")?;
    // Fan-out is mostly send() calls on the workers plus pushes and wake-ups
    // from the stream arbiters: with a worker per core as well, four busy
    // threads share two cores and every event's wake-ups cross threads that
    // are descheduled. One worker on 2 cores halved scenario (a)'s p99
    // (730 -> 360 ms) and raised (b) from 441k to 589k deliveries/s under
    // load 4-5 (BENCHMARKS.md, Fan-out over HTTP).
    let workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
    });
    http = http.workers(workers);
    let http = http.run();
    let handle = http.handle();
    let scheme = if certificate.is_some() {
        "https"
    } else {
        "http"
    };
    println!("sse hub listening on {scheme}://{address}");
    tracing::info!(%address, scheme, "sse hub listening");
    if let Some(certificate) = certificate {
        hub_deploy::reload_on_sighup(certificate);
    }

    actix_web::rt::spawn(async move {
        shutdown_signal().await;
        tracing::info!(
            "shutting down: delivering what was accepted, then closing every event stream"
        );
        // Waits up to the drain timeout for subscribers to read what they are owed.
        server.close().await;
        handle.stop(true).await;
    });
    http.await?;
    tracing::info!("sse hub stopped");
    Ok(())
}

fn server_builder(args: &Args) -> Result<sse_actors::ServerBuilder, Box<dyn std::error::Error>> {
    let mut builder = Server::builder()
        .auto_stream(!args.no_auto_stream)
        .auto_replay(!args.no_auto_replay)
        .log_limits(LogLimits {
            max_events: args.log_max_events,
            max_bytes: args.log_max_bytes,
            max_age: args.log_max_age,
        })
        .base64(args.base64)
        .keep_alive(Some(args.keep_alive))
        .buffer_size(args.buffer_size)
        .subscriber_queue(args.subscriber_queue)
        .subscriber_queue_bytes(args.subscriber_queue_bytes)
        .memory_budget(Some(args.memory_budget))
        .slow_subscriber(args.slow_subscriber)
        .max_subscribers_per_stream(args.max_subscribers_per_stream)
        .max_auto_streams(Some(args.max_auto_streams))
        .auto_stream_idle(args.auto_stream_idle)
        .first_replay(args.first_replay)
        .on_resume_gap(args.on_resume_gap)
        .max_retry(args.max_retry)
        // On SIGTERM, connected subscribers get up to this long to read the
        // events accepted before it (then the HTTP server's own grace time).
        .drain_timeout(Duration::from_secs(5));
    if let Some(ttl) = args.event_ttl {
        builder = builder.event_ttl(ttl);
    }
    if let Some(arbiters) = args.arbiters {
        builder = builder.arbiters(arbiters);
    }
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("--header {header:?}: expected `Name: value`"))?;
        let name = actix_web::http::header::HeaderName::try_from(name.trim())
            .map_err(|error| format!("--header {header:?}: invalid name: {error}"))?;
        let value = actix_web::http::header::HeaderValue::try_from(value.trim())
            .map_err(|error| format!("--header {header:?}: invalid value: {error}"))?;
        let value = value
            .to_str()
            .map_err(|error| format!("--header {header:?}: {error}"))?;
        builder = builder.header(name.as_str(), value);
    }
    Ok(builder)
}

/// The Redis backplane, and how to read its error counts for `/metrics`.
type RedisNode = (
    std::sync::Arc<dyn sse_actors::Backplane>,
    Box<dyn Fn() -> BackplaneCounts + Send + Sync>,
);

#[cfg(feature = "redis")]
fn redis_backplane(url: &str, args: &Args) -> Result<RedisNode, Box<dyn std::error::Error>> {
    let mut options = sse_redis::RedisOptions::default();
    options.max_len = args.redis_max_len;
    options.max_age = args.log_max_age;
    let backplane = sse_redis::RedisBackplane::new(url, options)
        .map_err(|error| format!("--redis: {error}"))?;
    let counted = backplane.clone();
    let counts = move || {
        let stats = counted.stats();
        BackplaneCounts {
            errors: stats.errors,
            reconnects: stats.reconnects,
        }
    };
    Ok((std::sync::Arc::new(backplane), Box::new(counts)))
}

#[cfg(not(feature = "redis"))]
fn redis_backplane(_url: &str, _args: &Args) -> Result<RedisNode, Box<dyn std::error::Error>> {
    Err("--redis: this build of sse has no Redis support (feature `redis`)".into())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use actix_web::rt::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = actix_web::rt::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = actix_web::rt::signal::ctrl_c().await;
}

/// A count that must be at least 1: `0` is a clap error, not a panic later.
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..)
}

fn parse_first_replay(text: &str) -> Result<FirstReplay, String> {
    match text {
        "none" => Ok(FirstReplay::Nothing),
        "all" => Ok(FirstReplay::AllHeld),
        n => n
            .parse()
            .map(FirstReplay::Last)
            .map_err(|_| format!("{n:?}: expected `none`, `all` or a number of events")),
    }
}

fn parse_resume_gap(text: &str) -> Result<ResumeGap, String> {
    match text {
        "replay-held" => Ok(ResumeGap::ReplayHeld),
        "live-only" => Ok(ResumeGap::LiveOnly),
        other => Err(format!("{other:?}: expected `replay-held` or `live-only`")),
    }
}

fn parse_policy(text: &str) -> Result<SlowSubscriberPolicy, String> {
    match text {
        "disconnect" => Ok(SlowSubscriberPolicy::Disconnect),
        "drop-oldest" => Ok(SlowSubscriberPolicy::DropOldest),
        other => Err(format!("{other:?}: expected `disconnect` or `drop-oldest`")),
    }
}
