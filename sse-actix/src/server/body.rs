//! The response body: a subscriber's frames, plus the bookkeeping that must
//! end exactly when the connection does.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_util::Stream;
use sse_actors::{EndReason, Subscription};

use crate::server::limit::ConnectionGuard;

/// Streams a subscription's frames after an optional first frame, holding a
/// connection slot. actix-web drops the body when the client goes away (or
/// the HTTP server stops), which drops the subscription (unsubscribing it)
/// and the slot.
pub(crate) struct EventBody {
    first: Option<Bytes>,
    frames: Subscription,
    _slot: ConnectionGuard,
    log: ConnectionLog,
}

impl EventBody {
    pub(crate) fn new(
        first: Option<Bytes>,
        frames: Subscription,
        slot: ConnectionGuard,
        log: ConnectionLog,
    ) -> Self {
        EventBody {
            first,
            frames,
            _slot: slot,
            log,
        }
    }
}

impl Stream for EventBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            this.log.sent += first.len() as u64;
            return Poll::Ready(Some(Ok(first)));
        }
        match Pin::new(&mut this.frames).poll_next(cx) {
            Poll::Ready(Some(frame)) => {
                this.log.sent += frame.len() as u64;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.log.ended_by = Some(this.frames.end_reason());
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What the close log line reports; written once, when the body drops.
#[derive(Debug)]
pub(crate) struct ConnectionLog {
    pub(crate) stream: String,
    pub(crate) peer: String,
    pub(crate) opened: Instant,
    pub(crate) sent: u64,
    /// Set when the subscription ended on the server's side; `None` when
    /// the connection was dropped first.
    pub(crate) ended_by: Option<Option<EndReason>>,
}

impl Drop for ConnectionLog {
    fn drop(&mut self) {
        let reason = match self.ended_by {
            Some(Some(reason)) => reason.to_string(),
            Some(None) => "the subscription ended".to_owned(),
            None => {
                "the connection was dropped (client went away or HTTP server stopped)".to_owned()
            }
        };
        tracing::info!(
            stream = %self.stream,
            peer = %self.peer,
            bytes = self.sent,
            duration_ms = self.opened.elapsed().as_millis() as u64,
            "event stream closed: {reason}"
        );
    }
}
