//! Every option of the server and of a stream, with its default and limit.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::backplane::Backplane;
use crate::clock::{Clock, ManualClock};
use crate::queue::QueueLimits;
use crate::stream_core::CoreOptions;
use crate::subscription::SubscriberInfo;

/// A subscribe or unsubscribe callback: `(stream name, subscriber)`.
///
/// Callbacks run on the stream's arbiter thread; keep them short (spawn or
/// send to a channel for anything slow), because the stream's fan-out waits
/// while they run.
pub type Callback = Arc<dyn Fn(&str, &SubscriberInfo) + Send + Sync>;

/// How much history a stream keeps for replay. The oldest events are evicted
/// first when any limit is exceeded. The log exists only for streams with
/// auto-replay on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLimits {
    /// The most events kept (default 1000). `0` keeps none.
    pub max_events: usize,
    /// The most encoded bytes kept (default 8 MiB).
    pub max_bytes: usize,
    /// The oldest event kept, measured from its publication (default: no
    /// age limit; the event TTL, when set, also applies to replay).
    pub max_age: Option<Duration>,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            max_events: 1000,
            max_bytes: 8 * 1024 * 1024,
            max_age: None,
        }
    }
}

/// What happens to a subscriber whose queue is full when an event arrives.
/// Either way, publishers and other subscribers never wait for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlowSubscriberPolicy {
    /// End its subscription with [`EndReason::Lagged`](crate::EndReason::Lagged)
    /// after it drains what is queued, so the client reconnects with its
    /// Last-Event-ID and replays what it missed (the default).
    #[default]
    Disconnect,
    /// Drop its oldest queued frame to make room; it silently misses events.
    /// [`Subscription::dropped`](crate::Subscription::dropped) counts them.
    DropOldest,
}

/// What a subscriber whose Last-Event-ID (or position) the log does not
/// hold gets: it was evicted, or is from an earlier life of the stream (a
/// restart). Either way the subscriber is first sent the
/// [`GAP_EVENT`](crate::GAP_EVENT) event, so it knows it missed events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeGap {
    /// Every event the log still holds, after the gap event (the default).
    #[default]
    ReplayHeld,
    /// Only live events, after the gap event.
    LiveOnly,
}

/// What a subscriber without a Last-Event-ID (or position) is replayed
/// before live events. With a [`Backplane`](crate::Backplane) the log is
/// the shared one: a node replays what it holds, whatever this node
/// delivered before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FirstReplay {
    /// Every event the log holds (r3labs' behaviour; the default here).
    #[default]
    AllHeld,
    /// Nothing: live events only (Mercure's behaviour; the hub's default).
    Nothing,
    /// The newest `n` events the log holds.
    Last(usize),
}

/// Options of one stream; `None` fields take the server's value.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct StreamOptions {
    /// Keep an event log and replay it to new subscribers.
    pub auto_replay: Option<bool>,
    /// Limits of the event log.
    pub log_limits: Option<LogLimits>,
    /// Events older than this (since publication) are never delivered.
    pub event_ttl: Option<Duration>,
    /// Publish buffer: events accepted but not yet fanned out.
    pub buffer_size: Option<usize>,
    /// Most subscribers at once.
    pub max_subscribers: Option<usize>,
    /// Called once when a subscriber joins this stream, after the server-wide callback.
    pub on_subscribe: Option<Callback>,
    /// Called once when a subscriber leaves this stream, after the server-wide callback.
    pub on_unsubscribe: Option<Callback>,
}

impl StreamOptions {
    /// Options that all follow the server.
    pub fn new() -> Self {
        StreamOptions::default()
    }

    /// Overrides the server's auto-replay.
    #[must_use]
    pub fn auto_replay(mut self, on: bool) -> Self {
        self.auto_replay = Some(on);
        self
    }

    /// Overrides the server's log limits.
    #[must_use]
    pub fn log_limits(mut self, limits: LogLimits) -> Self {
        self.log_limits = Some(limits);
        self
    }

    /// Overrides the server's event TTL.
    #[must_use]
    pub fn event_ttl(mut self, ttl: Duration) -> Self {
        self.event_ttl = Some(ttl);
        self
    }

    /// Overrides the server's publish buffer size.
    #[must_use]
    pub fn buffer_size(mut self, size: usize) -> Self {
        self.buffer_size = Some(size);
        self
    }

    /// Overrides the server's subscriber limit.
    #[must_use]
    pub fn max_subscribers(mut self, limit: usize) -> Self {
        self.max_subscribers = Some(limit);
        self
    }

