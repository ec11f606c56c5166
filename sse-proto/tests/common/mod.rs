//! Helpers shared by the integration tests.
#![allow(dead_code)]

use bytes::Bytes;
use sse_proto::{DecodeError, Decoder, Event, Frame};

pub type Output = Vec<Result<Frame, DecodeError>>;

/// Feeds `chunks` one after another, pulling every frame after each, then
/// ends the stream.
pub fn decode_chunks<'a>(
    decoder: &mut Decoder,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Output {
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        out.extend(decoder.by_ref());
    }
    decoder.end_stream();
    out.extend(decoder.by_ref());
    out
}

/// As [`decode_chunks`], with each chunk handed over as `Bytes`
/// ([`Decoder::feed_bytes`]).
pub fn decode_owned_chunks<'a>(
    decoder: &mut Decoder,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Output {
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed_bytes(Bytes::copy_from_slice(chunk));
        out.extend(decoder.by_ref());
    }
    decoder.end_stream();
    out.extend(decoder.by_ref());
    out
}

/// As [`decode_owned_chunks`], each frame pulled borrowed
/// ([`Decoder::next_ref`]) and copied.
pub fn decode_lent_chunks<'a>(
    decoder: &mut Decoder,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Output {
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed_bytes(Bytes::copy_from_slice(chunk));
        pull_lent(decoder, &mut out);
    }
    decoder.end_stream();
    pull_lent(decoder, &mut out);
    out
}

/// Every frame [`Decoder::next_ref`] lends, copied into `out`.
pub fn pull_lent(decoder: &mut Decoder, out: &mut Output) {
    while let Some(frame) = decoder.next_ref() {
        out.push(frame.map(|frame| frame.to_frame()));
    }
}

/// Decodes `input` as one whole stream, then checks that every split of it
/// into two chunks (borrowed or as `Bytes`), and feeding it one byte at a
/// time, gives the same output, whether frames are pulled owned or
/// borrowed.
pub fn decode_with(make: impl Fn() -> Decoder, input: &[u8]) -> Output {
    let whole = decode_chunks(&mut make(), [input]);
    assert_eq!(
        decode_lent_chunks(&mut make(), [input]),
        whole,
        "borrowed: {input:?}"
    );
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(
            decode_chunks(&mut make(), [a, b]),
            whole,
            "split at {at} of {input:?}"
        );
        assert_eq!(
            decode_owned_chunks(&mut make(), [a, b]),
            whole,
            "split at {at} of {input:?}, as Bytes"
        );
        assert_eq!(
            decode_lent_chunks(&mut make(), [a, b]),
            whole,
            "split at {at} of {input:?}, borrowed"
        );
    }
    assert_eq!(
        decode_chunks(&mut make(), input.chunks(1)),
        whole,
        "byte at a time: {input:?}"
    );
    whole
}

/// The frames of `input` for a default decoder; panics on a decode error.
pub fn frames(input: impl AsRef<[u8]>) -> Vec<Frame> {
    decode_with(Decoder::new, input.as_ref())
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("decode error")
}

/// The events of `input` for a default decoder.
pub fn events(input: impl AsRef<[u8]>) -> Vec<Event> {
    frames(input)
        .into_iter()
        .filter_map(|frame| match frame {
            Frame::Event(event) => Some(event),
            _ => None,
        })
        .collect()
}

/// The data of each event of `input`.
pub fn data(input: impl AsRef<[u8]>) -> Vec<String> {
    events(input)
        .into_iter()
        .map(|e| e.data.to_string())
        .collect()
}
