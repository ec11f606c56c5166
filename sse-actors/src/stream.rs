//! A handle on one stream: publish and subscribe without a name lookup.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use actix::Addr;
use bytes::{BufMut as _, Bytes, BytesMut};
use bytestring::ByteString;
use sse_proto::{Encoder, Event};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::backplane::{Backplane, BackplaneEvent, GlobalId};
use crate::clock::Clock;
use crate::config::FirstReplay;
use crate::error::{PublishError, SubscribeError, TryPublishError};
use crate::ids::{self, InvalidId, RecentIds};
use crate::queue::Drain;
use crate::sequencing::{Backfill, Global, Incoming, Local, LocalEvent, Missed, Resume};
use crate::stats::Counters;
use crate::stream_actor::{
    Chooser, Deliver, Kick, NewestId, Publish, Shutdown, StreamActor, Subscribe,
};
use crate::subscription::{EndReason, SubscribeRequest, Subscription};
use crate::topics::Topics;

/// An event the stream accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// Its wire id: the event's own id if it had one, else a generated
    /// `EPOCH-SEQ` that no other life of the stream (a restart, a stream
    /// created again) ever generates (see `README.md`, "Event ids").
    /// With a backplane, the event's own id, else the backplane's
    /// [`GlobalId`].
    pub id: ByteString,
    /// Its position in the stream: 1 for the first event, then one more for
    /// each event, never reused. With a backplane, 0: the id is the position.
    pub seq: u64,
    /// The stream already took an event with this own id among its last
    /// [`LogLimits::max_events`](crate::LogLimits::max_events): this one was
    /// not stored again (a publisher's retry is safe), and `seq` is the
    /// first one's. Always false without auto-replay. With a backplane, the
    /// backplane's log held it (see [`Backplane::publish`]).
    pub duplicate: bool,
}

/// What [`Server::streams`](crate::Server::streams) reports about a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The stream's name.
    pub name: String,
    /// Subscribers right now.
    pub subscribers: usize,
    /// Events accepted so far (the last sequence number).
    pub published: u64,
    /// Events accepted but not yet fanned out.
    pub buffered: usize,
    /// Events in the replay log.
    pub logged_events: usize,
    /// Encoded bytes in the replay log.
    pub logged_bytes: usize,
    /// Whether auto-stream created it (it goes away once it has had no
    /// subscriber for [`ServerBuilder::auto_stream_idle`](crate::ServerBuilder::auto_stream_idle),
    /// at once without a replay log).
    pub auto_created: bool,
}

/// State shared by a stream's handles and its actor.
pub(crate) struct StreamState {
    pub(crate) name: Arc<str>,
    /// One permit per event the stream may hold before publishers wait: the
    /// real backpressure, since actix's `do_send` ignores mailbox capacity.
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) capacity: usize,
    /// Sequence numbers are taken and the event is enqueued under this lock,
    /// so the mailbox order is the sequence order whatever the publishers.
    pub(crate) seq: Mutex<SeqState>,
    pub(crate) subscribers: AtomicUsize,
    /// The log's size, mirrored for [`StreamHandle::info`].
    pub(crate) logged_events: AtomicUsize,
    pub(crate) logged_bytes: AtomicUsize,
    pub(crate) encoder: Encoder,
    pub(crate) auto_created: bool,
    pub(crate) instance: u64,
    pub(crate) counters: Arc<Counters>,
    /// Set when events go through a backplane instead of the actor's mailbox.
    pub(crate) backplane: Option<Arc<dyn Backplane>>,
    /// The server's clock: publication times, TTL and timers follow it.
    pub(crate) clock: Clock,
    /// Most events replayed from the backplane to one subscriber (the log's
    /// `max_events`; 0 without auto-replay).
    pub(crate) replay_limit: usize,
    /// Most bytes of them (the log's `max_bytes`): the newest are kept.
    pub(crate) replay_max_bytes: usize,
    /// What a new subscriber without a Last-Event-ID is replayed, unless it
    /// asks otherwise: with a backplane, of what the shared log holds.
    pub(crate) first_replay: FirstReplay,
    /// Backplane reads for resuming subscribers, by the wire id they resume
    /// after, while one is in flight or its result is being handed out:
    /// subscribers resuming together share one read and one copy.
    pub(crate) backfills: Mutex<Vec<(Box<str>, Weak<SharedRead>)>>,
    /// The last backplane read for resuming subscribers, kept for
    /// [`RECENT_READ_WINDOW`] so those resuming shortly after from the same
    /// id share its frames too. One per stream, bounded like a read.
    pub(crate) recent_read: Mutex<Option<RecentRead>>,
    /// The epoch of the stream's generated ids (see [`ids`]).
    pub(crate) epoch: Arc<str>,
    /// The longest `retry:` an event may carry.
    pub(crate) max_retry: Duration,
}

