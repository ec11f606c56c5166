//! The server against a model of what it promises: random sequences of
//! create, subscribe (fresh or resuming), unsubscribe, publish, try-publish
//! bursts, remove, kick, reads, clock advances (TTL, log age, idle
//! retirement) and close. After every step the model says exactly which
//! frames each subscriber reads next and how it ends; at the end every
//! callback fired exactly once and nothing is left alive.
//!
//! Each case runs on one thread (`arbiters(0)`) and a [`ManualClock`], so
//! it is deterministic. `PROPTEST_CASES` sets how many cases run (default
//! 128, about a second).

mod common;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::Stream as _;
use proptest::prelude::*;
use sse_actors::{
    EndReason, Event, LogLimits, ManualClock, PublishError, Server, SubscribeError,
    SubscribeRequest, Subscription, TryPublishError,
};

const STREAMS: usize = 3;
const MAX_AUTO_STREAMS: usize = 2;
const QUEUE: usize = 3;
const BUFFER: usize = 2;
const LOG_EVENTS: usize = 4;
const TTL: Duration = Duration::from_secs(90);
const LOG_AGE: Duration = Duration::from_secs(120);
const IDLE: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
enum Resume {
    Fresh,
    /// An id once published to the stream's name (it may be evicted).
    Known(usize),
    Unknown,
}

#[derive(Clone, Debug)]
enum Op {
    Create(usize),
    Subscribe(usize, Resume),
    Unsubscribe(usize),
    Publish {
        stream: usize,
        own_id: bool,
    },
    /// `try_publish` this many times without yielding: the buffer takes
    /// `BUFFER`, the rest are refused as full.
    TryPublishBurst {
        stream: usize,
        count: usize,
    },
    Remove(usize),
    Kick(usize),
    Read(usize),
    Advance(u64),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    let stream = 0..STREAMS;
    let resume = prop_oneof![
        Just(Resume::Fresh),
        (0..8usize).prop_map(Resume::Known),
        Just(Resume::Unknown)
    ];
    prop_oneof![
        2 => stream.clone().prop_map(Op::Create),
        5 => (stream.clone(), resume).prop_map(|(s, r)| Op::Subscribe(s, r)),
        2 => (0..16usize).prop_map(Op::Unsubscribe),
        6 => (stream.clone(), any::<bool>()).prop_map(|(stream, own_id)| Op::Publish { stream, own_id }),
        2 => (stream.clone(), 1..5usize).prop_map(|(stream, count)| Op::TryPublishBurst { stream, count }),
        1 => stream.prop_map(Op::Remove),
        1 => (0..16usize).prop_map(Op::Kick),
        5 => (0..16usize).prop_map(Op::Read),
        3 => prop_oneof![Just(1u64), Just(30), Just(59), Just(61), Just(100)].prop_map(Op::Advance),
        1 => Just(Op::Close),
    ]
}

fn name(stream: usize) -> String {
    format!("s{stream}")
}

/// One event as the model knows it.
#[derive(Clone, Debug)]
struct Logged {
    id: String,
    seq: u64,
    frame: String,
    published: Duration,
}

#[derive(Debug)]
struct ModelStream {
    explicit: bool,
    seq: u64,
    /// The epoch of the generated ids of this life of the stream, once one
    /// was seen.
    epoch: Option<String>,
    log: VecDeque<Logged>,
    /// Live subscribers, by index into `Model::subs`.
    subscribers: Vec<usize>,
    retire_at: Option<Duration>,
}

#[derive(Debug)]
struct ModelSub {
    id: u64,
    /// Frames queued and not read yet, each with whether it was replayed.
    queued: VecDeque<(Logged, bool)>,
    end: Option<EndReason>,
    dropped: bool,
}

impl ModelSub {
    fn live_queued(&self) -> usize {
        self.queued.iter().filter(|(_, replayed)| !replayed).count()
    }
}

#[derive(Debug, Default)]
struct Model {
    now: Duration,
    closed: bool,
    streams: BTreeMap<String, ModelStream>,
    subs: Vec<ModelSub>,
    /// Every id ever published per stream name.
    history: HashMap<String, Vec<String>>,
    /// Every epoch of generated ids seen, in any stream's life.
    epochs: Vec<String>,
    frames: u64,
}

impl Model {
    fn fresh(&self, event: &Logged) -> bool {
        self.now.saturating_sub(event.published) <= TTL
    }

    fn auto_streams(&self) -> usize {
        self.streams.values().filter(|s| !s.explicit).count()
    }

    fn live_subscribers(&self) -> usize {
        self.streams.values().map(|s| s.subscribers.len()).sum()
    }

