//! Inputs and per-crate harnesses shared by the benchmark targets: `codec`
//! (criterion, timed) and `profile` (one case, one crate, for callgrind).

use std::convert::Infallible;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::LazyLock;

use bytes::Bytes;
use bytestring::ByteString;
use futures::executor::block_on;
use futures::stream::{self, StreamExt as _};
use sse_proto::{Decoder, Encoder, Event, Frame, FrameRef};

/// What a decoder harness produced: events dispatched and data bytes seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub events: usize,
    pub data_bytes: usize,
}

impl Tally {
    fn add(&mut self, data: &str) {
        self.events += 1;
        self.data_bytes += black_box(data).len();
    }
}

/// One decoding case: the whole input, already split the way it arrives.
pub struct Case {
    pub name: &'static str,
    pub chunks: Vec<Bytes>,
    pub total: usize,
    pub expected: Tally,
}

impl Case {
    fn new(name: &'static str, input: Vec<u8>, chunk: usize, expected: Tally) -> Self {
        let input = Bytes::from(input);
        let chunks = (0..input.len())
            .step_by(chunk)
            .map(|at| input.slice(at..input.len().min(at + chunk)))
            .collect();
        Case {
            name,
            chunks,
            total: input.len(),
            expected,
        }
    }
}

/// (a) 100,000 small events, as a typical feed sends them.
pub fn small_events() -> Case {
    let mut input = Vec::new();
    let mut expected = Tally::default();
    for n in 0..100_000 {
        let data = format!("payload {n}");
        input.extend_from_slice(format!("id: {n}\nevent: update\ndata: {data}\n\n").as_bytes());
        expected.add(&data);
    }
    Case::new("small_events_1460B_chunks", input, 1460, expected)
}

pub const LARGE_LINE: usize = 4 << 20;

/// (b) One event whose data is a single 4 MiB line: the case where parsers
/// that re-scan their buffer on every chunk go quadratic.
pub fn large_line() -> Case {
    let mut input = Vec::with_capacity(LARGE_LINE + 8);
    input.extend_from_slice(b"data: ");
    input.resize(LARGE_LINE + 6, b'x');
    input.extend_from_slice(b"\n\n");
    let expected = Tally {
        events: 1,
        data_bytes: LARGE_LINE,
    };
    Case::new("4MiB_line_1460B_chunks", input, 1460, expected)
}

/// (c) 4 KiB events trickling in 10 bytes at a time: per-feed overhead.
pub fn trickled_events() -> Case {
    let mut input = Vec::new();
    let mut expected = Tally::default();
    let data: String = "0123456789abcdef".repeat(255);
    for n in 0..256 {
        input.extend_from_slice(format!("id: {n}\nevent: big\ndata: {data}\n\n").as_bytes());
        expected.add(&data);
    }
    Case::new("4KiB_events_10B_chunks", input, 10, expected)
}

/// Ours with the input's own `Bytes` (`feed_bytes`: events are slices of
/// the chunks), as a client reading a socket into `Bytes` uses it.
pub fn ours(chunks: Vec<Bytes>) -> Tally {
    let mut tally = Tally::default();
    let mut decoder = Decoder::new();
    for chunk in chunks {
        decoder.feed_bytes(chunk);
        for frame in decoder.by_ref() {
            if let Frame::Event(event) = frame.expect("valid input") {
                tally.add(&event.data);
            }
        }
    }
    tally
}

/// Ours with the input's own `Bytes`, each frame borrowed from the decoder
/// (`next_ref`: no reference count per field), as a client that reads each
/// event and keeps none uses it.
pub fn ours_ref(chunks: Vec<Bytes>) -> Tally {
    let mut tally = Tally::default();
    let mut decoder = Decoder::new();
    for chunk in chunks {
        decoder.feed_bytes(chunk);
        while let Some(frame) = decoder.next_ref() {
            if let FrameRef::Event(event) = frame.expect("valid input") {
                tally.add(event.data);
            }
        }
    }
    tally
}

/// Ours with borrowed chunks (`feed(&[u8])`: copied into its buffer).
pub fn ours_borrowed(chunks: Vec<Bytes>) -> Tally {
    let mut tally = Tally::default();
    let mut decoder = Decoder::new();
    for chunk in chunks {
        decoder.feed(&chunk);
        for frame in decoder.by_ref() {
            if let Frame::Event(event) = frame.expect("valid input") {
                tally.add(&event.data);
            }
        }
    }
    tally
}

pub fn sse_core(chunks: Vec<Bytes>) -> Tally {
    let mut tally = Tally::default();
    // Its default limit (512 KiB) would reject case (b); ours allows 8 MiB.
    let mut decoder = sse_core::SseDecoder::with_limit(NonZeroUsize::new(8 << 20).unwrap());
    for chunk in chunks {
        let mut buf: &[u8] = &chunk;
        while let Some(event) = decoder.next(&mut buf) {
            if let sse_core::SseEvent::Message(message) = event.expect("valid input") {
                tally.add(&message.data);
            }
        }
    }
    tally
}

pub fn sse_parse(chunks: Vec<Bytes>) -> Tally {
    let mut tally = Tally::default();
    let mut parser = sse_parse::SseParser::new();
    for chunk in chunks {
        parser.feed(&chunk);
        while let Some(event) = parser.next_event() {
            tally.add(&event.data);
        }
    }
    tally
}