    /// A callback for subscribers joining this stream.
    #[must_use]
    pub fn on_subscribe(
        mut self,
        f: impl Fn(&str, &SubscriberInfo) + Send + Sync + 'static,
    ) -> Self {
        self.on_subscribe = Some(Arc::new(f));
        self
    }

    /// A callback for subscribers leaving this stream.
    #[must_use]
    pub fn on_unsubscribe(
        mut self,
        f: impl Fn(&str, &SubscriberInfo) + Send + Sync + 'static,
    ) -> Self {
        self.on_unsubscribe = Some(Arc::new(f));
        self
    }
}

impl fmt::Debug for StreamOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamOptions")
            .field("auto_replay", &self.auto_replay)
            .field("log_limits", &self.log_limits)
            .field("event_ttl", &self.event_ttl)
            .field("buffer_size", &self.buffer_size)
            .field("max_subscribers", &self.max_subscribers)
            .field("on_subscribe", &self.on_subscribe.is_some())
            .field("on_unsubscribe", &self.on_unsubscribe.is_some())
            .finish()
    }
}

/// The server-wide options; see [`ServerBuilder`] for each one's meaning.
#[derive(Clone)]
pub(crate) struct ServerConfig {
    pub(crate) buffer_size: usize,
    pub(crate) subscriber_queue: usize,
    pub(crate) subscriber_queue_bytes: usize,
    pub(crate) event_ttl: Option<Duration>,
    pub(crate) base64: bool,
    pub(crate) auto_stream: bool,
    pub(crate) auto_replay: bool,
    pub(crate) log_limits: LogLimits,
    pub(crate) memory_budget: Option<usize>,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) slow_subscriber: SlowSubscriberPolicy,
    pub(crate) max_subscribers_per_stream: Option<usize>,
    pub(crate) max_auto_streams: Option<usize>,
    pub(crate) auto_stream_idle: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) on_subscribe: Option<Callback>,
    pub(crate) on_unsubscribe: Option<Callback>,
    pub(crate) arbiters: usize,
    pub(crate) backplane: Option<Arc<dyn Backplane>>,
    pub(crate) clock: Clock,
    pub(crate) max_retry: Duration,
    pub(crate) resume_gap: ResumeGap,
    pub(crate) first_replay: FirstReplay,
    pub(crate) topic_cache: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            buffer_size: 1024,
            subscriber_queue: 1024,
            subscriber_queue_bytes: 4 * 1024 * 1024,
            event_ttl: None,
            base64: false,
            auto_stream: false,
            auto_replay: true,
            log_limits: LogLimits::default(),
            memory_budget: Some(64 * 1024 * 1024),
            keep_alive: Some(Duration::from_secs(15)),
            slow_subscriber: SlowSubscriberPolicy::Disconnect,
            max_subscribers_per_stream: None,
            max_auto_streams: None,
            auto_stream_idle: Duration::from_secs(60),
            drain_timeout: Duration::ZERO,
            headers: Vec::new(),
            on_subscribe: None,
            on_unsubscribe: None,
            arbiters: std::thread::available_parallelism().map_or(1, |n| n.get()),
            backplane: None,
            clock: Clock::System,
            max_retry: Duration::from_secs(60),
            resume_gap: ResumeGap::ReplayHeld,
            first_replay: FirstReplay::AllHeld,
            topic_cache: 1024,
        }
    }
}

/// The options of one stream once the server's defaults are applied.
#[derive(Clone)]
pub(crate) struct Resolved {
    pub(crate) auto_replay: bool,
    pub(crate) log_limits: LogLimits,
    pub(crate) event_ttl: Option<Duration>,
    pub(crate) buffer_size: usize,
    pub(crate) max_subscribers: Option<usize>,
    pub(crate) subscriber_queue: QueueLimits,
    pub(crate) slow_subscriber: SlowSubscriberPolicy,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) base64: bool,
    pub(crate) auto_stream_idle: Duration,
    pub(crate) topic_cache: usize,
    pub(crate) callbacks: Arc<Callbacks>,
    pub(crate) replay: ReplayRules,
}

/// What a new subscriber is replayed, by whether it resumes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReplayRules {
    pub(crate) gap: ResumeGap,
    pub(crate) first: FirstReplay,
}

/// The callbacks that apply to one stream's subscribers, in firing order.
#[derive(Clone, Default)]
pub(crate) struct Callbacks {
    pub(crate) on_subscribe: [Option<Callback>; 2],
    pub(crate) on_unsubscribe: [Option<Callback>; 2],
}

