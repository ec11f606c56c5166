//! The Subscriber actor: one consumer's lifecycle and callbacks.
//!
//! Deliveries never go through its mailbox (the stream pushes straight into
//! the shared queue); it exists so that every way a subscriber can end —
//! the consumer dropping it, the stream going away, falling behind, the
//! arbiter stopping — converges on one owner whose drop fires
//! `on_unsubscribe` exactly once and detaches it from its stream.

use std::sync::Arc;

use actix::{Actor, ActorContext, Context, Handler, Message, WeakRecipient};

use crate::config::Callbacks;
use crate::queue::Queue;
use crate::stats::Live;
use crate::stream_actor::Detach;
use crate::subscription::{EndReason, SubscriberInfo};

/// Ends a subscriber.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Stop(pub(crate) EndReason);

pub(crate) struct SubscriberActor {
    pub(crate) queue: Arc<Queue>,
    pub(crate) stream: WeakRecipient<Detach>,
    pub(crate) membership: Membership,
    pub(crate) live: Live,
}

impl Actor for SubscriberActor {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.queue.close(EndReason::Unsubscribed);
        // The first reason the queue was closed with is the end's reason;
        // an actor stops once, so each end is counted once.
        if let Some(reason) = self.queue.end_reason() {
            self.live.counters().count_end(reason);
        }
        if let Some(stream) = self.stream.upgrade() {
            stream.do_send(Detach(self.membership.info.id));
        }
    }
}

impl Handler<Stop> for SubscriberActor {
    type Result = ();

    fn handle(&mut self, Stop(reason): Stop, ctx: &mut Self::Context) {
        self.queue.close(reason);
        ctx.stop();
    }
}

/// Proof of one subscription: created when the subscriber joins (firing
/// `on_subscribe`), dropped when it leaves (firing `on_unsubscribe`).
pub(crate) struct Membership {
    pub(crate) info: Arc<SubscriberInfo>,
    callbacks: Arc<Callbacks>,
}

impl Membership {
    pub(crate) fn join(info: Arc<SubscriberInfo>, callbacks: Arc<Callbacks>) -> Self {
        for f in callbacks.on_subscribe.iter().flatten() {
            f(&info.stream, &info);
        }
        Membership { info, callbacks }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        for f in self.callbacks.on_unsubscribe.iter().flatten() {
            f(&self.info.stream, &self.info);
        }
    }
}
