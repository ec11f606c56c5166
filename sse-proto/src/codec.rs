//! A `tokio_util::codec` adapter for custom transports. Enabled by the
//! `tokio-util` feature.
//!
//! A decode error (a line or event over a limit) is an *item*, not the
//! codec's error: `FramedRead` ends the stream after the codec's first
//! `Err`, but the decoder recovers at the next event, so the stream goes on
//! and yields `Ok(Err(DecodeError))` in its place.

use std::io;

use bytes::BytesMut;

use crate::decoder::Decoder;
use crate::encoder::Encoder;
use crate::error::{DecodeError, EncodeError};
use crate::event::{Event, Frame};

/// An error from [`SseCodec`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The transport failed.
    #[error("event stream transport failed: {0}")]
    Io(#[from] io::Error),
    /// An event could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// [`Decoder`] and [`Encoder`] as a `tokio_util::codec` codec, for use with
/// `FramedRead` / `FramedWrite` over any `AsyncRead` / `AsyncWrite`.
///
/// Decoding yields `Result<Frame, DecodeError>` items: a part of the stream
/// the decoder rejected is reported where it was and decoding goes on (see
/// the module docs); only a transport failure ends a `FramedRead`.
///
/// ```
/// use bytes::BytesMut;
/// use sse_proto::{Event, Frame, SseCodec};
/// use tokio_util::codec::{Decoder as _, Encoder as _};
///
/// let mut codec = SseCodec::default();
/// let mut wire = BytesMut::new();
/// codec.encode(Event::data("hi"), &mut wire)?;
/// assert_eq!(codec.decode(&mut wire)?, Some(Ok(Frame::Event(Event::data("hi")))));
/// # Ok::<(), sse_proto::CodecError>(())
/// ```
#[derive(Debug, Default)]
pub struct SseCodec {
    decoder: Decoder,
    encoder: Encoder,
}

impl SseCodec {
    /// A codec from a configured decoder and encoder.
    pub fn new(decoder: Decoder, encoder: Encoder) -> Self {
        SseCodec { decoder, encoder }
    }

    /// The decoder, e.g. for its last event ID.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }
}

impl tokio_util::codec::Decoder for SseCodec {
    type Item = Result<Frame, DecodeError>;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        if !src.is_empty() {
            self.decoder.feed(src);
            src.clear();
        }
        Ok(self.decoder.next())
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        match self.decode(src)? {
            Some(item) => Ok(Some(item)),
            None => {
                self.decoder.end_stream();
                Ok(None)
            }
        }
    }
}

impl tokio_util::codec::Encoder<Event> for SseCodec {
    type Error = CodecError;

    fn encode(&mut self, event: Event, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(self.encoder.encode_into(&event, dst)?)
    }
}

impl tokio_util::codec::Encoder<Frame> for SseCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(self.encoder.encode_frame_into(&frame, dst)?)
    }
}