impl Resolved {
    /// What the stream's core needs of these options.
    /// `idle_from_start`: see [`CoreOptions::idle_from_start`].
    pub(crate) fn core(&self, auto_created: bool, idle_from_start: bool) -> CoreOptions {
        CoreOptions {
            log: self.auto_replay.then_some(self.log_limits),
            ttl: self.event_ttl,
            max_subscribers: self.max_subscribers,
            subscriber_queue: self.subscriber_queue,
            slow_subscriber: self.slow_subscriber,
            replay: self.replay,
            // Without a log nothing is lost by removing an idle
            // auto-created stream, so it goes with its last subscriber.
            retire_after: auto_created.then_some(if self.auto_replay {
                self.auto_stream_idle
            } else {
                Duration::ZERO
            }),
            idle_from_start,
            budget: None,
            topic_cache: self.topic_cache,
        }
    }
}

impl ServerConfig {
    pub(crate) fn resolve(&self, options: &StreamOptions) -> Resolved {
        Resolved {
            auto_replay: options.auto_replay.unwrap_or(self.auto_replay),
            log_limits: options.log_limits.unwrap_or(self.log_limits),
            event_ttl: options.event_ttl.or(self.event_ttl),
            buffer_size: options.buffer_size.unwrap_or(self.buffer_size).max(1),
            max_subscribers: options.max_subscribers.or(self.max_subscribers_per_stream),
            subscriber_queue: QueueLimits {
                frames: self.subscriber_queue.max(1),
                bytes: self.subscriber_queue_bytes,
            },
            slow_subscriber: self.slow_subscriber,
            keep_alive: self.keep_alive.filter(|d| !d.is_zero()),
            base64: self.base64,
            auto_stream_idle: self.auto_stream_idle,
            replay: ReplayRules {
                gap: self.resume_gap,
                first: self.first_replay,
            },
            topic_cache: self.topic_cache,
            callbacks: Arc::new(Callbacks {
                on_subscribe: [self.on_subscribe.clone(), options.on_subscribe.clone()],
                on_unsubscribe: [self.on_unsubscribe.clone(), options.on_unsubscribe.clone()],
            }),
        }
    }
}

/// Builds a [`Server`](crate::Server); every limit and option of the crate
/// is set here.
///
/// Defaults: buffer 1024 events, subscriber queue 1024 frames or 4 MiB, no TTL, text
/// data, no auto-stream, auto-replay on, log limits of [`LogLimits::default`]
/// and a 64 MiB budget for all logs and queued frames together,
/// keep-alive every 15 s, slow subscribers disconnected, no subscriber limit,
/// no auto-stream limit, idle auto-streams removed after 60 s, no extra
/// headers, one arbiter per core, the system's clock, `retry:` up to 60 s,
/// the whole log replayed to a subscriber without a Last-Event-ID and to
/// one resuming past the log (after the gap event).
#[derive(Clone, Default)]
#[must_use]
pub struct ServerBuilder {
    pub(crate) config: ServerConfig,
}

impl ServerBuilder {
    /// Events a stream accepts before [`Server::publish`](crate::Server::publish)
    /// waits and [`Server::try_publish`](crate::Server::try_publish) refuses
    /// (r3labs `BufferSize`). At least 1.
    pub fn buffer_size(mut self, size: usize) -> Self {
        self.config.buffer_size = size;
        self
    }

    /// Frames queued per subscriber before the slow-subscriber policy applies.
    /// Replayed events do not count. At least 1.
    pub fn subscriber_queue(mut self, frames: usize) -> Self {
        self.config.subscriber_queue = frames;
        self
    }

    /// Encoded bytes queued per subscriber before the slow-subscriber policy
    /// applies (default 4 MiB), whichever of this and
    /// [`subscriber_queue`](Self::subscriber_queue) comes first: a client
    /// that stops reading pins at most this much beyond what its socket
    /// holds, however large the events. Replayed events do not count (they
    /// are the log's bytes, shared); one event larger than this is still
    /// delivered to a subscriber with nothing else queued.
    pub fn subscriber_queue_bytes(mut self, bytes: usize) -> Self {
        self.config.subscriber_queue_bytes = bytes;
        self
    }

    /// Events older than `ttl` since their publication are never delivered,
    /// neither live nor replayed (r3labs `EventTTL`).
    pub fn event_ttl(mut self, ttl: Duration) -> Self {
        self.config.event_ttl = Some(ttl);
        self
    }

    /// Send every event's data as one base64 line (r3labs `EncodeBase64`).
    pub fn base64(mut self, on: bool) -> Self {
        self.config.base64 = on;
        self
    }

