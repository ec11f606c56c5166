//! The Stream actor: drives one stream's [`StreamCore`] on its arbiter.
//!
//! It turns messages into core calls with the time read from the server's
//! clock, carries out the core's effects (ending subscriber actors,
//! retiring the stream) and runs its timers. The stream's logic is all in
//! the core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::dev::Request;
use actix::fut::{ActorFutureExt as _, WrapFuture as _};
use actix::{
    Actor, ActorContext, ActorState, AsyncContext, Context, Handler, Message, ResponseFuture,
    SpawnHandle, WeakAddr,
};
use bytestring::ByteString;
use futures_util::future::join_all;
use tokio::sync::OwnedSemaphorePermit;

use crate::clock::Clock;
use crate::config::Callbacks;
use crate::error::SubscribeError;
use crate::queue::Drain;
use crate::sequencing::{Global, Incoming, Local, LocalEvent, Sequencing};
use crate::server_actor::{ServerActor, StreamIdle};
use crate::stats::{Kind, Live};
use crate::stream::StreamState;
use crate::stream_core::{Effect, StreamCore};
use crate::subscriber_actor::{Membership, Stop, SubscriberActor};
use crate::subscription::{EndReason, SubscribeRequest, SubscriberInfo, Subscription};

/// One accepted event, encoded, holding its buffer slot until fanned out.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Publish {
    pub(crate) event: LocalEvent,
    pub(crate) permit: OwnedSemaphorePermit,
}

/// One event read from the backplane, holding its buffer slot until
/// fanned out.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Deliver {
    pub(crate) event: Incoming,
    pub(crate) permit: OwnedSemaphorePermit,
}

/// Fans out the events taken since the last fan-out (sent to itself).
#[derive(Message)]
#[rtype(result = "()")]
struct FanOutPending;

/// Adds a subscriber, with what the stream's [`Sequencing`] needs to
/// replay it.
pub(crate) struct Subscribe<B> {
    pub(crate) request: SubscribeRequest,
    pub(crate) backfill: B,
}

impl<B> Message for Subscribe<B> {
    type Result = Result<Subscription, SubscribeError>;
}

/// The memory budget claimed logged events of this stream: drop them.
#[derive(Message)]
#[rtype(result = "()")]
struct DropClaimed;

/// A subscriber actor stopped: forget its record.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Detach(pub(crate) u64);

/// Picks the subscribers a [`Kick`] ends.
pub(crate) type Chooser = Arc<dyn Fn(&SubscriberInfo) -> bool + Send + Sync>;

/// Ends the subscribers the chooser picks; answers how many, once each has
/// handled its stop.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct Kick(pub(crate) Chooser);

/// Answers the wire id of the newest event the stream holds.
#[derive(Message)]
#[rtype(result = "Option<ByteString>")]
pub(crate) struct NewestId;

/// Ends every subscription and stops the stream; answers once every
/// subscriber actor has handled its stop. `drain` watches what the
/// subscribers are still owed.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown {
    pub(crate) reason: EndReason,
    pub(crate) drain: Option<Arc<Drain>>,
}

pub(crate) struct StreamActor<S: Sequencing> {
    /// Its records keep weak addresses: a subscriber actor lives as long
    /// as its `Subscription` (which stops it when dropped) or its own stop.
    core: StreamCore<S, WeakAddr<SubscriberActor>>,
    state: Arc<StreamState>,
    callbacks: Arc<Callbacks>,
    keep_alive: Option<Duration>,
    ttl: Option<Duration>,
    server: WeakAddr<ServerActor>,
    /// Buffer slots of the events taken and not yet fanned out.
    permits: Vec<OwnedSemaphorePermit>,
    /// The core's timeout, and the future that calls it back.
    timer: Option<(Instant, SpawnHandle)>,
    _live: Live,
}

/// What a stream actor is started with besides its core.
pub(crate) struct Driving {
    pub(crate) state: Arc<StreamState>,
    pub(crate) callbacks: Arc<Callbacks>,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) server: WeakAddr<ServerActor>,
}