/// One backplane read for resuming subscribers: `None` when it failed.
pub(crate) type SharedRead = OnceCell<Option<Missed>>;

/// How long a stream keeps its last backplane read for subscribers resuming
/// after the same id: reconnecting clients (a node restarted, a network
/// blip) arrive spread over their retry delays.
pub(crate) const RECENT_READ_WINDOW: Duration = Duration::from_secs(10);

/// A stream's last backplane read, by the wire id it was read after.
#[derive(Debug)]
pub(crate) struct RecentRead {
    after: Box<str>,
    missed: Missed,
    at: std::time::Instant,
}

#[derive(Debug, Default)]
pub(crate) struct SeqState {
    pub(crate) last: u64,
    pub(crate) closed: bool,
    /// Own ids of the last `replay_limit` events, for duplicates.
    pub(crate) recent: RecentIds,
}

impl StreamState {
    pub(crate) fn lock_seq(&self) -> std::sync::MutexGuard<'_, SeqState> {
        self.seq.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Refuses every later publication and wakes publishers waiting for space.
    pub(crate) fn close(&self) {
        self.lock_seq().closed = true;
        self.permits.close();
    }

    /// Mirrors the actor's counts for [`StreamHandle::info`].
    pub(crate) fn mirror(&self, subscribers: usize, (events, bytes): (usize, usize)) {
        self.subscribers.store(subscribers, Ordering::Release);
        self.logged_events.store(events, Ordering::Relaxed);
        self.logged_bytes.store(bytes, Ordering::Relaxed);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock_seq().closed
    }

    /// The last read, if it was after `after` and is recent.
    fn recent_read(&self, after: &str) -> Option<Missed> {
        self.forget_old_read(self.clock.now());
        let recent = self
            .recent_read
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        recent
            .as_ref()
            .filter(|read| *read.after == *after)
            .map(|read| read.missed.clone())
    }

    fn remember_read(&self, after: &str, missed: &Missed) {
        *self
            .recent_read
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = Some(RecentRead {
            after: after.into(),
            missed: missed.clone(),
            at: self.clock.now(),
        });
    }

    /// Forgets the last read once it is old, so its frames are not held
    /// for nothing.
    fn forget_old_read(&self, now: std::time::Instant) {
        let mut recent = self
            .recent_read
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if recent
            .as_ref()
            .is_some_and(|read| now.saturating_duration_since(read.at) > RECENT_READ_WINDOW)
        {
            *recent = None;
        }
    }

    /// The backplane read for subscribers resuming after `after`: the one
    /// in flight, else a new one.
    fn shared_read(&self, after: &str) -> Arc<SharedRead> {
        let mut reads = self
            .backfills
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        reads.retain(|(_, read)| read.strong_count() > 0);
        if let Some(read) = reads
            .iter()
            .find(|(id, _)| **id == *after)
            .and_then(|(_, read)| read.upgrade())
        {
            return read;
        }
        let read = Arc::new(OnceCell::new());
        reads.push((after.into(), Arc::downgrade(&read)));
        read
    }
}

/// A cheap, cloneable handle on one stream, from
/// [`Server::create_stream`](crate::Server::create_stream) or
/// [`Server::stream`](crate::Server::stream).
///
/// It outlives nothing: once the stream is removed, its methods fail with
/// `StreamRemoved`.
#[derive(Clone)]
pub struct StreamHandle {
    pub(crate) addr: StreamAddr,
    pub(crate) state: Arc<StreamState>,
}

/// A stream actor, by how its stream orders events.
#[derive(Clone)]
pub(crate) enum StreamAddr {
    Local(Addr<StreamActor<Local>>),
    Global(Addr<StreamActor<Global>>),
}

impl StreamAddr {
    fn connected(&self) -> bool {
        match self {
            StreamAddr::Local(addr) => addr.connected(),
            StreamAddr::Global(addr) => addr.connected(),
        }
    }

