//! Per-request event streams: [`SseResponse`] answers one request with the
//! events of a stream or a channel of its own, for LLM token streaming, job
//! progress or a per-user feed. No [`sse_actors::Server`] is involved.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use actix_web::{App, HttpServer, Responder, get, post, rt};
//! use futures_util::stream;
//! use sse_actix::{Event, SseResponse};
//!
//! /// A stream of events: here a fixed one, usually tokens or rows.
//! #[post("/complete")]
//! async fn complete() -> impl Responder {
//!     let tokens = ["Once", " upon", " a", " time"].map(Event::data);
//!     SseResponse::from_stream(stream::iter(tokens))
//! }
//!
//! /// A channel fed by a task: `send` fails once the client has gone.
//! #[get("/progress")]
//! async fn progress() -> impl Responder {
//!     let (events, response) = SseResponse::channel(8);
//!     rt::spawn(async move {
//!         for percent in (0..=100).step_by(10) {
//!             if events.send(Event::new("progress", percent.to_string())).await.is_err() {
//!                 return; // the client left: stop working
//!             }
//!             rt::time::sleep(Duration::from_millis(100)).await;
//!         }
//!     });
//!     response.retry(Duration::from_secs(5))
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! HttpServer::new(|| App::new().service(complete).service(progress))
//!     .h1_allow_half_closed(false)
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await
//! # }
//! ```
//!
//! **What a response does.** It sends the head of
//! [`event_stream_head`](crate::server::event_stream_head) (the same
//! compress-safe and proxy-safe headers as the actor-backed
//! [`Sse`](crate::server::Sse) handler) together with a first frame — a
//! `retry:` if you set [`retry`](SseResponse::retry), else an empty comment —
//! so the client sees `200` before the first event. Then every frame in
//! order, encoded by [`sse_proto::Encoder`]; frames already waiting go out in
//! one write. Every [`keep_alive`](SseResponse::keep_alive) interval
//! (default 15 s) an empty comment goes out as soon as the stream has
//! nothing ready (a stream that never pauses needs none), keeping proxies
//! from timing the connection out and letting the server notice a client
//! that vanished.
//!
//! **How it ends.** When the stream ends (or every [`SseSender`] is
//! dropped), the response ends cleanly. So does it when the stream yields an
//! `Err` or an event the encoder refuses (an `id` or event type holding a
//! line break): the events before it are delivered, the response ends with
//! a clean end of body, and one `tracing` line says why (`warn` for the
//! stream's error, `error` for an event that cannot be encoded: a bug in the
//! producer). The channel form refuses such an event at
//! [`send`](SseSender::send) instead, with [`SendError::Encode`], and the
//! response goes on. An `EventSource` reconnects after any end, sending the
//! last `id:` it saw as `Last-Event-ID` (read it with
//! [`LastEventId`](crate::extract::LastEventId)); send a final event that
//! tells your page to close it if the stream is complete.
//!
//! **When the client goes away** actix-web drops the response: the stream is
//! dropped and never polled again, and [`SseSender::send`] fails. With
//! `HttpServer::h1_allow_half_closed(false)` this happens as soon as the
//! connection closes; otherwise the keep-alive writes find out, by the
//! second one after the client left at the latest.
//!
//! **Limits.** One poll gathers at most 16 KiB of frames (one event can be
//! larger), so memory per response is that plus actix-web's write buffer;
//! the channel holds at most its capacity of encoded frames.

mod channel;
mod item;

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use std::{fmt, mem};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use sse_proto::Encoder;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};

pub use channel::{SendError, SseSender};
pub use item::SseItem;

use crate::server::response::EVENT_STREAM_HEADERS;

/// The keep-alive interval unless [`SseResponse::keep_alive`] says otherwise.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Bytes after which one poll stops gathering ready frames, so a fast
/// producer cannot grow the buffer: the rest waits for the next poll.
const BATCH_LIMIT: usize = 16 * 1024;

/// The shortest keep-alive interval: a zero one would spin.
const MIN_KEEP_ALIVE: Duration = Duration::from_millis(1);

