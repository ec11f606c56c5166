//! Any event the encoder accepts decodes to itself, modulo the documented
//! normalisations; any event it rejects really could not be written.

#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sse_proto::{ByteString, Decoder, EncodeError, Encoder, Event, Frame};

#[derive(Arbitrary, Debug)]
struct Input {
    id: Option<String>,
    event: Option<String>,
    data: String,
    retry: Option<(u32, u32)>,
    comment: Option<String>,
    fields: Vec<(String, String)>,
    base64: bool,
    /// Send the event twice in one stream, so that the second copy is not at
    /// stream start and must not be affected by the first.
    twice: bool,
}

fn lf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

fn breaks_line(text: &str) -> bool {
    text.contains(['\r', '\n'])
}

fuzz_target!(|input: Input| {
    let event = Event {
        id: input.id.map(ByteString::from),
        event: input.event.map(ByteString::from),
        data: input.data.into(),
        retry: input.retry.map(|(ms, nanos)| {
            Duration::from_millis(u64::from(ms))
                + Duration::from_nanos(u64::from(nanos % 1_000_000))
        }),
        comment: input.comment.map(ByteString::from),
        fields: input
            .fields
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .collect(),
    };
    let encoder = Encoder::new().with_base64(input.base64);
    let wire = match encoder.encode(&event) {
        Ok(wire) => wire,
        Err(EncodeError::InvalidId { .. }) => {
            let id = event.id.as_deref().unwrap();
            assert!(breaks_line(id) || id.contains('\0'));
            return;
        }
        Err(EncodeError::InvalidEventType { .. }) => {
            assert!(breaks_line(event.event.as_deref().unwrap()));
            return;
        }
        Err(EncodeError::InvalidFieldName { name }) => {
            assert!(
                name.is_empty()
                    || ["data", "event", "id", "retry"].contains(&&*name)
                    || name.starts_with('\u{FEFF}')
                    || breaks_line(&name)
                    || name.contains(':')
            );
            return;
        }
        Err(EncodeError::InvalidFieldValue { name }) => {
            assert!(
                event
                    .fields
                    .iter()
                    .any(|(n, v)| **n == name && breaks_line(v))
            );
            return;
        }
        Err(e) => panic!("unexpected error {e}"),
    };

    let expected = Event {
        id: event.id.clone().filter(|id| !id.is_empty()),
        event: event.event.clone().filter(|e| !e.is_empty()),
        data: if input.base64 {
            event.data.clone()
        } else {
            lf(&event.data).into()
        },
        retry: event
            .retry
            .map(|r| Duration::from_millis(r.as_millis() as u64)),
        comment: event.comment.as_deref().map(|c| lf(c).into()),
        fields: event.fields.clone(),
    };
    let mut frames: Vec<Frame> = expected
        .comment
        .iter()
        .flat_map(|c| c.split('\n'))
        .map(|line| Frame::Comment(line.into()))
        .collect();
    frames.extend(expected.retry.map(Frame::Retry));
    frames.push(Frame::Event(expected));

    let mut decoder = Decoder::new()
        .with_comments(true)
        .with_base64(input.base64)
        .with_fields(event.fields.iter().map(|(n, _)| n.to_string()));
    let copies = if input.twice { 2 } else { 1 };
    for _ in 0..copies {
        decoder.feed(&wire);
    }
    let decoded: Vec<Frame> = decoder
        .by_ref()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{wire:?} did not decode: {e}"));
    assert_eq!(decoded.len(), frames.len() * copies, "wire {wire:?}");
    for copy in decoded.chunks(frames.len()) {
        assert_eq!(copy, &frames[..], "wire {wire:?}");
    }
    assert!(!decoder.end_stream(), "{wire:?} left an incomplete event");
});