    /// Ends the stream's subscriptions; resolves once they ended (at once
    /// if the actor is gone: then they already have). `drain` watches what
    /// the subscribers are still owed.
    pub(crate) async fn shut_down(&self, reason: EndReason, drain: Option<Arc<Drain>>) {
        let msg = Shutdown { reason, drain };
        let _ = match self {
            StreamAddr::Local(addr) => addr.send(msg).await,
            StreamAddr::Global(addr) => addr.send(msg).await,
        };
    }

    /// Ends the subscribers `chosen` picks; answers how many, once they ended.
    pub(crate) async fn kick(&self, chosen: Chooser) -> usize {
        let kicked = match self {
            StreamAddr::Local(addr) => addr.send(Kick(chosen)).await,
            StreamAddr::Global(addr) => addr.send(Kick(chosen)).await,
        };
        kicked.unwrap_or(0)
    }

    /// [`shut_down`](Self::shut_down) without waiting.
    pub(crate) fn shut_down_now(&self, reason: EndReason) {
        let msg = Shutdown {
            reason,
            drain: None,
        };
        match self {
            StreamAddr::Local(addr) => addr.do_send(msg),
            StreamAddr::Global(addr) => addr.do_send(msg),
        }
    }
}

impl StreamHandle {
    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// Whether the stream was removed (or its server closed).
    pub fn is_removed(&self) -> bool {
        self.state.is_closed() || !self.addr.connected()
    }

    /// A snapshot of the stream's counters.
    pub fn info(&self) -> StreamInfo {
        StreamInfo {
            name: self.state.name.to_string(),
            subscribers: self.state.subscribers.load(Ordering::Acquire),
            published: self.state.lock_seq().last,
            buffered: self.state.capacity
                - self
                    .state
                    .permits
                    .available_permits()
                    .min(self.state.capacity),
            logged_events: self.state.logged_events.load(Ordering::Relaxed),
            logged_bytes: self.state.logged_bytes.load(Ordering::Relaxed),
            auto_created: self.state.auto_created,
        }
    }

    /// Publishes `event`, waiting while the stream's buffer is full. The
    /// event is encoded here, once, and shared by every subscriber.
    pub async fn publish(&self, event: Event) -> Result<Published, PublishError> {
        self.publish_about(event, None).await
    }

    /// Publishes `event` about `topics`: it reaches only the subscribers
    /// whose filter accepts it, and, unless private, those without one
    /// (see [`topics`](crate::topics)). Waits as [`publish`](Self::publish).
    pub async fn publish_tagged(
        &self,
        event: Event,
        topics: Topics,
    ) -> Result<Published, PublishError> {
        self.publish_about(event, Some(Arc::new(topics))).await
    }

    async fn publish_about(
        &self,
        event: Event,
        topics: Option<Arc<Topics>>,
    ) -> Result<Published, PublishError> {
        if let Some(backplane) = &self.state.backplane {
            if self.state.is_closed() {
                return Err(PublishError::StreamRemoved {
                    stream: self.state.name.to_string(),
                });
            }
            let state = &self.state;
            return publish_global(
                &**backplane,
                &state.encoder,
                &state.name,
                state.max_retry,
                event,
                topics,
            )
            .await;
        }
        self.publish_local(&event, topics).await
    }

    /// [`publish`](Self::publish) on a stream without a backplane; the
    /// event is borrowed, so a caller that must try another stream (this
    /// one was removed) still has it.
    pub(crate) async fn publish_local(
        &self,
        event: &Event,
        topics: Option<Arc<Topics>>,
    ) -> Result<Published, PublishError> {
        let encoded = encode(&self.state, event, topics)?;
        if let Some(first) = self.duplicate(&encoded) {
            return Ok(first);
        }
        let removed = || PublishError::StreamRemoved {
            stream: self.state.name.to_string(),
        };
        let permit = Arc::clone(&self.state.permits)
            .acquire_owned()
            .await
            .map_err(|_| removed())?;
        self.enqueue(encoded, permit).ok_or_else(removed)
    }

    /// Publishes `event` if the stream's buffer has room; never waits.
    pub fn try_publish(&self, event: Event) -> Result<Published, TryPublishError> {
        self.try_publish_about(event, None)
    }

    /// [`publish_tagged`](Self::publish_tagged) if the stream's buffer has
    /// room; never waits.
    pub fn try_publish_tagged(
        &self,
        event: Event,
        topics: Topics,
    ) -> Result<Published, TryPublishError> {
        self.try_publish_about(event, Some(Arc::new(topics)))
    }

