//! The Stream actor: one stream's subscribers, event log, ids and fan-out.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use actix::{
    Actor, ActorContext, ActorState, AsyncContext, Context, Handler, Message, ResponseFuture,
    WeakAddr,
};
use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::future::join_all;
use sse_proto::Encoder;
use tokio::sync::OwnedSemaphorePermit;

use crate::backplane::{BackplaneEvent, GlobalId};
use crate::config::Resolved;
use crate::error::SubscribeError;
use crate::log::EventLog;
use crate::queue::{Item, Pushed, Queue};
use crate::server_actor::{ServerActor, StreamIdle};
use crate::stats::{Kind, Live};
use crate::stream::StreamState;
use crate::subscriber_actor::{Membership, Stop, SubscriberActor};
use crate::subscription::{EndReason, SubscribeRequest, SubscriberInfo, Subscription};

/// One accepted event, encoded, holding its buffer slot until fanned out.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Publish {
    pub(crate) seq: u64,
    pub(crate) user_id: Option<ByteString>,
    pub(crate) frame: Bytes,
    pub(crate) published: Instant,
    pub(crate) permit: OwnedSemaphorePermit,
}

/// Fans out the events accepted since the last fan-out (sent to itself).
#[derive(Message)]
#[rtype(result = "()")]
struct FanOutPending;

/// One event read from the backplane, encoded without an `id:` line.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Deliver {
    pub(crate) id: GlobalId,
    pub(crate) frame: Bytes,
    pub(crate) published: Instant,
}

/// Adds a subscriber.
#[derive(Message)]
#[rtype(result = "Result<Subscription, SubscribeError>")]
pub(crate) struct Subscribe {
    pub(crate) request: SubscribeRequest,
    /// With a backplane: the Last-Event-ID as a global id, and the events
    /// the backplane holds after it (read before this message was sent).
    pub(crate) backfill: Option<(GlobalId, Vec<BackplaneEvent>)>,
}

/// A subscriber actor stopped: forget its record.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Detach(pub(crate) u64);

/// Ends every subscription and stops the stream; answers once every
/// subscriber actor has handled its stop.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown(pub(crate) EndReason);

/// The stream's view of one subscriber.
struct Record {
    queue: Arc<Queue>,
    actor: actix::Addr<SubscriberActor>,
    /// Backplane only: the newest id this subscriber was replayed; live
    /// events up to it are skipped, as it already has them.
    replayed_to: Option<GlobalId>,
    _live: Live,
}

pub(crate) struct StreamActor {
    state: Arc<StreamState>,
    options: Resolved,
    subscribers: HashMap<u64, Record>,
    log: Option<EventLog>,
    keep_alive: Bytes,
    server: WeakAddr<ServerActor>,
    /// Why subscriptions end if the actor is dropped without a `Shutdown`
    /// (its arbiter stopped).
    ending: Option<EndReason>,
    /// Backplane only: the newest event delivered, so a repeated delivery
    /// (after the backplane reconnects) is dropped.
    last_delivered: Option<GlobalId>,
    /// Records with a `replayed_to` still ahead of `last_delivered`.
    catching_up: usize,
    /// Events logged but not yet fanned out, with their buffer slots: the
    /// publications that arrived together are pushed to each subscriber
    /// under one lock and with one wake-up (see [`Handler<Publish>`]).
    pending: Vec<Item>,
    pending_permits: Vec<OwnedSemaphorePermit>,
    _live: Live,
}

impl StreamActor {
    pub(crate) fn new(
        state: Arc<StreamState>,
        options: Resolved,
        server: WeakAddr<ServerActor>,
    ) -> Self {
        let log = options
            .auto_replay
            .then(|| EventLog::new(options.log_limits));
        let _live = Live::new(&state.counters, Kind::StreamActor);
        StreamActor {
            state,
            options,
            subscribers: HashMap::new(),
            log,
            keep_alive: Encoder::comment("keep-alive"),
            server,
            ending: None,
            last_delivered: None,
            catching_up: 0,
            pending: Vec::new(),
            pending_permits: Vec::new(),
            _live,
        }
    }