/// An event-stream response for one request: build it from a stream with
/// [`from_stream`](SseResponse::from_stream) or as a channel with
/// [`channel`](SseResponse::channel), and return it from a handler. See the
/// [module documentation](self) for what it sends and how it ends.
///
/// It is the response body as well ([`MessageBody`]), for a response you
/// build yourself (another status, say): then set the headers with
/// [`event_stream_head`](crate::server::event_stream_head).
#[must_use = "an SseResponse does nothing until returned from a handler"]
pub struct SseResponse {
    source: Source,
    /// Encoded frames not yet handed to actix-web.
    buf: BytesMut,
    retry: Option<Duration>,
    keep_alive: Duration,
    /// Started at the first poll.
    timer: Option<Interval>,
    /// The source ended; nothing is polled any more.
    ended: bool,
    /// The last poll gathered a whole batch: the source is faster than the
    /// client, so the next batch is likely whole too.
    full: bool,
    /// The last poll found nothing to send.
    waited: bool,
}

enum Source {
    /// The user's stream.
    Stream(Pin<Box<dyn EncodeReady>>),
    /// Frames the [`SseSender`] encoded.
    Channel(mpsc::Receiver<Bytes>),
}

impl SseResponse {
    /// Streams the frames of `stream` ([`Event`](sse_proto::Event)s, or
    /// anything [`SseItem`]) until it ends or yields an error.
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream + 'static,
        S::Item: SseItem,
    {
        SseResponse::new(Source::Stream(Box::pin(stream)))
    }

    /// A response fed through a bounded channel of `capacity` frames (at
    /// least 1): hand the [`SseSender`] to the task producing the events and
    /// return the response. The response ends when every sender is dropped.
    pub fn channel(capacity: usize) -> (SseSender, Self) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        (
            SseSender::new(sender),
            SseResponse::new(Source::Channel(receiver)),
        )
    }

    fn new(source: Source) -> Self {
        SseResponse {
            source,
            buf: BytesMut::new(),
            retry: None,
            keep_alive: DEFAULT_KEEP_ALIVE,
            timer: None,
            ended: false,
            full: false,
            waited: false,
        }
    }

    /// Sends an empty comment every `interval` (default 15 s, at least
    /// 1 ms) at the stream's next pause, keeping proxies from closing a
    /// quiet connection and finding out when the client has gone.
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = interval.max(MIN_KEEP_ALIVE);
        self
    }

    /// Sends `retry: <ms>` as the first frame, setting the client's
    /// reconnection delay.
    pub fn retry(mut self, delay: Duration) -> Self {
        self.retry = Some(delay);
        self
    }

    /// Writes the first frame and starts the keep-alive timer: at the first
    /// poll, which runs inside the server's runtime.
    fn start(&mut self) {
        match self.retry {
            Some(delay) => self.buf.extend_from_slice(&Encoder::retry(delay)),
            None => self.buf.extend_from_slice(b":\n"),
        }
        let mut timer = tokio::time::interval_at(Instant::now() + self.keep_alive, self.keep_alive);
        timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        self.timer = Some(timer);
    }

    /// Encodes every frame ready now into `buf`, until it holds `limit`
    /// bytes. Returns whether the source has ended.
    fn gather(&mut self, cx: &mut Context<'_>, limit: usize) -> bool {
        match &mut self.source {
            Source::Stream(stream) => stream.as_mut().encode_ready(cx, &mut self.buf, limit),
            Source::Channel(frames) => {
                while self.buf.len() < limit {
                    match frames.poll_recv(cx) {
                        Poll::Pending => return false,
                        Poll::Ready(None) => return true,
                        Poll::Ready(Some(frame)) => self.buf.extend_from_slice(&frame),
                    }
                }
                false
            }
        }
    }
}

/// A stream of [`SseItem`]s seen through one virtual call per poll: the
/// loop over ready items is compiled for the user's stream type.
trait EncodeReady {
    /// Encodes every item ready now into `dst`, until it holds `limit`
    /// bytes. Returns whether the stream has ended (or failed, which is
    /// logged).
    fn encode_ready(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut BytesMut,
        limit: usize,
    ) -> bool;
}

impl<S> EncodeReady for S
where
    S: Stream,
    S::Item: SseItem,
{
    fn encode_ready(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut BytesMut,
        limit: usize,
    ) -> bool {
        while dst.len() < limit {
            let item = match self.as_mut().poll_next(cx) {
                Poll::Pending => return false,
                Poll::Ready(None) => return true,
                Poll::Ready(Some(item)) => item,
            };
            match item.into_frame() {
                Ok(frame) => {
                    if let Err(error) = Encoder::new().encode_frame_into(&frame, dst) {
                        tracing::error!(
                            "event stream response ended: its stream yielded an event that cannot be sent: {error}"
                        );
                        return true;
                    }
                }
                Err(error) => {
                    tracing::warn!("event stream response ended by its stream's error: {error}");
                    return true;
                }
            }
        }
        false
    }
}