    fn try_publish_about(
        &self,
        event: Event,
        topics: Option<Arc<Topics>>,
    ) -> Result<Published, TryPublishError> {
        if self.state.backplane.is_some() {
            return Err(TryPublishError::Backplane {
                stream: self.state.name.to_string(),
            });
        }
        let encoded = encode(&self.state, &event, topics)?;
        // A retry needs no room: answered before the buffer is asked.
        if let Some(first) = self.duplicate(&encoded) {
            return Ok(first);
        }
        let removed = || TryPublishError::StreamRemoved {
            stream: self.state.name.to_string(),
        };
        let permit = match Arc::clone(&self.state.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits) => {
                return Err(TryPublishError::Full {
                    stream: self.state.name.to_string(),
                    capacity: self.state.capacity,
                });
            }
            Err(TryAcquireError::Closed) => return Err(removed()),
        };
        self.enqueue(encoded, permit).ok_or_else(removed)
    }

    /// Subscribes to this stream.
    pub async fn subscribe(
        &self,
        request: SubscribeRequest,
    ) -> Result<Subscription, SubscribeError> {
        let removed = || SubscribeError::StreamRemoved {
            stream: self.state.name.to_string(),
        };
        if self.state.is_closed() {
            return Err(removed());
        }
        let joined = match &self.addr {
            StreamAddr::Local(addr) => {
                let backfill = ();
                addr.send(Subscribe { request, backfill }).await
            }
            StreamAddr::Global(addr) => {
                let backfill = self.backfill(&request).await;
                addr.send(Subscribe { request, backfill }).await
            }
        };
        joined.unwrap_or_else(|_| Err(removed()))
    }

    /// The id of the newest event the stream holds: where a subscriber
    /// joining now with nothing to replay starts (what
    /// [`Subscription::start_id`] would name), asked without subscribing,
    /// so no callback or counter sees it. `None` when the stream holds
    /// nothing, was removed, or is served through a backplane (the shared
    /// log's newest id is not known here).
    ///
    /// ```
    /// # actix_rt::System::new().block_on(async {
    /// let server = sse_actors::Server::new();
    /// let stream = server.create_stream("news").await.unwrap();
    /// assert_eq!(stream.last_id().await, None);
    /// stream.publish(sse_actors::Event::data("hi").id("n-1")).await.unwrap();
    /// assert_eq!(stream.last_id().await.as_deref(), Some("n-1"));
    /// # });
    /// ```
    pub async fn last_id(&self) -> Option<String> {
        match &self.addr {
            StreamAddr::Local(addr) => addr.send(NewestId).await.ok().flatten().map(String::from),
            StreamAddr::Global(_) => None,
        }
    }

    /// Starts the backplane delivering this stream, then reads what a client
    /// resuming from a global id missed. Without the backplane (it is down)
    /// or a global id to resume after, the local log's replay applies.
    async fn backfill(&self, request: &SubscribeRequest) -> Backfill {
        let Some(backplane) = self.state.backplane.as_deref() else {
            return Backfill::default();
        };
        let clock = &self.state.clock;
        // A failed watch is retried by the next subscriber; meanwhile this one
        // is served what the node delivers, from about now on.
        let watched_from = backplane
            .watch(&self.state.name)
            .await
            .unwrap_or_else(|_| GlobalId::at(clock.unix_now()));
        let resume = Resume {
            after: request.after,
            last_event_id: request.last_event_id.as_deref(),
            ..Resume::default()
        };
        let first_replay = request.first_replay.unwrap_or(self.state.first_replay);
        let after = match resume.wire_id() {
            Some(after) => Some(after),
            // What a new subscriber is replayed is what the shared log holds,
            // not what this node happened to deliver: read as after an id
            // the log never holds, it answers its newest events.
            None if request.after.is_none()
                && request.last_event_id.is_none()
                && first_replay != FirstReplay::Nothing =>
            {
                Some(std::borrow::Cow::Owned(GlobalId::default().to_string()))
            }
            None => None,
        };
        let missed = match after {
            Some(after) if self.state.replay_limit > 0 => match self.reuse_read(&after).await {
                Some(missed) => Some(missed),
                None => {
                    let read = self.state.shared_read(&after);
                    read.get_or_init(|| async {
                        let read = backplane
                            .read_after(&self.state.name, &after, self.state.replay_limit)
                            .await
                            .ok()?;
                        let missed = Missed::new(
                            read.found,
                            self.incoming(read.events),
                            self.state.replay_max_bytes,
                        );
                        self.state.remember_read(&after, &missed);
                        Some(missed)
                    })
                    .await
                    .clone()
                }
            },
            _ => None,
        };
        Backfill {
            watched_from,
            missed,
        }
    }

    /// The stream's recent read after `after`, if there is one, extended by
    /// what the backplane holds after its newest event: the frames read
    /// before are shared, only the newer ones are read and copied. `None`
    /// when there is no such read or it cannot be extended (its newest
    /// event was trimmed meanwhile, or the backplane is down).
    async fn reuse_read(&self, after: &str) -> Option<Missed> {
        let backplane = self.state.backplane.as_deref()?;
        let recent = self.state.recent_read(after)?;
        let newest = recent.newest()?.to_string();
        let limit = self.state.replay_limit;
        let later = backplane
            .read_after(&self.state.name, &newest, limit)
            .await
            .ok()?;
        later.found?;
        let later = self.incoming(later.events);
        Some(recent.extended(later, self.state.replay_max_bytes, limit))
    }

    fn incoming(&self, events: Vec<BackplaneEvent>) -> Vec<Incoming> {
        let clock = &self.state.clock;
        let (now, unix_now) = (clock.now(), clock.unix_now());
        events
            .into_iter()
            .map(|event| incoming(event, now, unix_now))
            .collect()
    }

    /// Hands an event read from the backplane to this stream's actor,
    /// waiting while its buffer of events not yet fanned out is full;
    /// false if this stream does not take backplane events (or is removed).
    pub(crate) async fn deliver(&self, event: BackplaneEvent) -> bool {
        let StreamAddr::Global(addr) = &self.addr else {
            return false;
        };
        let Ok(permit) = Arc::clone(&self.state.permits).acquire_owned().await else {
            return false;
        };
        let clock = &self.state.clock;
        let now = clock.now();
        self.state.forget_old_read(now);
        let event = incoming(event, now, clock.unix_now());
        addr.do_send(Deliver { event, permit });
        true
    }

    /// The answer to a publication whose own id the stream took among its
    /// last events, if it is one. Checked again when enqueuing, as another
    /// publisher may take the id meanwhile.
    fn duplicate(&self, encoded: &Encoded) -> Option<Published> {
        let id = encoded.user_id.as_ref()?;
        if self.state.replay_limit == 0 {
            return None;
        }
        let mut seq = self.state.lock_seq();
        if seq.closed {
            return None;
        }
        let next = seq.last + 1;
        let first = seq.recent.find(id, next, self.state.replay_limit as u64)?;
        Some(Published {
            id: id.clone(),
            seq: first,
            duplicate: true,
        })
    }

    fn enqueue(&self, encoded: Encoded, permit: OwnedSemaphorePermit) -> Option<Published> {
        let Encoded {
            user_id,
            frame,
            id_line,
            topics,
        } = encoded;
        let StreamAddr::Local(addr) = &self.addr else {
            return None;
        };
        let seq = {
            let mut seq = self.state.lock_seq();
            if seq.closed || !addr.connected() {
                return None;
            }
            if let Some(id) = &user_id
                && self.state.replay_limit > 0
            {
                let window = self.state.replay_limit as u64;
                let next = seq.last + 1;
                if let Some(first) = seq.recent.find(id, next, window) {
                    return Some(Published {
                        id: id.clone(),
                        seq: first,
                        duplicate: true,
                    });
                }
                seq.recent.insert(id.clone(), next);
            }
            seq.last += 1;
            // Read under the lock, so publication times follow the order.
            let event = LocalEvent {
                seq: seq.last,
                user_id: user_id.clone(),
                frame,
                id_line,
                published: self.state.clock.now(),
                topics,
            };
            addr.do_send(Publish { event, permit });
            seq.last
        };
        self.state
            .counters
            .published
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = user_id.unwrap_or_else(|| ids::generated(&self.state.epoch, seq));
        Some(Published {
            id,
            seq,
            duplicate: false,
        })
    }
}