    fn create(&mut self, name: &str, explicit: bool) {
        let retire_at = (!explicit).then_some(self.now + IDLE);
        self.streams.insert(
            name.to_owned(),
            ModelStream {
                explicit,
                seq: 0,
                epoch: None,
                log: VecDeque::new(),
                subscribers: Vec::new(),
                retire_at,
            },
        );
    }

    /// A subscriber left `name` (still in the registry) for `reason`.
    fn depart(&mut self, name: &str, sub: usize, reason: EndReason) {
        let stream = self.streams.get_mut(name).expect("its stream");
        stream.subscribers.retain(|s| *s != sub);
        if stream.subscribers.is_empty() && !stream.explicit {
            stream.retire_at = Some(self.now + IDLE);
        }
        let sub = &mut self.subs[sub];
        sub.end = Some(reason);
        if !matches!(reason, EndReason::Lagged | EndReason::ServerClosed) {
            sub.queued.clear();
        }
    }

    fn evict(log: &mut VecDeque<Logged>, now: Duration) {
        while let Some(oldest) = log.front() {
            if log.len() > LOG_EVENTS || now.saturating_sub(oldest.published) > LOG_AGE {
                log.pop_front();
            } else {
                break;
            }
        }
    }

    /// Takes one event on `name`; answers its wire id and sequence number.
    /// A generated id is `EPOCH-SEQ`: the first one of a stream's life
    /// (the server's `id`) tells its epoch, which no earlier life had.
    fn publish(&mut self, name: &str, own_id: bool, id: &str) -> (String, u64) {
        self.frames += 1;
        let now = self.now;
        let stream = self.streams.get_mut(name).expect("an existing stream");
        stream.seq += 1;
        let seq = stream.seq;
        let id = if own_id {
            format!("own-{}", self.frames)
        } else {
            let epoch = stream.epoch.get_or_insert_with(|| {
                let epoch = id
                    .strip_suffix(&format!("-{seq}"))
                    .unwrap_or_else(|| panic!("{id:?} is no id of event {seq}"))
                    .to_owned();
                assert!(!self.epochs.contains(&epoch), "{epoch} repeats");
                self.epochs.push(epoch.clone());
                epoch
            });
            format!("{epoch}-{seq}")
        };
        let event = Logged {
            frame: format!("id: {id}\ndata: {name} #{}\n\n", self.frames),
            id: id.clone(),
            seq,
            published: now,
        };
        stream.log.push_back(event.clone());
        Self::evict(&mut stream.log, now);
        self.history
            .entry(name.to_owned())
            .or_default()
            .push(id.clone());
        let subscribers = stream.subscribers.clone();
        for sub in subscribers {
            if self.subs[sub].live_queued() >= QUEUE {
                self.depart(name, sub, EndReason::Lagged);
            } else {
                self.subs[sub].queued.push_back((event.clone(), false));
            }
        }
        (id, seq)
    }

    fn retire_idle(&mut self) {
        let now = self.now;
        self.streams.retain(|_, stream| {
            !(stream.subscribers.is_empty() && stream.retire_at.is_some_and(|at| at <= now))
        });
    }
}

/// The event a model step publishes (the model names its data).
fn event_for(model: &Model, name: &str, own_id: bool) -> Event {
    let event = Event::data(format!("{name} #{}", model.frames + 1));
    if own_id {
        event.id(format!("own-{}", model.frames + 1))
    } else {
        event
    }
}