    fn remove(&mut self, id: u64, reason: EndReason, ctx: &mut Context<Self>) {
        if let Some(record) = self.subscribers.remove(&id) {
            if record.replayed_to.is_some() {
                self.catching_up -= 1;
            }
            record.queue.close(reason);
            record.actor.do_send(Stop(reason));
            self.after_removal(ctx);
        }
    }

    /// Publishes the subscriber count; retires an idle auto-created stream
    /// that keeps no log (nothing would be lost by removing it).
    fn after_removal(&mut self, ctx: &mut Context<Self>) {
        self.state
            .subscribers
            .store(self.subscribers.len(), Ordering::Release);
        if self.subscribers.is_empty() && self.state.auto_created && self.log.is_none() {
            self.state.close();
            self.ending = Some(EndReason::StreamRemoved);
            if let Some(server) = self.server.upgrade() {
                server.do_send(StreamIdle {
                    name: Arc::clone(&self.state.name),
                    instance: self.state.instance,
                });
            }
            ctx.stop();
        }
    }

    /// Fans out the pending events. Every handler that changes who gets
    /// what (subscribe, backplane delivery, keep-alive, shutdown) calls this
    /// first, so each event reaches exactly the subscribers it would have
    /// reached if fanned out on arrival: no replayed event is pushed again.
    fn fan_out_pending(&mut self, ctx: &mut Context<Self>) {
        if self.pending.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.pending);
        self.fan_out(&items, ctx);
        // Reuse the allocation for the next batch.
        self.pending = items;
        self.pending.clear();
        // The buffer slots free once their events are fanned out.
        self.pending_permits.clear();
    }

    /// Pushes `items` to every subscriber; records the ones that are gone.
    fn fan_out(&mut self, items: &[Item], ctx: &mut Context<Self>) {
        let before = self.subscribers.len();
        let counters = &self.state.counters;
        self.subscribers.retain(
            |_, record| match record.queue.push_all(items.iter().cloned()) {
                Pushed::Queued | Pushed::DroppedOldest => true,
                Pushed::Lagged => {
                    counters.lagged.fetch_add(1, Ordering::Relaxed);
                    record.actor.do_send(Stop(EndReason::Lagged));
                    false
                }
                Pushed::Closed => {
                    record.actor.do_send(Stop(EndReason::Unsubscribed));
                    false
                }
            },
        );
        if self.subscribers.len() != before {
            self.after_removal(ctx);
        }
    }

    /// Like [`fan_out`](Self::fan_out), for a backplane event `id`: skips
    /// the subscribers that were already replayed past it.
    fn fan_out_global(&mut self, item: &Item, id: GlobalId, ctx: &mut Context<Self>) {
        if self.catching_up == 0 {
            return self.fan_out(std::slice::from_ref(item), ctx);
        }
        let before = self.subscribers.len();
        let counters = &self.state.counters;
        self.subscribers.retain(|_, record| {
            if let Some(replayed_to) = record.replayed_to {
                if id <= replayed_to {
                    return true;
                }
                record.replayed_to = None;
            }
            match record.queue.push(item.clone()) {
                Pushed::Queued | Pushed::DroppedOldest => true,
                Pushed::Lagged => {
                    counters.lagged.fetch_add(1, Ordering::Relaxed);
                    record.actor.do_send(Stop(EndReason::Lagged));
                    false
                }
                Pushed::Closed => {
                    record.actor.do_send(Stop(EndReason::Unsubscribed));
                    false
                }
            }
        });
        let still = self
            .subscribers
            .values()
            .filter(|r| r.replayed_to.is_some())
            .count();
        self.catching_up = still;
        if self.subscribers.len() != before {
            self.after_removal(ctx);
        }
    }

    fn send_keep_alive(&mut self, ctx: &mut Context<Self>) {
        self.fan_out_pending(ctx);
        let before = self.subscribers.len();
        let frame = &self.keep_alive;
        self.subscribers
            .retain(|_, record| match record.queue.push_keep_alive(frame) {
                Pushed::Closed => {
                    record.actor.do_send(Stop(EndReason::Unsubscribed));
                    false
                }
                _ => true,
            });
        if self.subscribers.len() != before {
            self.after_removal(ctx);
        }
        if let Some(log) = &mut self.log {
            log.evict(Instant::now());
            self.state.mirror_log(log);
        }
    }
}