fn incoming(
    event: BackplaneEvent,
    now: std::time::Instant,
    unix_now: std::time::Duration,
) -> Incoming {
    Incoming {
        id: event.id,
        own_id: event.own_id,
        published: event.id.published_at(now, unix_now),
        frame: event.frame,
        topics: event.topics,
    }
}

/// Publishes through `backplane`; the event's own id and topics ride
/// beside it, and the own id is its wire id, else the backplane's global id
/// is.
pub(crate) async fn publish_global(
    backplane: &dyn Backplane,
    encoder: &Encoder,
    stream: &str,
    max_retry: Duration,
    mut event: Event,
    topics: Option<Arc<Topics>>,
) -> Result<Published, PublishError> {
    check(&event, max_retry, None)?;
    if event
        .id
        .as_deref()
        .is_some_and(|id| id.parse::<GlobalId>().is_ok())
    {
        return Err(PublishError::InvalidId(InvalidId::GlobalForm));
    }
    let own_id = event.id.take();
    let frame = encoder.encode(&event)?;
    let appended = backplane
        .publish(stream, frame, own_id.clone(), topics)
        .await?;
    Ok(Published {
        id: own_id.unwrap_or_else(|| ByteString::from(appended.id.to_string())),
        seq: 0,
        duplicate: appended.duplicate,
    })
}