impl<S: Sequencing> StreamActor<S> {
    pub(crate) fn new(core: StreamCore<S, WeakAddr<SubscriberActor>>, driving: Driving) -> Self {
        let Driving {
            state,
            callbacks,
            keep_alive,
            ttl,
            server,
        } = driving;
        let _live = Live::new(&state.counters, Kind::StreamActor);
        StreamActor {
            core,
            state,
            callbacks,
            keep_alive,
            ttl,
            server,
            permits: Vec::new(),
            timer: None,
            _live,
        }
    }

    fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// Carries out what the core asks, mirrors its counters for the
    /// handles, and sets its timer.
    fn apply(&mut self, ctx: &mut Context<Self>) {
        self.carry_out(ctx, None);
    }

    /// [`apply`](Self::apply), answering the stops to await (each resolves
    /// once its subscriber actor handled it).
    fn apply_awaiting(&mut self, ctx: &mut Context<Self>) -> Vec<Request<SubscriberActor, Stop>> {
        let mut stops = Vec::new();
        self.carry_out(ctx, Some(&mut stops));
        stops
    }

    fn carry_out(
        &mut self,
        ctx: &mut Context<Self>,
        mut awaited: Option<&mut Vec<Request<SubscriberActor, Stop>>>,
    ) {
        while let Some(effect) = self.core.poll_effect() {
            match (effect, awaited.as_deref_mut()) {
                // An actor already gone has nothing left to stop.
                (Effect::End { subscriber, reason }, Some(stops)) => {
                    if let Some(subscriber) = subscriber.upgrade() {
                        stops.push(subscriber.send(Stop(reason)));
                    }
                }
                (Effect::End { subscriber, reason }, None) => {
                    if let Some(subscriber) = subscriber.upgrade() {
                        subscriber.do_send(Stop(reason));
                    }
                }
                (Effect::Retire, _) => self.retire(ctx),
            }
        }
        if self.core.pending() == 0 {
            // The buffer slots free once their events are fanned out.
            self.permits.clear();
        }
        self.mirror();
        self.arm_timer(ctx);
    }

    fn mirror(&self) {
        self.state
            .mirror(self.core.subscribers(), self.core.logged());
    }

    fn retire(&mut self, ctx: &mut Context<Self>) {
        self.state.close();
        if let Some(server) = self.server.upgrade() {
            server.do_send(StreamIdle {
                name: Arc::clone(&self.state.name),
                instance: self.state.instance,
            });
        }
        ctx.stop();
    }

    fn arm_timer(&mut self, ctx: &mut Context<Self>) {
        let next = self.core.next_timeout();
        if self.timer.as_ref().map(|(at, _)| *at) == next {
            return;
        }
        if let Some((_, handle)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        if let Some(at) = next {
            let fire = self
                .clock()
                .sleep_until(at)
                .into_actor(self)
                .map(|(), actor, ctx| {
                    actor.timer = None;
                    let now = actor.clock().now();
                    actor.core.on_timeout(now);
                    actor.apply(ctx);
                });
            self.timer = Some((at, ctx.spawn(fire)));
        }
    }

    fn fan_out(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock().now();
        self.core.fan_out(now);
        self.apply(ctx);
    }

    /// The fan-out of an event waits for a [`FanOutPending`] that runs after
    /// every message already in the mailbox: when publishers outpace the
    /// fan-out, the events that queued up meanwhile go out together, one
    /// lock and one wake-up per subscriber instead of one per event. An
    /// event alone goes out as soon as its handler returns.
    fn took(&mut self, ctx: &mut Context<Self>) {
        self.mirror();
        if ctx.state() != ActorState::Running {
            self.fan_out(ctx);
        } else if self.core.pending() == 1 {
            ctx.notify(FanOutPending);
        }
    }
}

impl<S: Sequencing> Actor for StreamActor<S> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some(every) = self.keep_alive {
            ctx.run_interval(every, |actor, ctx| {
                let now = actor.clock().now();
                actor.core.keep_alive(now);
                actor.apply(ctx);
            });
        }
        self.arm_timer(ctx);
        if let Some(account) = self.core.log_account() {
            let actor = ctx.address().downgrade();
            account.on_claim(move || {
                if let Some(actor) = actor.upgrade() {
                    actor.do_send(DropClaimed);
                }
            });
        }
    }
}

impl<S: Sequencing> Handler<DropClaimed> for StreamActor<S> {
    type Result = ();

