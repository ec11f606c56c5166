//! A sans-IO codec for Server-Sent Events (the `text/event-stream` format).
//!
//! The [`Decoder`] follows the WHATWG HTML parsing rules exactly: you feed it
//! bytes in chunks of any size and pull [`Frame`]s (events, `retry:` values
//! and, on request, comments); the output does not depend on how the input
//! was split, and work is linear in the input. Fed as [`bytes::Bytes`]
//! ([`Decoder::feed_bytes`]), an event's strings are slices of the caller's
//! chunk wherever its lines lie within one: no copy and no allocation per
//! event. A caller that keeps no event pulls with [`Decoder::next_ref`]:
//! the same frames, lent as [`FrameRef`]s whose strings borrow the input, so
//! an event costs no reference count either. The [`Encoder`] is safe by
//! construction: whatever the strings of an [`Event`] hold, it becomes exactly
//! one event on the wire, or an [`EncodeError`]. Encoded events are
//! [`bytes::Bytes`], so one encoding can be shared by any number of receivers.
//!
//! This crate never does I/O, never spawns, never reads a clock and has no
//! async: it is usable from any transport (actix, hyper, a WebSocket bridge, a
//! file, a fuzzer). Its only I/O conveniences sit behind features:
//! `std-io` ([`EventReader`] over any [`std::io::Read`]) and `tokio-util`
//! (`SseCodec`, a `tokio_util::codec` adapter). `serde` derives
//! `Serialize`/`Deserialize` for [`Event`] and [`Frame`].
//!
//! The `tcp` example (`examples/tcp.rs`, run with
//! `cargo run -p sse-proto --example tcp --features std-io`) uses the codec
//! over plain `std::net` sockets: a tiny HTTP/1.1 server writing with the
//! [`Encoder`] and a client reading with `EventReader`.
//!
//! Limits: the decoder buffers at most one line and one event, each bounded
//! by a configurable limit ([`Decoder::with_max_line_length`],
//! [`Decoder::with_max_event_size`], 8 MiB by default); exceeding one yields a
//! [`DecodeError`] and the decoder recovers at the next line. Invalid UTF-8 is
//! replaced with U+FFFD, never an error. Event text is `data` as UTF-8; send
//! binary payloads base64-encoded ([`Encoder::with_base64`]).
//!
//! ```
//! use sse_proto::{Decoder, Encoder, Event, Frame};
//!
//! let wire = Encoder::new().encode(&Event::new("update", "line 1\nline 2").id("1"))?;
//! let mut decoder = Decoder::new();
//! decoder.feed(&wire);
//! let frames: Vec<Frame> = decoder.by_ref().collect::<Result<_, _>>()?;
//! assert_eq!(frames, [Frame::Event(Event::new("update", "line 1\nline 2").id("1"))]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "tokio-util")]
mod codec;
mod decoder;
mod encoder;
mod error;
mod event;
pub mod line;
#[cfg(feature = "std-io")]
mod read;

pub use bytestring::ByteString;
#[cfg(feature = "tokio-util")]
pub use codec::{CodecError, SseCodec};
pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::{DecodeError, EncodeError};
pub use event::{Event, EventRef, Frame, FrameRef};
#[cfg(feature = "std-io")]
pub use read::{EventReader, ReadError};
