//! Codec throughput, ours side by side with peer crates in the same run.
//!
//! Every decoder does the same work: take the input as it would arrive from a
//! socket (a list of chunks), and produce every event with its data as an
//! owned or shared UTF-8 string. Before any timing, each harness is run once
//! and checked to have produced the expected number of events and data bytes,
//! so a harness that silently decodes nothing cannot look fast.
//!
//! Run: `cargo bench -p sse-proto --bench codec`.

use std::convert::Infallible;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use criterion::{SamplingMode, measurement::WallTime};
use futures::executor::block_on;
use futures::stream::{self, StreamExt as _};
use sse_proto::{Decoder, Encoder, Event, Frame};

/// What a decoder harness produced: events dispatched and data bytes seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    events: usize,
    data_bytes: usize,
}

impl Tally {
    fn add(&mut self, data: &str) {
        self.events += 1;
        self.data_bytes += black_box(data).len();
    }
}

/// One decoding case: the whole input, already split the way it arrives.
struct Case {
    name: &'static str,
    chunks: Vec<Bytes>,
    total: usize,
    expected: Tally,
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
fn small_events() -> Case {
    let mut input = Vec::new();
    let mut expected = Tally::default();
    for n in 0..100_000 {
        let data = format!("payload {n}");
        input.extend_from_slice(format!("id: {n}\nevent: update\ndata: {data}\n\n").as_bytes());
        expected.add(&data);
    }
    Case::new("small_events_1460B_chunks", input, 1460, expected)
}

const LARGE_LINE: usize = 4 << 20;

/// (b) One event whose data is a single 4 MiB line: the case where parsers
/// that re-scan their buffer on every chunk go quadratic.
fn large_line() -> Case {
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
fn trickled_events() -> Case {
    let mut input = Vec::new();
    let mut expected = Tally::default();
    let data: String = "0123456789abcdef".repeat(255);
    for n in 0..256 {
        input.extend_from_slice(format!("id: {n}\nevent: big\ndata: {data}\n\n").as_bytes());
        expected.add(&data);
    }
    Case::new("4KiB_events_10B_chunks", input, 10, expected)
}

fn ours(chunks: &[Bytes]) -> Tally {
    let mut tally = Tally::default();
    let mut decoder = Decoder::new();
    for chunk in chunks {
        decoder.feed(chunk);
        for frame in decoder.by_ref() {
            if let Frame::Event(event) = frame.expect("valid input") {
                tally.add(&event.data);
            }
        }
    }
    tally
}

fn sse_core(chunks: &[Bytes]) -> Tally {
    let mut tally = Tally::default();
    // Its default limit (512 KiB) would reject case (b); ours allows 8 MiB.
    let mut decoder = sse_core::SseDecoder::with_limit(NonZeroUsize::new(8 << 20).unwrap());
    for chunk in chunks {
        let mut buf: &[u8] = chunk;
        while let Some(event) = decoder.next(&mut buf) {
            if let sse_core::SseEvent::Message(message) = event.expect("valid input") {
                tally.add(&message.data);
            }
        }
    }
    tally
}

fn sse_parse(chunks: &[Bytes]) -> Tally {
    let mut tally = Tally::default();
    let mut parser = sse_parse::SseParser::new();
    for chunk in chunks {
        parser.feed(chunk);
        while let Some(event) = parser.next_event() {
            tally.add(&event.data);
        }
    }
    tally
}

fn byte_stream(
    chunks: &[Bytes],
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> + Unpin + '_ {
    stream::iter(chunks.iter().cloned().map(Ok))
}

fn eventsource_stream(chunks: &[Bytes]) -> Tally {
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

fn sse_stream(chunks: &[Bytes]) -> Tally {
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
fn memchr_scan(chunks: &[Bytes]) -> usize {
    chunks
        .iter()
        .map(|chunk| memchr::memchr_iter(b'\n', chunk).count())
        .sum()
}

type DecodeFn = fn(&[Bytes]) -> Tally;

const DECODERS: [(&str, DecodeFn); 5] = [
    ("sse-proto", ours),
    ("sse-core", sse_core),
    ("sse-parse", sse_parse),
    ("eventsource-stream", eventsource_stream),
    ("sse-stream", sse_stream),
];

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, bytes: usize) {
    group
        .throughput(Throughput::Bytes(bytes as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        // Some peers take seconds per iteration on case (b).
        .sampling_mode(SamplingMode::Flat);
}

fn decode(c: &mut Criterion) {
    for case in [small_events(), large_line(), trickled_events()] {
        for (name, decode) in DECODERS {
            assert_eq!(
                decode(&case.chunks),
                case.expected,
                "{name} on {}",
                case.name
            );
        }
        let mut group = c.benchmark_group(format!("decode/{}", case.name));
        configure(&mut group, case.total);
        for (name, decode) in DECODERS {
            group.bench_function(name, |b| b.iter(|| decode(black_box(&case.chunks))));
        }
        if case.name.starts_with("4MiB") {
            assert_eq!(memchr_scan(&case.chunks), 2);
            group.bench_function("memchr-baseline", |b| {
                b.iter(|| memchr_scan(black_box(&case.chunks)))
            });
        }
        group.finish();
    }
}

/// (d) The values of 100,000 small events; each encoder builds its own event
/// type from them inside the timed loop, since some encode while building.
struct EncodeInput {
    ids: Vec<bytestring::ByteString>,
    data: Vec<bytestring::ByteString>,
}

const EVENT_TYPE: &str = "update";

/// Static because the response-body encoders want `'static` event streams.
static ENCODE_INPUT: LazyLock<EncodeInput> = LazyLock::new(|| EncodeInput {
    ids: (0..100_000).map(|n| n.to_string().into()).collect(),
    data: (0..100_000)
        .map(|n| format!("payload {n}").into())
        .collect(),
});

impl EncodeInput {
    fn pairs(&self) -> impl Iterator<Item = (&bytestring::ByteString, &bytestring::ByteString)> {
        self.ids.iter().zip(&self.data)
    }
}

/// What an encoder produced: one buffer per event, as a server sends them.
#[derive(Debug, PartialEq, Eq)]
struct Encoded {
    frames: usize,
    bytes: usize,
}

fn encode_ours(input: &'static EncodeInput) -> Encoded {
    let encoder = Encoder::new();
    let mut out = Encoded {
        frames: 0,
        bytes: 0,
    };
    for (id, data) in input.pairs() {
        let event = Event::new(EVENT_TYPE, data.clone()).id(id.clone());
        let bytes = encoder.encode(&event).expect("valid event");
        out.frames += 1;
        out.bytes += black_box(bytes).len();
    }
    out
}

fn encode_actix_web_lab(input: &'static EncodeInput) -> Encoded {
    use actix_web::body::MessageBody as _;
    use actix_web_lab::sse::{Data, Event, Sse};
    // Its encoder is private: the public way to bytes is polling the `Sse`
    // response body, which needs no server or runtime.
    let events =
        stream::iter(input.pairs().map(|(id, data)| {
            Event::Data(Data::new(data.clone()).id(id.clone()).event(EVENT_TYPE))
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

fn encode_axum(input: &'static EncodeInput) -> Encoded {
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

fn encode_sse_stream(input: &'static EncodeInput) -> Encoded {
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

type EncodeFn = fn(&'static EncodeInput) -> Encoded;

const ENCODERS: [(&str, EncodeFn); 4] = [
    ("sse-proto", encode_ours),
    ("actix-web-lab", encode_actix_web_lab),
    ("axum", encode_axum),
    ("sse-stream", encode_sse_stream),
];

fn encode(c: &mut Criterion) {
    let input = &*ENCODE_INPUT;
    let expected = encode_ours(input);
    assert_eq!(expected.frames, 100_000);
    for (name, encode) in ENCODERS {
        // Field order differs between encoders, the total length does not.
        assert_eq!(encode(input), expected, "{name}");
    }
    let mut group = c.benchmark_group("encode/small_events");
    configure(&mut group, expected.bytes);
    for (name, encode) in ENCODERS {
        group.bench_function(name, |b| b.iter(|| encode(black_box(input))));
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
