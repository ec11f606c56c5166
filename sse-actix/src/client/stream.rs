//! The primary way to consume: a `futures::Stream` you `.next().await`.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::stream::{self, LocalBoxStream, StreamExt as _};
use sse_proto::{ByteString, Event, Frame};

use super::Client;
use super::error::Error;
use super::restart::RestartHandle;
use super::session::{Session, SharedSession, lock};

/// Why a subscription stopped (its stream yielded `None`, its handler or
/// channel form returned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The server answered `204 No Content`: it asks the client not to
    /// reconnect (per the spec).
    NoContent,
    /// The response ended cleanly under
    /// [`ReconnectPolicy::UntilAccepted`](super::ReconnectPolicy::UntilAccepted):
    /// a one-shot stream (an LLM completion…) is complete.
    Completed,
    /// An error stopped it: the last `Err` item says which.
    Error,
}

/// Every frame of a subscription: events, `retry:` values, comments (when
/// [`ClientBuilder::comments`](super::ClientBuilder::comments) is on), and
/// errors. Reconnects by itself; dropping it closes the connection and
/// cancels any pending reconnection delay at once.
pub struct FrameStream {
    inner: LocalBoxStream<'static, Result<Frame, Error>>,
    shared: SharedSession,
}

impl fmt::Debug for FrameStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameStream").finish_non_exhaustive()
    }
}

impl FrameStream {
    pub(crate) fn new(client: &Client, stream: Option<&str>) -> Self {
        let (session, shared) = Session::new(client, stream);
        let inner = stream::unfold(session, |mut session| async move {
            let item = session.next().await?;
            Some((item, session))
        })
        .boxed_local();
        FrameStream { inner, shared }
    }

    /// The last event ID of this subscription (what `Last-Event-ID` carries
    /// on the next reconnection); empty if none.
    pub fn last_event_id(&self) -> ByteString {
        lock(&self.shared).last_event_id.clone()
    }

    /// Why the subscription stopped; `None` while it runs.
    pub fn stop_reason(&self) -> Option<StopReason> {
        lock(&self.shared).stopped
    }

    /// Whether the subscription stopped because of an error.
    pub fn failed(&self) -> bool {
        self.stop_reason() == Some(StopReason::Error)
    }

    /// Whether a response is accepted and being read right now (r3labs
    /// `Connected`).
    pub fn is_connected(&self) -> bool {
        lock(&self.shared).connected
    }

    /// Reconnects now, resuming from the last event ID, without reporting
    /// an error or waiting for a delay: see [`RestartHandle`].
    pub fn restart(&self) {
        self.restart_handle().restart();
    }

    /// A handle that restarts this subscription from another task.
    pub fn restart_handle(&self) -> RestartHandle {
        RestartHandle::new(&self.shared)
    }

    /// Only the events and errors.
    pub fn events(self) -> EventStream {
        EventStream { frames: self }
    }
}

impl Stream for FrameStream {
    type Item = Result<Frame, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// The events of a subscription, and the errors it met (`Err` items do not
/// end the stream: it reconnects; see [`Error`]). Dropping it closes the
/// connection and cancels any pending reconnection delay at once; to stop on
/// a token, use `StreamExt::take_until(token.cancelled())`.
///
/// Not `Send` (awc is not): poll it on the actix system that created it.
#[derive(Debug)]
pub struct EventStream {
    frames: FrameStream,
}

impl EventStream {
    /// The last event ID of this subscription; empty if none.
    pub fn last_event_id(&self) -> ByteString {
        self.frames.last_event_id()
    }

    /// Why the subscription stopped; `None` while it runs.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.frames.stop_reason()
    }

    /// Whether the subscription stopped because of an error.
    pub fn failed(&self) -> bool {
        self.frames.failed()
    }

    /// Whether a response is accepted and being read right now.
    pub fn is_connected(&self) -> bool {
        self.frames.is_connected()
    }

    /// Reconnects now, resuming from the last event ID, without reporting
    /// an error or waiting for a delay: see [`RestartHandle`].
    pub fn restart(&self) {
        self.frames.restart();
    }

    /// A handle that restarts this subscription from another task.
    pub fn restart_handle(&self) -> RestartHandle {
        self.frames.restart_handle()
    }
}

impl EventStream {
    pub(crate) fn frames_shared(&self) -> SharedSession {
        std::sync::Arc::clone(&self.frames.shared)
    }
}

impl Stream for EventStream {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match self.frames.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(Frame::Event(event)))) => Poll::Ready(Some(Ok(event))),
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl Client {
    /// Events from the client's URL as it is (r3labs `SubscribeRaw`).
    pub fn stream(&self) -> EventStream {
        self.frames().events()
    }

    /// Events of stream `name`: the URL with `?stream=NAME` added.
    pub fn stream_of(&self, name: &str) -> EventStream {
        self.frames_of(name).events()
    }

    /// Every frame (events, `retry:`, comments) from the client's URL.
    pub fn frames(&self) -> FrameStream {
        FrameStream::new(self, None)
    }

    /// Every frame of stream `name` (`?stream=NAME` added to the URL).
    pub fn frames_of(&self, name: &str) -> FrameStream {
        FrameStream::new(self, Some(name))
    }
}
