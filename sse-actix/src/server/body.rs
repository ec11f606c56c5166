//! The response body: a subscriber's frames, plus the bookkeeping that must
//! end exactly when the connection does.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use sse_actors::{Delivery, EndReason, Subscription};

use crate::server::latency::{LatencyProbe, live_published};
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
    latency: LatencyProbe,
}

impl EventBody {
    pub(crate) fn new(
        first: Option<Bytes>,
        frames: Subscription,
        slot: ConnectionGuard,
        log: ConnectionLog,
        latency: LatencyProbe,
    ) -> Self {
        EventBody {
            first,
            frames,
            done: false,
            _slot: slot,
            log,
            latency,
        }
    }
}

/// Bytes after which one body poll stops gathering queued frames. Frames
/// beyond it stay queued (as shared handles, not copies) for the next poll.
/// Small enough that a batch plus actix-http's write buffer (the hub flushes
/// at 4 KiB) stays within the buffer's initial 8 KiB for ordinary events.
pub(crate) const BATCH_LIMIT: usize = 3 * 1024;

impl Stream for EventBody {
    type Item = Result<Bytes, Infallible>;

    /// Every frame already queued, as one chunk: one chunk header and one
    /// copy into the connection's write buffer per wake-up instead of per
    /// event. A lone frame is passed on as is (no copy, no allocation).
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let mut gathered = Gather {
            first: this.first.take(),
            rest: None,
            oldest_live: None,
        };
        if !this.done {
            match this.frames.poll_deliveries(cx, &mut gathered, BATCH_LIMIT) {
                Poll::Ready(0) => {
                    this.done = true;
                    this.log.ended_by = Some(this.frames.end_reason());
                }
                Poll::Ready(frames) => this.log.frames += frames as u64,
                // Pending registered the waker: a frame pushed after this
                // poll wakes the connection again.
                Poll::Pending => {}
            }
        }
        let oldest_live = gathered.oldest_live;
        match gathered.into_chunk() {
            Some(chunk) => {
                this.log.sent += chunk.len() as u64;
                this.latency.chunk_written(oldest_live);
                Poll::Ready(Some(Ok(chunk)))
            }
            None if this.done => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

/// The frames of one poll: the first as it is, later ones copied after it.
struct Gather {
    first: Option<Bytes>,
    rest: Option<BytesMut>,
    /// When the first live event of the poll was published.
    oldest_live: Option<Instant>,
}

impl Extend<Delivery> for Gather {
    fn extend<I: IntoIterator<Item = Delivery>>(&mut self, deliveries: I) {
        for delivery in deliveries {
            if self.oldest_live.is_none() {
                self.oldest_live = live_published(&delivery);
            }
            let frame = delivery.frame;
            let Some(first) = &self.first else {
                self.first = Some(frame);
                continue;
            };
            self.rest
                .get_or_insert_with(|| {
                    let mut batch = BytesMut::with_capacity(first.len() + BATCH_LIMIT);
                    batch.extend_from_slice(first);
                    batch
                })
                .extend_from_slice(&frame);
        }
    }
}

impl Gather {
    fn into_chunk(self) -> Option<Bytes> {
        match self.rest {
            Some(batch) => Some(batch.freeze()),
            None => self.first,
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
    /// Frames taken from the subscription (events and keep-alives).
    pub(crate) frames: u64,
    /// Set when the subscription ended on the server's side; `None` when
    /// the connection was dropped first.
    pub(crate) ended_by: Option<Option<EndReason>>,
}

impl Drop for ConnectionLog {
    fn drop(&mut self) {
        // `end`: a stable name for log processors; the message says it in words.
        let (end, reason) = match self.ended_by {
            Some(Some(reason)) => (format!("{reason:?}"), reason.to_string()),
            Some(None) => ("Ended".to_owned(), "the subscription ended".to_owned()),
            None => (
                "ConnectionDropped".to_owned(),
                "the connection was dropped (the client went away, the HTTP server stopped, \
                 or the application ended the response)"
                    .to_owned(),
            ),
        };
        tracing::info!(
            stream = %self.stream,
            peer = %self.peer,
            end,
            frames = self.frames,
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
            frames: 0,
            ended_by: None,
        }
    }

    #[actix_web::test]
    async fn queued_frames_arrive_intact_and_in_order_in_one_chunk() {
        let server = Server::builder().arbiters(1).build();
        server.create_stream("s").await.unwrap();
        let mut ids = Vec::new();
        for i in 1..=5 {
            let published = server
                .publish("s", Event::data(format!("e{i}\nline two")))
                .await
                .unwrap();
            ids.push(published.id);
        }
        // A new subscriber is replayed the whole log: five frames are
        // queued before the body is first polled.
        let subscription = server
            .subscribe("s", SubscribeRequest::new())
            .await
            .unwrap();
        assert_eq!(subscription.queued(), 5);
        let slot = Connections::default().acquire(None).unwrap();
        let first = Encoder::comment("");
        let mut body = EventBody::new(
            Some(first.clone()),
            subscription,
            slot,
            log(),
            LatencyProbe::default(),
        );

        let chunk = body.next().await.unwrap().unwrap();
        let mut expected = first.to_vec();
        for (i, id) in (1..=5).zip(&ids) {
            expected
                .extend_from_slice(format!("id: {id}\ndata: e{i}\ndata: line two\n\n").as_bytes());
        }
        assert_eq!(
            std::str::from_utf8(&chunk).unwrap(),
            std::str::from_utf8(&expected).unwrap()
        );
        assert_eq!(body.log.sent, expected.len() as u64);
        assert_eq!(body.log.frames, 5);

        // A lone frame is passed on as it is, and the end still ends the body.
        let id = server.publish("s", Event::data("e6")).await.unwrap().id;
        let chunk = body.next().await.unwrap().unwrap();
        assert_eq!(chunk, format!("id: {id}\ndata: e6\n\n"));
        assert!(server.remove_stream("s").await);
        assert!(body.next().await.is_none());
        assert_eq!(body.log.ended_by, Some(Some(EndReason::StreamRemoved)));
        server.close().await;
    }
}