pub fn byte_stream(
    chunks: Vec<Bytes>,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> + Unpin {
    stream::iter(chunks.into_iter().map(Ok))
}

pub fn eventsource_stream(chunks: Vec<Bytes>) -> Tally {
    use eventsource_stream::Eventsource as _;
    block_on(
        byte_stream(chunks)
            .eventsource()
            .fold(Tally::default(), |mut tally, event| {
                tally.add(&event.expect("valid input").data);
                async move { tally }
            }),
    )
}

pub fn sse_stream(chunks: Vec<Bytes>) -> Tally {
    block_on(sse_stream::SseByteStream::new(byte_stream(chunks)).fold(
        Tally::default(),
        |mut tally, block| {
            if let Some(data) = &block.expect("valid input").data {
                tally.add(data);
            }
            async move { tally }
        },
    ))
}

/// The floor for case (b): find the line ends and do nothing else.
pub fn memchr_scan(chunks: Vec<Bytes>) -> usize {
    chunks
        .iter()
        .map(|chunk| memchr::memchr_iter(b'\n', chunk).count())
        .sum()
}

/// A decoder harness. It owns its input, as a reader owns the chunks it
/// got from a socket (the benchmarks clone the case's chunks, untimed).
pub type DecodeFn = fn(Vec<Bytes>) -> Tally;

pub const DECODERS: [(&str, DecodeFn); 7] = [
    ("sse-proto", ours),
    ("sse-proto-ref", ours_ref),
    ("sse-proto-borrowed", ours_borrowed),
    ("sse-core", sse_core),
    ("sse-parse", sse_parse),
    ("eventsource-stream", eventsource_stream),
    ("sse-stream", sse_stream),
];

/// (d) The values of 100,000 small events; each encoder builds its own event
/// type from them inside the timed loop, since some encode while building.
pub struct EncodeInput {
    pub ids: Vec<ByteString>,
    pub data: Vec<ByteString>,
}

/// The event type of every encoded event. Encoders taking a `ByteString`
/// get it without a copy, as a server naming its event types would.
pub const EVENT_TYPE: &str = "update";

/// Static because the response-body encoders want `'static` event streams.
pub static ENCODE_INPUT: LazyLock<EncodeInput> = LazyLock::new(|| EncodeInput {
    ids: (0..100_000).map(|n| n.to_string().into()).collect(),
    data: (0..100_000)
        .map(|n| format!("payload {n}").into())
        .collect(),
});

impl EncodeInput {
    pub fn pairs(&self) -> impl Iterator<Item = (&ByteString, &ByteString)> {
        self.ids.iter().zip(&self.data)
    }
}

/// What an encoder produced: one buffer per event, as a server sends them.
#[derive(Debug, PartialEq, Eq)]
pub struct Encoded {
    pub frames: usize,
    pub bytes: usize,
}

pub fn encode_ours(input: &'static EncodeInput) -> Encoded {
    let encoder = Encoder::new();
    let mut out = Encoded {
        frames: 0,
        bytes: 0,
    };
    for (id, data) in input.pairs() {
        let event = Event::new(ByteString::from_static(EVENT_TYPE), data.clone()).id(id.clone());
        let bytes = encoder.encode(&event).expect("valid event");
        out.frames += 1;
        out.bytes += black_box(bytes).len();
    }
    out
}

pub fn encode_actix_web_lab(input: &'static EncodeInput) -> Encoded {
    use actix_web::body::MessageBody as _;
    use actix_web_lab::sse::{Data, Event, Sse};
    // Its encoder is private: the public way to bytes is polling the `Sse`
    // response body, which needs no server or runtime.
    let events = stream::iter(input.pairs().map(|(id, data)| {
        Event::Data(
            Data::new(data.clone())
                .id(id.clone())
                .event(ByteString::from_static(EVENT_TYPE)),
        )
    }));
    let mut body = Sse::from_infallible_stream(events);
    let frames = stream::poll_fn(move |cx| Pin::new(&mut body).poll_next(cx));
    block_on(frames.fold(
        Encoded {
            frames: 0,
            bytes: 0,
        },
        |mut out, bytes| {
            out.frames += 1;
            out.bytes += black_box(bytes.expect("valid event")).len();
            async move { out }
        },
    ))
}

pub fn encode_axum(input: &'static EncodeInput) -> Encoded {
    use axum::response::IntoResponse as _;
    use axum::response::sse::{Event, Sse};
    // As for actix-web-lab, only the response body turns events into bytes.
    let events = stream::iter(input.pairs().map(|(id, data)| {
        Ok::<_, Infallible>(Event::default().id(&**id).event(EVENT_TYPE).data(&**data))
    }));
    let body = Sse::new(events).into_response().into_body();
    block_on(body.into_data_stream().fold(
        Encoded {
            frames: 0,
            bytes: 0,
        },
        |mut out, bytes| {
            out.frames += 1;
            out.bytes += black_box(bytes.expect("valid event")).len();
            async move { out }
        },
    ))
}

pub fn encode_sse_stream(input: &'static EncodeInput) -> Encoded {
    let mut out = Encoded {
        frames: 0,
        bytes: 0,
    };
    for (id, data) in input.pairs() {
        let event = sse_stream::Sse::default()
            .id(&**id)
            .event(EVENT_TYPE)
            .data(&**data);
        let bytes = event.encode().expect("valid event");
        out.frames += 1;
        out.bytes += black_box(bytes).len();
    }
    out
}

pub type EncodeFn = fn(&'static EncodeInput) -> Encoded;

pub const ENCODERS: [(&str, EncodeFn); 4] = [
    ("sse-proto", encode_ours),
    ("actix-web-lab", encode_actix_web_lab),
    ("axum", encode_axum),
    ("sse-stream", encode_sse_stream),
];

/// The decoding cases, in report order.
pub fn cases() -> [Case; 3] {
    [small_events(), large_line(), trickled_events()]
}