    /// Create a stream when someone subscribes to an unknown one (r3labs
    /// `AutoStream`), and remove it once it has no subscriber: at once
    /// without a replay log (as r3labs), after
    /// [`auto_stream_idle`](Self::auto_stream_idle) with one. Streams
    /// created explicitly are never removed implicitly.
    /// [`Server::publish_creating`](crate::Server::publish_creating) creates
    /// such streams for publishers too.
    pub fn auto_stream(mut self, on: bool) -> Self {
        self.config.auto_stream = on;
        self
    }

    /// Keep an event log per stream and replay it to new subscribers: all of
    /// it, or what follows their Last-Event-ID (r3labs `AutoReplay`; default on).
    pub fn auto_replay(mut self, on: bool) -> Self {
        self.config.auto_replay = on;
        self
    }

    /// The longest `retry:` an event may carry (default 60 s): a longer one
    /// is refused ([`PublishError::RetryTooLong`](crate::PublishError::RetryTooLong)),
    /// as one publication would keep every client away that long.
    pub fn max_retry(mut self, max: Duration) -> Self {
        self.config.max_retry = max;
        self
    }

    /// What a subscriber resuming from an id the log does not hold gets,
    /// after the [`GAP_EVENT`](crate::GAP_EVENT) event (default: what the
    /// log holds). Without auto-replay nothing is replayed and no gap is
    /// signalled.
    pub fn on_resume_gap(mut self, gap: ResumeGap) -> Self {
        self.config.resume_gap = gap;
        self
    }

    /// What a subscriber without a Last-Event-ID is replayed (default: all
    /// the log holds, as r3labs).
    pub fn first_replay(mut self, first: FirstReplay) -> Self {
        self.config.first_replay = first;
        self
    }

    /// Bounds of each stream's event log.
    pub fn log_limits(mut self, limits: LogLimits) -> Self {
        self.config.log_limits = limits;
        self
    }

    /// Bounds the encoded event frames of every stream together (default
    /// 64 MiB; `None`: only each log's own [`LogLimits::max_bytes`] and each
    /// subscriber's [`subscriber_queue_bytes`](Self::subscriber_queue_bytes)).
    ///
    /// It counts what every log holds plus the frames no log holds (any
    /// more, or never did) that subscribers' queues or connections still
    /// hold, each frame once however many hold it (they share its bytes).
    /// Past it:
    /// 1. the oldest logged events across all streams are evicted first,
    ///    whatever stream holds them, so a later resume from them gets the
    ///    [`GAP_EVENT`](crate::GAP_EVENT);
    /// 2. once no log holds anything more to evict, the subscribers holding
    ///    the most queued bytes are ended, largest first and only as many
    ///    as it takes, as lagged ([`EndReason::Lagged`](crate::EndReason::Lagged),
    ///    counted in [`Stats::lagged`](crate::Stats::lagged)); their queued
    ///    frames are freed at once, and they resume from their Last-Event-ID.
    ///
    /// Publishing never waits or fails because of it, and delivery does not
    /// touch it (each event taken costs one small allocation and a few
    /// atomic adds). Set it well above the largest event: an event larger
    /// than the budget ends every subscriber still holding it once another
    /// event comes. [`Stats::log_bytes`](crate::Stats::log_bytes) and
    /// [`Stats::unlogged_bytes`](crate::Stats::unlogged_bytes) report what is
    /// held.
    pub fn memory_budget(mut self, bytes: Option<usize>) -> Self {
        self.config.memory_budget = bytes;
        self
    }

    /// Interval of the keep-alive comment sent to every subscriber of a
    /// stream (one timer per stream); `None` or zero disables it.
    pub fn keep_alive(mut self, every: Option<Duration>) -> Self {
        self.config.keep_alive = every;
        self
    }

    /// What to do with a subscriber whose queue is full.
    pub fn slow_subscriber(mut self, policy: SlowSubscriberPolicy) -> Self {
        self.config.slow_subscriber = policy;
        self
    }

    /// The most subscribers a stream accepts at once (`None`: no limit). A
    /// dropped subscription counts until its stream has processed its
    /// departure, a moment later.
    pub fn max_subscribers_per_stream(mut self, limit: Option<usize>) -> Self {
        self.config.max_subscribers_per_stream = limit;
        self
    }

    /// The most streams auto-stream may have created at once, for
    /// subscribers or for [`Server::publish_creating`](crate::Server::publish_creating)
    /// (`None`: no limit, as r3labs). Auto-created streams with a replay log stay for
    /// [`auto_stream_idle`](Self::auto_stream_idle) after their last
    /// subscriber, so with auto-stream and auto-replay on, any client can make
    /// the server keep a stream (and its log) per name it invents for that
    /// long: set this.
    pub fn max_auto_streams(mut self, limit: Option<usize>) -> Self {
        self.config.max_auto_streams = limit;
        self
    }