impl Actor for StreamActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some(every) = self.options.keep_alive {
            ctx.run_interval(every, |actor, ctx| actor.send_keep_alive(ctx));
        }
    }
}

impl Drop for StreamActor {
    fn drop(&mut self) {
        let reason = self.ending.unwrap_or(EndReason::ServerClosed);
        self.state.close();
        for record in self.subscribers.values() {
            record.queue.close(reason);
        }
    }
}

/// Logs the event at once (its id and replay position are fixed on arrival)
/// and leaves the fan-out to a [`FanOutPending`] that runs after every
/// message already in the mailbox: when publishers outpace the fan-out, the
/// events that queued up meanwhile go out together, one lock and one wake-up
/// per subscriber instead of one per event. An event alone goes out as soon
/// as its handler returns.
impl Handler<Publish> for StreamActor {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) {
        let (id, frame) = match msg.user_id {
            Some(id) => (id, msg.frame),
            None => with_seq_id(msg.seq, &msg.frame),
        };
        if let Some(log) = &mut self.log {
            log.add(msg.seq, id, frame.clone(), msg.published);
            self.state.mirror_log(log);
        }
        self.pending.push(Item {
            frame,
            published: msg.published,
        });
        self.pending_permits.push(msg.permit);
        if ctx.state() != ActorState::Running {
            self.fan_out_pending(ctx);
        } else if self.pending.len() == 1 {
            ctx.notify(FanOutPending);
        }
    }
}

impl Handler<FanOutPending> for StreamActor {
    type Result = ();

    fn handle(&mut self, _: FanOutPending, ctx: &mut Self::Context) {
        self.fan_out_pending(ctx);
    }
}

impl Handler<Deliver> for StreamActor {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) {
        self.fan_out_pending(ctx);
        if self.last_delivered.is_some_and(|last| msg.id <= last) {
            return;
        }
        self.last_delivered = Some(msg.id);
        let seq = {
            let mut seq = self.state.lock_seq();
            seq.last += 1;
            seq.last
        };
        let (id, frame) = with_global_id(msg.id, &msg.frame);
        if let Some(log) = &mut self.log {
            log.add(seq, id, frame.clone(), msg.published);
            self.state.mirror_log(log);
        }
        let item = Item {
            frame,
            published: msg.published,
        };
        self.fan_out_global(&item, msg.id, ctx);
    }
}

fn with_global_id(id: GlobalId, frame: &Bytes) -> (ByteString, Bytes) {
    let id = ByteString::from(id.to_string());
    let mut out = BytesMut::with_capacity(frame.len() + id.len() + 5);
    out.put_slice(b"id: ");
    out.put_slice(id.as_bytes());
    out.put_u8(b'\n');
    out.put_slice(frame);
    (id, out.freeze())
}

/// What a subscriber resuming from `after` is replayed: the backplane's
/// events after it, then the ones this node delivered since the backplane
/// was read. Answers the frames and the newest id among them.
fn backfill(
    after: GlobalId,
    events: Vec<BackplaneEvent>,
    log: Option<&EventLog>,
    ttl: Option<std::time::Duration>,
    now: Instant,
) -> (Vec<Item>, GlobalId) {
    let fresh =
        |published: Instant| ttl.is_none_or(|ttl| now.saturating_duration_since(published) <= ttl);
    let mut newest = after;
    let mut items = Vec::with_capacity(events.len());
    for event in events {
        if event.id <= newest {
            continue;
        }
        newest = event.id;
        let published = event.id.published();
        if fresh(published) {
            items.push(Item {
                frame: with_global_id(event.id, &event.frame).1,
                published,
            });
        }
    }
    if let Some(log) = log {
        for (id, item) in log.entries() {
            let Ok(id) = id.parse::<GlobalId>() else {
                continue;
            };
            if id > newest {
                newest = id;
                if fresh(item.published) {
                    items.push(item.clone());
                }
            }
        }
    }
    (items, newest)
}

