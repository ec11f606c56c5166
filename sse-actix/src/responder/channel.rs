//! The sending half of [`SseResponse::channel`](crate::responder::SseResponse::channel).

use bytes::Bytes;
use sse_proto::{EncodeError, Encoder, Frame};
use tokio::sync::mpsc;

/// Sends events to one [`SseResponse`](crate::responder::SseResponse)
/// made by [`SseResponse::channel`](crate::responder::SseResponse::channel).
///
/// Each frame is encoded here, so an event that cannot be written (an `id`
/// holding a line break, say) is refused at once with
/// [`SendError::Encode`] and the response goes on. The channel is bounded:
/// [`send`](SseSender::send) waits while the client is that many frames
/// behind. Once the response is gone (the client left, or the HTTP server
/// stopped) `send` fails with [`SendError::Disconnected`] and
/// [`closed`](SseSender::closed) resolves, so a producer stops working for
/// nobody. Dropping every clone ends the response cleanly.
#[derive(Clone, Debug)]
pub struct SseSender {
    frames: mpsc::Sender<Bytes>,
}

/// Why [`SseSender`] did not send a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The response is gone: the client disconnected or the HTTP server
    /// stopped. Nothing more will be sent.
    #[error("the event stream response is gone (the client disconnected or the server stopped)")]
    Disconnected,
    /// [`try_send`](SseSender::try_send) only: the channel holds as many
    /// frames as its capacity; the client reads slower than they are sent.
    #[error("the event stream channel is full: the client reads slower than events are sent")]
    Full,
    /// The event cannot be written without changing its meaning; it was not
    /// sent and the response goes on.
    #[error("the event was not sent: {0}")]
    Encode(#[from] EncodeError),
}

impl SseSender {
    pub(crate) fn new(frames: mpsc::Sender<Bytes>) -> Self {
        SseSender { frames }
    }

    /// Sends an [`Event`](sse_proto::Event) (or any [`Frame`]), waiting
    /// while the channel is full.
    pub async fn send(&self, frame: impl Into<Frame>) -> Result<(), SendError> {
        let bytes = encode(&frame.into())?;
        self.frames
            .send(bytes)
            .await
            .map_err(|_| SendError::Disconnected)
    }

    /// Sends without waiting: [`SendError::Full`] when the channel is full.
    pub fn try_send(&self, frame: impl Into<Frame>) -> Result<(), SendError> {
        let bytes = encode(&frame.into())?;
        self.frames.try_send(bytes).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::Disconnected,
        })
    }

    /// Resolves once the response is gone (the client disconnected or the
    /// HTTP server stopped): `select!` on it to stop a producer that is
    /// waiting for something else.
    pub async fn closed(&self) {
        self.frames.closed().await;
    }

    /// Whether the response is gone.
    pub fn is_closed(&self) -> bool {
        self.frames.is_closed()
    }
}

fn encode(frame: &Frame) -> Result<Bytes, EncodeError> {
    match frame {
        Frame::Event(event) => Encoder::new().encode(event),
        Frame::Retry(delay) => Ok(Encoder::retry(*delay)),
        Frame::Comment(text) => Ok(Encoder::comment(text)),
    }
}
