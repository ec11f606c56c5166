//! The response body: a subscriber's frames, plus the bookkeeping that must
//! end exactly when the connection does.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
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
    /// The subscription ended (it is not polled again).
    done: bool,
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
            done: false,
            _slot: slot,
            log,
        }
    }
}

/// Bytes after which one body poll stops gathering queued frames. Frames
/// beyond it stay queued (as shared handles, not copies) for the next poll.
/// Small enough that a batch plus actix-http's write buffer (the hub flushes
/// at 4 KiB) stays within the buffer's initial 8 KiB for ordinary events.
const BATCH_LIMIT: usize = 3 * 1024;

impl EventBody {
    /// The next frame from the subscription, or `None` at its end (noting
    /// why) or while nothing is queued.
    fn next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.frames).poll_next(cx) {
            Poll::Ready(None) => {
                self.done = true;
                self.log.ended_by = Some(self.frames.end_reason());
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

impl Stream for EventBody {
    type Item = Result<Bytes, Infallible>;

    /// Every frame already queued, as one chunk: one chunk header and one
    /// copy into the connection's write buffer per wake-up instead of per
    /// event. A lone frame is passed on as is (no copy, no allocation).
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let head = match this.first.take() {
            Some(first) => first,
            None => match this.next_frame(cx) {
                Poll::Ready(Some(frame)) => frame,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            },
        };
        let mut batch: Option<BytesMut> = None;
        let mut len = head.len();
        while len < BATCH_LIMIT {
            // Pending registers the waker, so a frame pushed after this poll
            // wakes the connection again; the end is yielded on the next poll.
            let Poll::Ready(Some(frame)) = this.next_frame(cx) else {
                break;
            };
            len += frame.len();
            let queued = this.frames.queued();
            let batch = batch.get_or_insert_with(|| {
                let guess = len + queued * frame.len();
                let mut batch = BytesMut::with_capacity(guess.min(BATCH_LIMIT + frame.len()));
                batch.extend_from_slice(&head);
                batch
            });
            batch.extend_from_slice(&frame);
        }
        this.log.sent += len as u64;
        Poll::Ready(Some(Ok(match batch {
            Some(batch) => batch.freeze(),
            None => head,
        })))
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

#[cfg(test)]
mod tests {
    use futures_util::StreamExt as _;
    use sse_actors::{Server, SubscribeRequest};
    use sse_proto::{Encoder, Event};

    use super::*;
    use crate::server::limit::Connections;

    fn log() -> ConnectionLog {
        ConnectionLog {
            stream: "s".to_owned(),
            peer: "test".to_owned(),
            opened: Instant::now(),
            sent: 0,
            ended_by: None,
        }
    }

    #[actix_web::test]
    async fn queued_frames_arrive_intact_and_in_order_in_one_chunk() {
        let server = Server::builder().arbiters(1).build();
        server.create_stream("s").await.unwrap();
        for i in 1..=5 {
            server
                .publish("s", Event::data(format!("e{i}\nline two")))
                .await
                .unwrap();
        }
        // An unknown Last-Event-ID replays the whole log: five frames are
        // queued before the body is first polled.
        let subscription = server
            .subscribe("s", SubscribeRequest::new().last_event_id("unknown"))
            .await
            .unwrap();
        assert_eq!(subscription.queued(), 5);
        let slot = Connections::default().acquire(None).unwrap();
        let first = Encoder::comment("");
        let mut body = EventBody::new(Some(first.clone()), subscription, slot, log());

        let chunk = body.next().await.unwrap().unwrap();
        let mut expected = first.to_vec();
        for i in 1..=5 {
            expected
                .extend_from_slice(format!("id: {i}\ndata: e{i}\ndata: line two\n\n").as_bytes());
        }
        assert_eq!(
            std::str::from_utf8(&chunk).unwrap(),
            std::str::from_utf8(&expected).unwrap()
        );
        assert_eq!(body.log.sent, expected.len() as u64);

        // A lone frame is passed on as it is, and the end still ends the body.
        server.publish("s", Event::data("e6")).await.unwrap();
        let chunk = body.next().await.unwrap().unwrap();
        assert_eq!(&chunk[..], b"id: 6\ndata: e6\n\n");
        assert!(server.remove_stream("s").await);
        assert!(body.next().await.is_none());
        assert_eq!(body.log.ended_by, Some(Some(EndReason::StreamRemoved)));
        server.close().await;
    }
}