/// Why an event was refused before it was published.
enum Refusal {
    Encode(sse_proto::EncodeError),
    Id(InvalidId),
    RetryTooLong { retry: Duration, max: Duration },
}

impl From<sse_proto::EncodeError> for Refusal {
    fn from(error: sse_proto::EncodeError) -> Self {
        Refusal::Encode(error)
    }
}

impl From<Refusal> for PublishError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Encode(error) => PublishError::Encode(error),
            Refusal::Id(error) => PublishError::InvalidId(error),
            Refusal::RetryTooLong { retry, max } => PublishError::RetryTooLong { retry, max },
        }
    }
}

impl From<Refusal> for TryPublishError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Encode(error) => TryPublishError::Encode(error),
            Refusal::Id(error) => TryPublishError::InvalidId(error),
            Refusal::RetryTooLong { retry, max } => TryPublishError::RetryTooLong { retry, max },
        }
    }
}

/// Refuses an event whose retry is too long or whose own id a client could
/// not resume after; on one node (with the stream's `epoch`) also an id of
/// the generated form, which could name two events.
fn check(event: &Event, max_retry: Duration, epoch: Option<&str>) -> Result<(), Refusal> {
    if let Some(retry) = event.retry
        && retry > max_retry
    {
        return Err(Refusal::RetryTooLong {
            retry,
            max: max_retry,
        });
    }
    if let Some(id) = &event.id {
        ids::check_publisher_id(id).map_err(Refusal::Id)?;
        if let Some(epoch) = epoch
            && ids::parse_generated(epoch, id).is_some()
        {
            return Err(Refusal::Id(InvalidId::GeneratedForm {
                epoch: epoch.to_owned(),
            }));
        }
    }
    Ok(())
}

/// An event encoded for a local stream.
struct Encoded {
    user_id: Option<ByteString>,
    frame: Bytes,
    /// Bytes of the leading `id:` line when the event has its own id.
    id_line: usize,
    topics: Option<Arc<Topics>>,
}

/// Encodes outside any lock and actor, so publishers share the encoding work
/// and invalid events fail at the caller. Events without an id are encoded
/// without one; the stream actor prefixes their sequence number. An event's
/// own id leads its frame, so a transport can swap it for one of its own
/// ([`Delivery::without_id`](crate::Delivery::without_id)): the encoder
/// writes a comment first, so it is moved after the id line. The event is
/// only borrowed, so a publish that must try another stream (a retired one
/// created again) encodes it again without a copy.
fn encode(
    state: &StreamState,
    event: &Event,
    topics: Option<Arc<Topics>>,
) -> Result<Encoded, Refusal> {
    check(event, state.max_retry, Some(&state.epoch))?;
    let frame = state.encoder.encode(event)?;
    let Some(user_id) = &event.id else {
        return Ok(Encoded {
            user_id: None,
            frame,
            id_line: 0,
            topics,
        });
    };
    // `id: ID\n`, or `id:\n` when empty (the encoder's field rule).
    let id_line = if user_id.is_empty() {
        4
    } else {
        5 + user_id.len()
    };
    let frame = match &event.comment {
        None => frame,
        Some(comment) => {
            let comment = Encoder::comment(comment).len();
            let id_end = comment + id_line;
            let mut out = BytesMut::with_capacity(frame.len());
            out.put_slice(&frame[comment..id_end]);
            out.put_slice(&frame[..comment]);
            out.put_slice(&frame[id_end..]);
            out.freeze()
        }
    };
    debug_assert!(frame.starts_with(b"id:") && frame.get(id_line - 1) == Some(&b'\n'));
    Ok(Encoded {
        user_id: Some(user_id.clone()),
        frame,
        id_line,
        topics,
    })
}

impl std::fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamHandle")
            .field("name", &self.state.name)
            .field("removed", &self.is_removed())
            .finish_non_exhaustive()
    }
}
