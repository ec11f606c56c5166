//! Property tests: encode→decode round trips and chunking invariance.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{decode_chunks, pull_lent};
use proptest::prelude::*;
use sse_proto::{ByteString, Decoder, EncodeError, Encoder, Event, Frame};

/// Characters that matter to the format, mixed with arbitrary Unicode.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        3 => prop::char::range('a', 'e'),
        1 => Just('\r'),
        1 => Just('\n'),
        1 => Just(' '),
        1 => Just(':'),
        1 => Just('\0'),
        1 => Just('\u{FEFF}'),
        1 => Just('é'),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..12).prop_map(String::from_iter)
}

fn single_line() -> impl Strategy<Value = String> {
    text().prop_map(|s| s.replace(['\r', '\n'], ""))
}

fn field_name() -> impl Strategy<Value = String> {
    single_line().prop_filter_map("not a writable custom field name", |name| {
        let name = name.replace(':', "");
        let reserved = ["", "data", "event", "id", "retry"].contains(&&*name);
        (!reserved && !name.starts_with('\u{FEFF}')).then_some(name)
    })
}

fn retry() -> impl Strategy<Value = Duration> {
    (0u64..u64::MAX, 0u32..1_000_000)
        .prop_map(|(ms, nanos)| Duration::from_millis(ms) + Duration::from_nanos(u64::from(nanos)))
}

/// Events the encoder must accept: anything in data and comments, one-line
/// ids (without NUL), types and custom fields.
fn writable_event() -> impl Strategy<Value = Event> {
    (
        prop::option::of(single_line().prop_map(|s| s.replace('\0', ""))),
        prop::option::of(single_line()),
        text(),
        prop::option::of(retry()),
        prop::option::of(text()),
        prop::collection::vec((field_name(), single_line()), 0..3),
    )
        .prop_map(|(id, event, data, retry, comment, fields)| Event {
            id: id.map(ByteString::from),
            event: event.map(ByteString::from),
            data: data.into(),
            retry,
            comment: comment.map(ByteString::from),
            fields: fields
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        })
}

/// Any event at all, including ones the encoder must reject.
fn any_event() -> impl Strategy<Value = Event> {
    (
        prop::option::of(text()),
        prop::option::of(text()),
        text(),
        prop::collection::vec((text(), text()), 0..2),
    )
        .prop_map(|(id, event, data, fields)| Event {
            id: id.map(ByteString::from),
            event: event.map(ByteString::from),
            data: data.into(),
            fields: fields
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
            ..Event::default()
        })
}

fn lf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// What decoding an encoded `event` gives back: line breaks become LF, empty
/// ids and types become `None`, retry is whole milliseconds.
fn normalised(event: &Event, base64: bool) -> Event {
    Event {
        id: event.id.clone().filter(|id| !id.is_empty()),
        event: event.event.clone().filter(|t| !t.is_empty()),
        data: if base64 {
            event.data.clone()
        } else {
            lf(&event.data).into()
        },
        retry: event
            .retry
            .map(|r| Duration::from_millis(u64::try_from(r.as_millis()).unwrap())),
        comment: event.comment.as_deref().map(|c| lf(c).into()),
        fields: event.fields.clone(),
    }
}

fn decoder_for(events: &[Event], base64: bool) -> Decoder {
    Decoder::new()
        .with_comments(true)
        .with_base64(base64)
        .with_fields(
            events
                .iter()
                .flat_map(|e| e.fields.iter().map(|(n, _)| n.to_string())),
        )
}

fn decoded_events(decoder: &mut Decoder, wire: &[u8]) -> Vec<Event> {
    decode_chunks(decoder, [wire])
        .into_iter()
        .filter_map(|frame| match frame.expect("decode error") {
            Frame::Event(event) => Some(event),
            _ => None,
        })
        .collect()
}