impl MessageBody for SseResponse {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    /// Everything ready, as one chunk. A fast stream's batches reuse one
    /// buffer: actix-web copies each chunk out and drops it before the next
    /// poll, so the next batch is encoded into the same allocation. A slow
    /// stream's chunk takes its buffer along (one small allocation, no
    /// bookkeeping of a shared one).
    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        let this = self.get_mut();
        if this.timer.is_none() {
            this.start();
        }
        if !this.ended {
            if this.full && this.buf.is_empty() {
                // Room for a whole batch before encoding: actix-web has
                // copied the last chunk out and dropped it, so this takes
                // the buffer back without copying. Growing it as frames
                // come would move what was already written. A slow stream
                // never gets here, so its buffer stays small.
                this.buf.reserve(2 * BATCH_LIMIT);
            }
            // Woken after a wait, the first frame is likely alone: send it
            // without polling the stream again. actix-web polls again at
            // once, and that poll gathers whatever else is ready.
            let limit = if this.waited { 1 } else { BATCH_LIMIT };
            this.ended = this.gather(cx, limit);
            this.full = this.buf.len() >= BATCH_LIMIT;
            // Only a response about to wait needs the timer armed: one that
            // is sending is polled again anyway. A tick that passed while it
            // was sending is sent at its next wait, so an idle response
            // writes a comment every interval, which bounds how late a
            // vanished client is noticed.
            if !this.ended
                && this.buf.is_empty()
                && this
                    .timer
                    .as_mut()
                    .is_some_and(|timer| timer.poll_tick(cx).is_ready())
            {
                this.buf.extend_from_slice(b":\n");
            }
        }
        this.waited = this.buf.is_empty() && !this.ended;
        if this.full {
            Poll::Ready(Some(Ok(this.buf.split().freeze())))
        } else if !this.buf.is_empty() {
            Poll::Ready(Some(Ok(mem::take(&mut this.buf).freeze())))
        } else if this.ended {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

impl Responder for SseResponse {
    type Body = SseResponse;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse<SseResponse> {
        let mut response = HttpResponse::with_body(StatusCode::OK, self);
        let headers = response.headers_mut();
        for (name, value) in EVENT_STREAM_HEADERS {
            headers.insert(name, value);
        }
        response
    }
}

impl fmt::Debug for SseResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            Source::Stream(_) => "stream",
            Source::Channel(_) => "channel",
        };
        f.debug_struct("SseResponse")
            .field("source", &source)
            .field("retry", &self.retry)
            .field("keep_alive", &self.keep_alive)
            .field("buffered", &self.buf.len())
            .field("ended", &self.ended)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use futures_util::{StreamExt as _, stream};
    use sse_proto::Event;

    use super::*;

    async fn next_chunk(body: &mut SseResponse) -> Option<Bytes> {
        poll_fn(|cx| Pin::new(&mut *body).poll_next(cx))
            .await
            .map(|chunk| chunk.unwrap())
    }

    #[actix_web::test]
    async fn first_frame_and_ready_events_go_out_as_one_chunk() {
        let events = stream::iter((0..3).map(|i| Event::data(i.to_string())));
        let mut body = SseResponse::from_stream(events.chain(stream::pending()));
        let chunk = next_chunk(&mut body).await.unwrap();
        assert_eq!(&chunk[..], b":\ndata: 0\n\ndata: 1\n\ndata: 2\n\n");
    }

    #[actix_web::test]
    async fn one_chunk_gathers_at_most_the_batch_limit() {
        let event = Event::data("x".repeat(100));
        let frame_len = Encoder::new().encode(&event).unwrap().len();
        let count = 3 * BATCH_LIMIT / frame_len;
        let mut body = SseResponse::from_stream(stream::iter(vec![event; count]));
        let mut total = 0;
        while let Some(chunk) = next_chunk(&mut body).await {
            assert!(
                chunk.len() < BATCH_LIMIT + frame_len,
                "chunk of {}",
                chunk.len()
            );
            total += chunk.len();
        }
        assert_eq!(total, 2 + count * frame_len, "every frame, once");
    }
}