    /// How long an auto-created stream with a replay log stays without a
    /// subscriber before it is removed and stops counting against
    /// [`max_auto_streams`](Self::max_auto_streams) (default 60 s): a client
    /// that reconnects within it is still replayed what it missed. Publishing
    /// does not keep a stream; only a subscriber does: a stream created for
    /// a publisher counts its idle time from its creation. Zero removes it
    /// with its last subscriber (or, created for a publisher, once it has
    /// fanned out to no one), as without a log.
    pub fn auto_stream_idle(mut self, idle: Duration) -> Self {
        self.config.auto_stream_idle = idle;
        self
    }

    /// How many topics each stream remembers which [`TopicPattern`](crate::TopicPattern)s
    /// match (default 1024): an event about a remembered topic evaluates no
    /// pattern. Each entry holds the topic and a list of pattern numbers;
    /// past the limit the least recently seen half is forgotten. Streams
    /// whose subscribers use no pattern keep nothing.
    pub fn topic_cache(mut self, topics: usize) -> Self {
        self.config.topic_cache = topics.max(1);
        self
    }

    /// An extra response header for the transport to send (r3labs `Headers`).
    /// This crate only carries them; see [`Server::headers`](crate::Server::headers).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.headers.push((name.into(), value.into()));
        self
    }

    /// Called once for every subscriber joining any stream.
    pub fn on_subscribe(
        mut self,
        f: impl Fn(&str, &SubscriberInfo) + Send + Sync + 'static,
    ) -> Self {
        self.config.on_subscribe = Some(Arc::new(f));
        self
    }

    /// Called once for every subscriber leaving any stream, whatever the
    /// reason it left.
    pub fn on_unsubscribe(
        mut self,
        f: impl Fn(&str, &SubscriberInfo) + Send + Sync + 'static,
    ) -> Self {
        self.config.on_unsubscribe = Some(Arc::new(f));
        self
    }

    /// How long [`Server::close`](crate::Server::close) waits for connected
    /// subscribers to read what they are still owed (default: zero, it
    /// returns at once). Either way each subscription yields every event
    /// accepted before the close, then ends; the wait only lets the caller
    /// know they were read before it stops the transport (an HTTP server's
    /// graceful stop, say).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.config.drain_timeout = timeout;
        self
    }

    /// Arbiters (threads) the stream actors are spread over. `0` runs every
    /// stream on the arbiter that builds the server. Default: one per core.
    pub fn arbiters(mut self, n: usize) -> Self {
        self.config.arbiters = n;
        self
    }

    /// Makes this server one node of many sharing `backplane`: events are
    /// published to it, delivered from it, and replayed from it for a
    /// Last-Event-ID this node never saw. An event's wire id is its own id,
    /// else the backplane's [`GlobalId`](crate::GlobalId) (instead of a
    /// generated `EPOCH-SEQ`); duplicates and gaps follow the single-node
    /// rules, with the backplane as the log. Default: none, the server is
    /// its own log.
    pub fn backplane(mut self, backplane: Arc<dyn Backplane>) -> Self {
        self.config.backplane = Some(backplane);
        self
    }

    /// Runs the server on `clock` instead of the system's: publication
    /// times, the event TTL, the log's age limit and the other deadlines
    /// follow it (keep-alive comments still follow real time). For tests
    /// and simulations of what takes minutes or hours.
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.config.clock = Clock::Manual(clock);
        self
    }
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("ServerBuilder")
            .field("buffer_size", &c.buffer_size)
            .field("subscriber_queue", &c.subscriber_queue)
            .field("subscriber_queue_bytes", &c.subscriber_queue_bytes)
            .field("event_ttl", &c.event_ttl)
            .field("base64", &c.base64)
            .field("auto_stream", &c.auto_stream)
            .field("auto_replay", &c.auto_replay)
            .field("log_limits", &c.log_limits)
            .field("memory_budget", &c.memory_budget)
            .field("keep_alive", &c.keep_alive)
            .field("slow_subscriber", &c.slow_subscriber)
            .field("max_subscribers_per_stream", &c.max_subscribers_per_stream)
            .field("max_auto_streams", &c.max_auto_streams)
            .field("auto_stream_idle", &c.auto_stream_idle)
            .field("drain_timeout", &c.drain_timeout)
            .field("headers", &c.headers)
            .field("arbiters", &c.arbiters)
            .field("backplane", &c.backplane.is_some())
            .field("clock", &c.clock)
            .field("max_retry", &c.max_retry)
            .field("resume_gap", &c.resume_gap)
            .field("first_replay", &c.first_replay)
            .finish_non_exhaustive()
    }
}