/// `id: <seq>` followed by the event's encoding (field order within an
/// event does not matter to receivers).
fn with_seq_id(seq: u64, frame: &Bytes) -> (ByteString, Bytes) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(seq);
    let mut out = BytesMut::with_capacity(frame.len() + digits.len() + 5);
    out.put_slice(b"id: ");
    out.put_slice(digits.as_bytes());
    out.put_u8(b'\n');
    out.put_slice(frame);
    (ByteString::from(digits), out.freeze())
}

impl Handler<Subscribe> for StreamActor {
    type Result = Result<Subscription, SubscribeError>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Self::Context) -> Self::Result {
        self.fan_out_pending(ctx);
        let name = &self.state.name;
        if self.ending.is_some() || self.state.is_closed() {
            return Err(SubscribeError::StreamRemoved {
                stream: name.to_string(),
            });
        }
        if let Some(limit) = self.options.max_subscribers
            && self.subscribers.len() >= limit
        {
            return Err(SubscribeError::TooManySubscribers {
                stream: name.to_string(),
                limit,
            });
        }
        let counters = &self.state.counters;
        let SubscribeRequest {
            last_event_id,
            label,
        } = msg.request;
        let backfill_from = msg.backfill;
        let info = Arc::new(SubscriberInfo {
            id: counters.next_subscriber_id(),
            stream: Arc::clone(name),
            last_event_id,
            label,
        });
        let queue = Arc::new(Queue::new(
            self.options.subscriber_queue,
            self.options.slow_subscriber,
            counters,
        ));
        let mut replayed_to = None;
        if let Some((after, events)) = backfill_from {
            let now = Instant::now();
            if let Some(log) = &mut self.log {
                log.evict(now);
            }
            let (items, newest) = backfill(
                after,
                events,
                self.log.as_ref(),
                self.options.event_ttl,
                now,
            );
            queue.push_replay(items.into_iter());
            if self.last_delivered.is_none_or(|last| newest > last) {
                replayed_to = Some(newest);
                self.catching_up += 1;
            }
        } else if let Some(log) = &mut self.log {
            let now = Instant::now();
            log.evict(now);
            queue.push_replay(log.replay(
                info.last_event_id.as_deref(),
                self.options.event_ttl,
                now,
            ));
        }
        let membership = Membership::join(Arc::clone(&info), Arc::clone(&self.options.callbacks));
        let actor = SubscriberActor {
            queue: Arc::clone(&queue),
            stream: ctx.address().downgrade(),
            membership,
            _live: Live::new(counters, Kind::SubscriberActor),
        }
        .start();
        self.subscribers.insert(
            info.id,
            Record {
                queue: Arc::clone(&queue),
                actor: actor.clone(),
                replayed_to,
                _live: Live::new(counters, Kind::SubscriberRecord),
            },
        );
        self.state
            .subscribers
            .store(self.subscribers.len(), Ordering::Release);
        Ok(Subscription {
            queue,
            actor,
            info,
            ttl: self.options.event_ttl,
        })
    }
}

impl Handler<Detach> for StreamActor {
    type Result = ();

    fn handle(&mut self, Detach(id): Detach, ctx: &mut Self::Context) {
        self.remove(id, EndReason::Unsubscribed, ctx);
    }
}

impl Handler<Shutdown> for StreamActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, Shutdown(reason): Shutdown, ctx: &mut Self::Context) -> Self::Result {
        self.fan_out_pending(ctx);
        self.state.close();
        self.ending.get_or_insert(reason);
        let stops: Vec<_> = self
            .subscribers
            .drain()
            .map(|(_, record)| {
                record.queue.close(reason);
                record.actor.send(Stop(reason))
            })
            .collect();
        self.state.subscribers.store(0, Ordering::Release);
        self.catching_up = 0;
        if let Some(log) = &mut self.log {
            log.clear();
            self.state.mirror_log(log);
        }
        ctx.stop();
        Box::pin(async move {
            join_all(stops).await;
        })
    }
}
