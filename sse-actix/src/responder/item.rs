//! What a stream given to [`SseResponse::from_stream`] may yield.
//!
//! [`SseResponse::from_stream`]: crate::responder::SseResponse::from_stream

use std::convert::Infallible;
use std::fmt::Display;

use sse_proto::{Event, Frame};

/// An item of a stream answered with
/// [`SseResponse::from_stream`](crate::responder::SseResponse::from_stream):
/// a frame to send, or the reason to end the response.
///
/// Implemented for [`Event`], [`Frame`] (to send comments or a `retry:`
/// too) and `Result`s of either, whose error ends the response cleanly and
/// is logged. Implement it for your own item type to stream it without a
/// `map`.
pub trait SseItem {
    /// Why the response ends instead (written to the log).
    type Error: Display;

    /// The frame to send, or the reason to end the response.
    fn into_frame(self) -> Result<Frame, Self::Error>;
}

impl SseItem for Event {
    type Error = Infallible;

    fn into_frame(self) -> Result<Frame, Infallible> {
        Ok(Frame::Event(self))
    }
}

impl SseItem for Frame {
    type Error = Infallible;

    fn into_frame(self) -> Result<Frame, Infallible> {
        Ok(self)
    }
}

impl<E: Display> SseItem for Result<Event, E> {
    type Error = E;

    fn into_frame(self) -> Result<Frame, E> {
        self.map(Frame::Event)
    }
}

impl<E: Display> SseItem for Result<Frame, E> {
    type Error = E;

    fn into_frame(self) -> Result<Frame, E> {
        self
    }
}