/// Lets the server's actors (on this thread) run until what it holds
/// matches the model.
async fn settle(server: &Server, model: &Model) {
    for _ in 0..100_000 {
        let stats = server.stats();
        let live = model.live_subscribers();
        let quiet = stats.streams == model.streams.len()
            && stats.stream_actors == model.streams.len()
            && stats.subscriber_records == live
            && stats.subscriber_actors == live
            && model.streams.iter().all(|(name, s)| {
                server.stream(name).is_some_and(|handle| {
                    let info = handle.info();
                    info.buffered == 0 && info.subscribers == s.subscribers.len()
                })
            });
        if quiet {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!(
        "the server does not settle where the model is: {:?}\nmodel: {model:#?}",
        server.stats()
    );
}

/// Reads every frame the subscription has ready now.
fn read_ready(subscription: &mut Subscription) -> (Vec<String>, bool) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut frames = Vec::new();
    loop {
        match std::pin::Pin::new(&mut *subscription).poll_next(&mut cx) {
            Poll::Ready(Some(frame)) => frames.push(String::from_utf8(frame.to_vec()).unwrap()),
            Poll::Ready(None) => return (frames, true),
            Poll::Pending => return (frames, false),
        }
    }
}

type Calls = Arc<Mutex<HashMap<u64, (u32, u32)>>>;

async fn run(ops: Vec<Op>) {
    let clock = ManualClock::new();
    let calls: Calls = Arc::default();
    let (on_sub, on_unsub) = (Arc::clone(&calls), Arc::clone(&calls));
    let server = Server::builder()
        .arbiters(0)
        .keep_alive(None)
        .clock(clock.clone())
        .auto_stream(true)
        .max_auto_streams(Some(MAX_AUTO_STREAMS))
        .auto_stream_idle(IDLE)
        .event_ttl(TTL)
        .log_limits(LogLimits {
            max_events: LOG_EVENTS,
            max_age: Some(LOG_AGE),
            ..LogLimits::default()
        })
        .subscriber_queue(QUEUE)
        .buffer_size(BUFFER)
        .on_subscribe(move |_, info| on_sub.lock().unwrap().entry(info.id).or_default().0 += 1)
        .on_unsubscribe(move |_, info| on_unsub.lock().unwrap().entry(info.id).or_default().1 += 1)
        .build();
    let probe = server.stats_probe();
    let mut model = Model::default();
    let mut subs: Vec<Option<Subscription>> = Vec::new();

    for op in ops {
        match op {
            Op::Create(s) => {
                let created = server.create_stream(&name(s)).await;
                assert_eq!(created.is_ok(), !model.closed);
                if !model.closed && !model.streams.contains_key(&name(s)) {
                    model.create(&name(s), true);
                }
            }
            Op::Subscribe(s, resume) => {
                let name = name(s);
                let history = model.history.get(&name).filter(|h| !h.is_empty());
                let last_event_id = match resume {
                    Resume::Fresh => None,
                    Resume::Known(k) => history.map(|h| h[k % h.len()].clone()),
                    Resume::Unknown => Some("never-published".to_owned()),
                };
                let mut request = SubscribeRequest::new();
                request.last_event_id = last_event_id.clone();
                let result = server.subscribe(&name, request).await;
                if model.closed {
                    assert_eq!(result.unwrap_err(), SubscribeError::ServerClosed);
                    continue;
                }
                if !model.streams.contains_key(&name) {
                    if model.auto_streams() >= MAX_AUTO_STREAMS {
                        assert!(
                            matches!(result, Err(SubscribeError::TooManyStreams { .. })),
                            "{result:?}"
                        );
                        continue;
                    }
                    model.create(&name, false);
                }
                let subscription = result.expect("subscribed");
                let now = model.now;
                let index = model.subs.len();
                let stream = model.streams.get_mut(&name).unwrap();
                Model::evict(&mut stream.log, now);
                // After the event the id names, when this life of the stream
                // has it or every event after it; else a gap, then all held.
                let after = last_event_id.as_deref().and_then(|id| {
                    let generated = stream.epoch.as_deref().and_then(|epoch| {
                        id.strip_prefix(epoch)?
                            .strip_prefix('-')?
                            .parse::<u64>()
                            .ok()
                    });
                    generated
                        .filter(|&seq| {
                            seq == stream.seq
                                || stream.log.front().is_some_and(|e| e.seq <= seq + 1)
                        })
                        .or_else(|| stream.log.iter().rev().find(|e| e.id == id).map(|e| e.seq))
                });
                let gap = last_event_id.is_some() && after.is_none();
                let mut queued: VecDeque<(Logged, bool)> = stream
                    .log
                    .iter()
                    .filter(|e| {
                        e.seq > after.unwrap_or(0) && now.saturating_sub(e.published) <= TTL
                    })
                    .map(|e| (e.clone(), true))
                    .collect();
                if gap {
                    let first = queued.front().map_or("", |(e, _)| e.id.as_str());
                    let gap = Logged {
                        id: String::new(),
                        seq: 0,
                        frame: format!("event: sse-gap\ndata: {first}\n\n"),
                        published: now,
                    };
                    queued.push_front((gap, true));
                }
                stream.subscribers.push(index);
                stream.retire_at = None;
                model.subs.push(ModelSub {
                    id: subscription.id(),
                    queued,
                    end: None,
                    dropped: false,
                });
                subs.push(Some(subscription));
            }
            Op::Unsubscribe(i) => {
                if subs.is_empty() {
                    continue;
                }
                let i = i % subs.len();
                if subs[i].take().is_none() {
                    continue;
                }
                model.subs[i].dropped = true;
                if model.subs[i].end.is_none() {
                    let name = model
                        .streams
                        .iter()
                        .find(|(_, s)| s.subscribers.contains(&i))
                        .map(|(n, _)| n.clone())
                        .expect("a live subscriber's stream");
                    model.depart(&name, i, EndReason::Unsubscribed);
                }
            }
            Op::Publish { stream, own_id } => {
                let name = name(stream);
                let result = server
                    .publish(&name, event_for(&model, &name, own_id))
                    .await;
                if model.closed {
                    assert_eq!(result.unwrap_err(), PublishError::ServerClosed);
                } else if !model.streams.contains_key(&name) {
                    assert!(
                        matches!(result, Err(PublishError::UnknownStream { .. })),
                        "{result:?}"
                    );
                } else {
                    let published = result.expect("published");
                    let (id, seq) = model.publish(&name, own_id, &published.id);
                    assert_eq!((&*published.id, published.seq), (id.as_str(), seq));
                }
            }
            Op::TryPublishBurst { stream, count } => {
                let name = name(stream);
                for n in 0..count {
                    let result = server.try_publish(&name, event_for(&model, &name, false));
                    if model.closed {
                        assert_eq!(result.unwrap_err(), TryPublishError::ServerClosed);
                    } else if !model.streams.contains_key(&name) {
                        assert!(
                            matches!(result, Err(TryPublishError::UnknownStream { .. })),
                            "{result:?}"
                        );
                    } else if n >= BUFFER {
                        assert!(
                            matches!(result, Err(TryPublishError::Full { .. })),
                            "{result:?}"
                        );
                    } else {
                        let published = result.expect("published");
                        let (id, seq) = model.publish(&name, false, &published.id);
                        assert_eq!((&*published.id, published.seq), (id.as_str(), seq));
                    }
                }
            }
            Op::Remove(s) => {
                let name = name(s);
                let existed = server.remove_stream(&name).await;
                let expected = !model.closed && model.streams.contains_key(&name);
                assert_eq!(existed, expected);
                if expected {
                    let subscribers = model.streams[&name].subscribers.clone();
                    for sub in subscribers {
                        model.depart(&name, sub, EndReason::StreamRemoved);
                    }
                    model.streams.remove(&name);
                }
            }
            Op::Kick(i) => {
                if model.subs.is_empty() {
                    continue;
                }
                let i = i % model.subs.len();
                let kicked = server.kick(model.subs[i].id).await;
                let live = model.subs[i].end.is_none() && !model.closed;
                assert_eq!(kicked, live, "kick of subscriber {i}");
                if live {
                    let name = model
                        .streams
                        .iter()
                        .find(|(_, s)| s.subscribers.contains(&i))
                        .map(|(n, _)| n.clone())
                        .expect("a live subscriber's stream");
                    model.depart(&name, i, EndReason::Kicked);
                }
            }
            Op::Read(i) => {
                if subs.is_empty() {
                    continue;
                }
                let i = i % subs.len();
                let Some(subscription) = subs[i].as_mut() else {
                    continue;
                };
                let (frames, ended) = read_ready(subscription);
                let queued = std::mem::take(&mut model.subs[i].queued);
                let expected: Vec<String> = queued
                    .into_iter()
                    .filter(|(e, _)| model.fresh(e))
                    .map(|(e, _)| e.frame)
                    .collect();
                assert_eq!(frames, expected, "frames of subscriber {i}");
                assert_eq!(
                    ended,
                    model.subs[i].end.is_some(),
                    "the end of subscriber {i}"
                );
                assert_eq!(subscription.end_reason(), model.subs[i].end);
            }
            Op::Advance(secs) => {
                clock.advance(Duration::from_secs(secs));
                model.now += Duration::from_secs(secs);
                model.retire_idle();
            }
            Op::Close => {
                server.close().await;
                if !model.closed {
                    model.closed = true;
                    let names: Vec<String> = model.streams.keys().cloned().collect();
                    for name in names {
                        let subscribers = model.streams[&name].subscribers.clone();
                        for sub in subscribers {
                            model.depart(&name, sub, EndReason::ServerClosed);
                        }
                    }
                    model.streams.clear();
                }
            }
        }
        settle(&server, &model).await;
    }

    drop(subs);
    server.close().await;
    drop(server);
    common::all_freed_probe(&probe).await;
    let calls = calls.lock().unwrap();
    assert_eq!(
        calls.len(),
        model.subs.len(),
        "one on_subscribe per subscriber"
    );
    for sub in &model.subs {
        assert_eq!(
            calls.get(&sub.id),
            Some(&(1, 1)),
            "callbacks of subscriber {}",
            sub.id
        );
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // A failure prints its shrunk case; nothing is written to the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_server_keeps_every_promise_of_the_model(ops in prop::collection::vec(op(), 1..60)) {
        actix_rt::System::new().block_on(run(ops));
    }
}
