//! Decoding must not depend on how the input is split, nor on whether it is
//! fed borrowed or as `Bytes` (pulled after each chunk or not, owned or
//! lent by `next_ref`), must never
//! panic, must agree with a literal reading of the spec, and must only
//! produce events that the encoder can write back unchanged.

#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sse_proto::{DecodeError, Decoder, Encoder, Event, Frame};

#[derive(Arbitrary, Debug)]
struct Input {
    bytes: Vec<u8>,
    /// Chunk lengths, cycled; 0 is read as 1.
    chunks: Vec<u8>,
    /// Small limits, so that the limit paths are reached with short inputs.
    max_line_length: Option<u8>,
    max_event_size: Option<u8>,
    comments: bool,
    base64: bool,
    /// Per chunk, cycled: bit 0 feeds it as `Bytes`, bit 1 skips the pull
    /// after it, bit 2 pulls with `next_ref` (lent frames, copied).
    modes: Vec<u8>,
}

/// Every frame, then the state a reconnection would use.
type Output = (
    Vec<Result<Frame, DecodeError>>,
    String,
    Option<std::time::Duration>,
);

fn decoder(input: &Input) -> Decoder {
    let mut decoder = Decoder::new()
        .with_comments(input.comments)
        .with_base64(input.base64)
        .with_fields(["x"]);
    if let Some(max) = input.max_line_length {
        decoder = decoder.with_max_line_length(usize::from(max));
    }
    if let Some(max) = input.max_event_size {
        decoder = decoder.with_max_event_size(usize::from(max));
    }
    decoder
}

/// Feeds `chunks`, pulling every frame after each, then ends the stream and
/// feeds the input once more, so that state carried across `end_stream` (the
/// last event ID, BOM handling) is exercised too.
fn decode<'a>(input: &Input, chunks: impl Iterator<Item = &'a [u8]> + Clone) -> Output {
    let mut decoder = decoder(input);
    let mut out = Vec::new();
    for _ in 0..2 {
        for chunk in chunks.clone() {
            decoder.feed(chunk);
            out.extend(decoder.by_ref());
        }
        decoder.end_stream();
        out.extend(decoder.by_ref());
    }
    assert_eq!(decoder.buffered_len(), 0);
    (out, decoder.last_event_id().to_owned(), decoder.retry())
}

/// As `decode`, each chunk fed borrowed or as `Bytes` and pulled after or
/// not, as `input.modes` says.
fn decode_mixed<'a>(input: &Input, chunks: impl Iterator<Item = &'a [u8]> + Clone) -> Output {
    let mut decoder = decoder(input);
    let mut out = Vec::new();
    let mut modes = input.modes.iter().copied().chain(std::iter::repeat(0)).cycle();
    for _ in 0..2 {
        for chunk in chunks.clone() {
            let mode = modes.next().unwrap_or(0);
            if mode & 1 == 1 {
                decoder.feed_bytes(Bytes::copy_from_slice(chunk));
            } else {
                decoder.feed(chunk);
            }
            if mode & 2 == 0 {
                pull(&mut decoder, mode & 4 != 0, &mut out);
            }
        }
        pull(&mut decoder, false, &mut out);
        decoder.end_stream();
        pull(&mut decoder, true, &mut out);
    }
    assert_eq!(decoder.buffered_len(), 0);
    (out, decoder.last_event_id().to_owned(), decoder.retry())
}

/// Every frame, owned (`next`) or lent (`next_ref`) and copied.
fn pull(decoder: &mut Decoder, lent: bool, out: &mut Vec<Result<Frame, DecodeError>>) {
    if !lent {
        out.extend(decoder.by_ref());
        return;
    }
    while let Some(frame) = decoder.next_ref() {
        out.push(frame.map(|frame| frame.to_frame()));
    }
}

fn chunked<'a>(bytes: &'a [u8], lens: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + Clone {
    let mut lens = lens.iter().map(|&n| usize::from(n.max(1))).cycle();
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = lens.next().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// The spec's parsing algorithm read literally (whole stream decoded first,
/// no chunks, no limits); comments are not reported.
fn reference(input: &[u8]) -> (Vec<Frame>, String) {
    let text = String::from_utf8_lossy(input);
    let mut rest = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
    let mut frames = Vec::new();
    let (mut data, mut event_type, mut id_buffer, mut last_id) =
        (String::new(), String::new(), String::new(), String::new());
    let mut retry = None;
    let mut fields = Vec::new();
    while let Some(end) = rest.find(['\r', '\n']) {
        let line = &rest[..end];
        rest = &rest[end..];
        rest = rest.strip_prefix("\r\n").unwrap_or_else(|| &rest[1..]);
        if line.is_empty() {
            last_id = id_buffer.clone();
            if !data.is_empty() {
                data.pop();
                frames.push(Frame::Event(Event {
                    id: (!last_id.is_empty()).then(|| last_id.as_str().into()),
                    event: (!event_type.is_empty()).then(|| event_type.as_str().into()),
                    data: data.as_str().into(),
                    retry,
                    comment: None,
                    fields: std::mem::take(&mut fields),
                }));
            }
            data.clear();
            event_type.clear();
            retry = None;
            fields.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "event" => event_type = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id_buffer = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                let ms = value.bytes().fold(0u64, |n, d| {
                    n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                retry = Some(Duration::from_millis(ms));
                frames.push(Frame::Retry(Duration::from_millis(ms)));
            }
            "x" => fields.push((name.into(), value.into())),
            _ => {}
        }
    }
    (frames, last_id)
}

fuzz_target!(|input: Input| {
    let whole = decode(&input, std::iter::once(&input.bytes[..]));
    let split = decode(&input, chunked(&input.bytes, &input.chunks));
    assert_eq!(whole, split, "chunking changed the output");
    let mixed = decode_mixed(&input, chunked(&input.bytes, &input.chunks));
    assert_eq!(
        whole, mixed,
        "feeding Bytes, pulling later or lent frames changed the output"
    );
    if input.bytes.len() <= 256 {
        let bytewise = decode(&input, input.bytes.chunks(1));
        assert_eq!(whole, bytewise, "byte-at-a-time feeding changed the output");
    }

    if input.max_line_length.is_none()
        && input.max_event_size.is_none()
        && !input.base64
        && !input.comments
    {
        let mut decoder = decoder(&input);
        decoder.feed(&input.bytes);
        let frames: Vec<Frame> = decoder
            .by_ref()
            .collect::<Result<_, _>>()
            .expect("no limits, no base64: no errors");
        decoder.end_stream();
        let (expected, last_id) = reference(&input.bytes);
        assert_eq!(frames, expected, "differs from the spec's algorithm");
        assert_eq!(decoder.last_event_id(), last_id);
    }

    for frame in whole.0.iter().flatten() {
        let Frame::Event(event) = frame else { continue };
        if input.base64 {
            continue;
        }
        // Whatever the decoder produces is text the encoder accepts and that
        // decodes to the same event (an empty id is None, and a fresh decoder
        // sees the event's own id, so both agree).
        assert!(!event.data.contains('\r'));
        let wire = Encoder::new()
            .encode(event)
            .unwrap_or_else(|e| panic!("decoded event {event:?} does not encode: {e}"));
        let mut again = Decoder::new().with_comments(true).with_fields(["x"]);
        again.feed(&wire);
        let frames: Vec<_> = again.by_ref().collect::<Result<_, _>>().expect("re-decode");
        let Some(Frame::Event(back)) = frames.last() else {
            panic!("no event in {wire:?}")
        };
        assert_eq!(back, event, "re-encoding changed {wire:?}");
    }
});
