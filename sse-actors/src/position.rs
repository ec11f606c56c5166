//! Where an event sits in its stream: what a subscriber resumes after.

use crate::backplane::GlobalId;

/// An event's place in its stream's order. A subscriber resumes exactly
/// after one ([`SubscribeRequest::after`](crate::SubscribeRequest::after))
/// whatever the event's wire id was: a transport serving several streams
/// on one connection keeps one per stream and rewrites the ids.
///
/// Every event of a stream has a later position than the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Position {
    /// One node: the event's sequence number
    /// ([`Published::seq`](crate::Published::seq)); `Seq(0)` is before the
    /// first event.
    Seq(u64),
    /// With a [backplane](crate::Backplane): the event's id in the shared
    /// log; `GlobalId::default()` is before every event.
    Global(GlobalId),
}