    fn handle(&mut self, _: DropClaimed, ctx: &mut Self::Context) {
        let now = self.clock().now();
        self.core.evict(now);
        self.apply(ctx);
    }
}

impl<S: Sequencing> Drop for StreamActor<S> {
    /// Dropped without a shutdown (its arbiter stopped): the core ends the
    /// subscriptions; publishers are refused from now on.
    fn drop(&mut self) {
        self.state.close();
    }
}

impl Handler<Publish> for StreamActor<Local> {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) {
        self.core.accept(msg.event);
        self.permits.push(msg.permit);
        self.took(ctx);
    }
}

impl Handler<Deliver> for StreamActor<Global> {
    type Result = ();

    fn handle(&mut self, Deliver { event, permit }: Deliver, ctx: &mut Self::Context) {
        if self.core.accept(event) {
            self.permits.push(permit);
            // What this node delivered of the stream (publishers here take
            // no sequence numbers: the backplane orders events).
            self.state.lock_seq().last += 1;
            self.took(ctx);
        }
    }
}

impl<S: Sequencing> Handler<FanOutPending> for StreamActor<S> {
    type Result = ();

    fn handle(&mut self, _: FanOutPending, ctx: &mut Self::Context) {
        self.fan_out(ctx);
    }
}

impl<S: Sequencing> Handler<Subscribe<S::Backfill>> for StreamActor<S> {
    type Result = Result<Subscription, SubscribeError>;

    fn handle(&mut self, msg: Subscribe<S::Backfill>, ctx: &mut Self::Context) -> Self::Result {
        if self.state.is_closed() {
            return Err(SubscribeError::StreamRemoved {
                stream: self.state.name.to_string(),
            });
        }
        let now = self.clock().now();
        let stream = ctx.address().downgrade().recipient();
        let callbacks = Arc::clone(&self.callbacks);
        let counters = Arc::clone(&self.state.counters);
        let joined = self
            .core
            .subscribe(msg.request, msg.backfill, now, |queue, info| {
                let actor = SubscriberActor {
                    queue: Arc::clone(queue),
                    stream,
                    membership: Membership::join(Arc::clone(info), callbacks),
                    live: Live::new(&counters, Kind::SubscriberActor),
                }
                .start();
                (actor.downgrade(), actor)
            });
        self.apply(ctx);
        let joined = joined?;
        Ok(Subscription {
            queue: joined.queue,
            actor: joined.subscriber,
            info: joined.info,
            ttl: self.ttl,
            clock: self.state.clock.clone(),
            start: joined.start,
            start_id: joined.start_id,
            epoch: self
                .state
                .backplane
                .is_none()
                .then(|| Arc::clone(&self.state.epoch)),
        })
    }
}

impl<S: Sequencing> Handler<Detach> for StreamActor<S> {
    type Result = ();

    fn handle(&mut self, Detach(id): Detach, ctx: &mut Self::Context) {
        let now = self.clock().now();
        self.core.detach(id, now);
        self.apply(ctx);
    }
}

impl<S: Sequencing> Handler<NewestId> for StreamActor<S> {
    type Result = Option<ByteString>;

    fn handle(&mut self, _: NewestId, _: &mut Self::Context) -> Self::Result {
        let now = self.clock().now();
        self.core.newest_id(now)
    }
}

impl<S: Sequencing> Handler<Shutdown> for StreamActor<S> {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Shutdown, ctx: &mut Self::Context) -> Self::Result {
        self.state.close();
        let now = self.clock().now();
        self.core.shut_down(msg.reason, now, msg.drain.as_ref());
        let stops = self.apply_awaiting(ctx);
        ctx.stop();
        Box::pin(async move {
            join_all(stops).await;
        })
    }
}

impl<S: Sequencing> Handler<Kick> for StreamActor<S> {
    type Result = ResponseFuture<usize>;

    fn handle(&mut self, Kick(chosen): Kick, ctx: &mut Self::Context) -> Self::Result {
        let now = self.clock().now();
        let kicked = self.core.kick(|info| chosen(info), now);
        let stops = self.apply_awaiting(ctx);
        Box::pin(async move {
            join_all(stops).await;
            kicked
        })
    }
}