/// Bytes built from the pieces of the format, so that random inputs are
/// mostly meaningful streams.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&b"data"[..]),
        Just(&b"id"[..]),
        Just(&b"event"[..]),
        Just(&b"retry"[..]),
        Just(&b"x"[..]),
        Just(&b":"[..]),
        Just(&b": "[..]),
        Just(&b" "[..]),
        Just(&b"\r"[..]),
        Just(&b"\n"[..]),
        Just(&b"\r\n"[..]),
        Just(&b"\n\n"[..]),
        Just(&b"\xEF\xBB\xBF"[..]),
        Just(&b"\xEF\xBB"[..]),
        Just(&b"\0"[..]),
        Just(&b"12"[..]),
        Just("é".as_bytes()),
        Just(&b"\xFF"[..]),
        Just(&b"\xE2\x82"[..]),
        Just(&b"aGk="[..]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Streams long enough that chunks of 64 bytes and more (those
/// `Decoder::feed_bytes` keeps apart) hold whole lines, some of them long.
fn long_stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => stream_bytes(),
        1 => Just(b"data: a payload long enough to fill most of a 64-byte chunk\n".to_vec()),
        1 => Just(b"id: 42\nevent: update\ndata: payload\n\n".to_vec()),
    ];
    prop::collection::vec(piece, 1..16).prop_map(|pieces| pieces.concat())
}

#[derive(Clone, Debug)]
struct Config {
    max_line_length: Option<usize>,
    max_event_size: Option<usize>,
    comments: bool,
    base64: bool,
}

impl Config {
    fn decoder(&self) -> Decoder {
        let mut decoder = Decoder::new()
            .with_comments(self.comments)
            .with_base64(self.base64)
            .with_fields(["x"]);
        if let Some(max) = self.max_line_length {
            decoder = decoder.with_max_line_length(max);
        }
        if let Some(max) = self.max_event_size {
            decoder = decoder.with_max_event_size(max);
        }
        decoder
    }
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop::option::of(0usize..24),
        prop::option::of(0usize..48),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(max_line_length, max_event_size, comments, base64)| Config {
                max_line_length,
                max_event_size,
                comments,
                base64,
            },
        )
}

/// The spec's parsing algorithm read literally, with no concern for chunks,
/// copies or limits: decode the whole stream, drop one BOM, split lines,
/// interpret fields. The decoder must agree with it on every input.
fn reference_decode(input: &[u8]) -> (Vec<Frame>, String) {
    let text = String::from_utf8_lossy(input);
    let mut rest = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
    let mut frames = Vec::new();
    let (mut data, mut event_type, mut id_buffer, mut last_id) =
        (String::new(), String::new(), String::new(), String::new());
    let mut retry = None;
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
                    ..Event::default()
                }));
            }
            data.clear();
            event_type.clear();
            retry = None;
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
            _ => {}
        }
    }
    (frames, last_id)
}

