//! The one I/O convenience: frames from any [`std::io::Read`] (r3labs
//! `EventStreamReader`). Enabled by the `std-io` feature.

use std::io::{self, Read};

use crate::decoder::Decoder;
use crate::error::DecodeError;
use crate::event::Frame;

/// An error reading an event stream: I/O failed, or a decode limit was hit
/// (the reader recovers from the latter and may be polled again).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The underlying reader failed.
    #[error("reading the event stream failed: {0}")]
    Io(#[from] io::Error),
    /// The decoder rejected part of the stream.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Iterates over the frames of a blocking reader, e.g. a `TcpStream` whose
/// response head was already read, a file, or a child's stdout.
///
/// ```
/// use sse_proto::{EventReader, Frame};
///
/// let input: &[u8] = b"data: one\n\ndata: two\n\n";
/// let data: Vec<String> = EventReader::new(input)
///     .filter_map(|frame| match frame {
///         Ok(Frame::Event(event)) => Some(event.data.to_string()),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(data, ["one", "two"]);
/// ```
#[derive(Debug)]
pub struct EventReader<R> {
    reader: R,
    decoder: Decoder,
    chunk: Box<[u8]>,
    done: bool,
}

impl<R: Read> EventReader<R> {
    /// Read size used for each `read` call.
    pub const CHUNK_SIZE: usize = 8 * 1024;

    /// Frames of `reader`, with a default [`Decoder`].
    pub fn new(reader: R) -> Self {
        Self::with_decoder(reader, Decoder::new())
    }

    /// Frames of `reader`, decoded by a configured `decoder`.
    pub fn with_decoder(reader: R, decoder: Decoder) -> Self {
        EventReader {
            reader,
            decoder,
            chunk: vec![0; Self::CHUNK_SIZE].into_boxed_slice(),
            done: false,
        }
    }

    /// The decoder, e.g. for its [`last_event_id`](Decoder::last_event_id).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Gives back the reader and the decoder.
    pub fn into_parts(self) -> (R, Decoder) {
        (self.reader, self.decoder)
    }
}

impl<R: Read> Iterator for EventReader<R> {
    type Item = Result<Frame, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(frame) = self.decoder.next() {
                return Some(frame.map_err(ReadError::from));
            }
            if self.done {
                return None;
            }
            match self.reader.read(&mut self.chunk) {
                Ok(0) => {
                    self.done = true;
                    self.decoder.end_stream();
                }
                Ok(n) => self.decoder.feed(&self.chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    self.decoder.end_stream();
                    return Some(Err(e.into()));
                }
            }
        }
    }
}