proptest! {
    // Enough cases to shake out the format's corners while keeping the suite
    // within seconds; the fuzz targets explore the same properties for longer.
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn encoded_event_decodes_to_itself(event in writable_event(), base64 in any::<bool>()) {
        let wire = Encoder::new().with_base64(base64).encode(&event).expect("writable");
        let mut decoder = decoder_for(std::slice::from_ref(&event), base64);
        let frames: Vec<Frame> = decode_chunks(&mut decoder, [&wire[..]])
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("decode error");
        let expected = normalised(&event, base64);
        let mut expected_frames: Vec<Frame> = expected
            .comment
            .iter()
            .flat_map(|c| c.split('\n'))
            .map(|line| Frame::Comment(line.into()))
            .collect();
        expected_frames.extend(expected.retry.map(Frame::Retry));
        expected_frames.push(Frame::Event(expected));
        prop_assert_eq!(frames, expected_frames, "wire {:?}", wire);
    }

    #[test]
    fn encoded_stream_decodes_event_by_event(
        events in prop::collection::vec(writable_event(), 0..6),
        base64 in any::<bool>(),
    ) {
        let encoder = Encoder::new().with_base64(base64);
        let mut wire = bytes::BytesMut::new();
        for event in &events {
            encoder.encode_into(event, &mut wire).expect("writable");
        }
        let mut decoder = decoder_for(&events, base64);
        let decoded = decoded_events(&mut decoder, &wire);
        // A decoded event's id is the last ID sent so far, not only its own.
        let mut last_id = ByteString::new();
        let expected: Vec<Event> = events
            .iter()
            .map(|event| {
                let mut expected = normalised(event, base64);
                if let Some(id) = &event.id {
                    last_id = id.clone();
                }
                expected.id = (!last_id.is_empty()).then(|| last_id.clone());
                expected
            })
            .collect();
        prop_assert_eq!(decoded, expected);
        prop_assert_eq!(decoder.last_event_id(), &*last_id);
    }

    #[test]
    fn encoder_rejects_exactly_what_cannot_be_written(event in any_event()) {
        let breaks = |s: &str| s.contains(['\r', '\n']);
        let bad_id = event.id.as_deref().is_some_and(|id| breaks(id) || id.contains('\0'));
        let bad_type = event.event.as_deref().is_some_and(breaks);
        let bad_field = event.fields.iter().any(|(n, v)| {
            n.is_empty()
                || ["data", "event", "id", "retry"].contains(&&**n)
                || n.starts_with('\u{FEFF}')
                || n.contains(':')
                || breaks(n)
                || breaks(v)
        });
        match Encoder::new().encode(&event) {
            Ok(wire) => {
                prop_assert!(!bad_id && !bad_type && !bad_field, "accepted {:?}", wire);
                let decoded = decoded_events(&mut decoder_for(std::slice::from_ref(&event), false), &wire);
                prop_assert_eq!(decoded, vec![normalised(&event, false)]);
            }
            Err(EncodeError::InvalidId { .. }) => prop_assert!(bad_id),
            Err(EncodeError::InvalidEventType { .. }) => prop_assert!(bad_type && !bad_id),
            Err(EncodeError::InvalidFieldName { .. } | EncodeError::InvalidFieldValue { .. }) => {
                prop_assert!(bad_field && !bad_id && !bad_type)
            }
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }

    #[test]
    fn output_does_not_depend_on_chunking(
        input in stream_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        config in config(),
    ) {
        let whole = decode_chunks(&mut config.decoder(), [&input[..]]);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for end in at {
            chunks.push(&input[start..end]);
            start = end;
        }
        chunks.push(&input[start..]);
        prop_assert_eq!(&decode_chunks(&mut config.decoder(), chunks), &whole);
        prop_assert_eq!(&decode_chunks(&mut config.decoder(), input.chunks(1)), &whole);
    }

    #[test]
    fn feeding_bytes_decodes_as_feeding_slices(
        input in long_stream_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        modes in prop::collection::vec(any::<(bool, bool)>(), 11),
        config in config(),
    ) {
        let whole = decode_chunks(&mut config.decoder(), [&input[..]]);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        at.sort_unstable();
        at.push(input.len());
        let mut decoder = config.decoder();
        let (mut out, mut start) = (Vec::new(), 0);
        // Each chunk borrowed or as `Bytes`, pulled after or not.
        for (end, &(owned, pull)) in at.into_iter().zip(&modes) {
            let chunk = &input[start..end];
            start = end;
            if owned {
                decoder.feed_bytes(Bytes::copy_from_slice(chunk));
            } else {
                decoder.feed(chunk);
            }
            if pull {
                out.extend(decoder.by_ref());
            }
        }
        out.extend(decoder.by_ref());
        decoder.end_stream();
        out.extend(decoder.by_ref());
        prop_assert_eq!(out, whole);
        prop_assert_eq!(decoder.buffered_len(), 0);
    }

    #[test]
    fn borrowed_frames_are_the_owned_frames(
        input in long_stream_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        modes in prop::collection::vec(any::<(bool, bool)>(), 11),
        config in config(),
    ) {
        let whole = decode_chunks(&mut config.decoder(), [&input[..]]);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        at.sort_unstable();
        at.push(input.len());
        let mut decoder = config.decoder();
        let (mut out, mut start) = (Vec::new(), 0);
        // Each chunk borrowed or as `Bytes`, its frames pulled owned or lent.
        for (end, &(owned, lent)) in at.into_iter().zip(&modes) {
            let chunk = &input[start..end];
            start = end;
            if owned {
                decoder.feed_bytes(Bytes::copy_from_slice(chunk));
            } else {
                decoder.feed(chunk);
            }
            if lent {
                pull_lent(&mut decoder, &mut out);
            } else {
                out.extend(decoder.by_ref());
            }
        }
        decoder.end_stream();
        pull_lent(&mut decoder, &mut out);
        prop_assert_eq!(out, whole);
    }

    #[test]
    fn decoder_agrees_with_a_literal_reading_of_the_spec(input in stream_bytes()) {
        let mut decoder = Decoder::new();
        let frames: Vec<Frame> = decode_chunks(&mut decoder, [&input[..]])
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("no limits, no base64: no errors");
        let (expected, last_id) = reference_decode(&input);
        prop_assert_eq!(frames, expected);
        prop_assert_eq!(decoder.last_event_id(), last_id);
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(
        input in prop::collection::vec(any::<u8>(), 0..256),
        config in config(),
    ) {
        let mut decoder = config.decoder();
        let out = decode_chunks(&mut decoder, input.chunks(7));
        prop_assert!(out.len() <= input.len() + 1);
        prop_assert_eq!(decoder.buffered_len(), 0);
    }
}
