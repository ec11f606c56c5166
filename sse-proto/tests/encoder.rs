//! Every rejection of the encoder, and the shape of what it writes.

use std::time::Duration;

use bytes::BytesMut;
use sse_proto::{Decoder, EncodeError, Encoder, Event, Frame};

fn encode(event: &Event) -> Result<String, EncodeError> {
    Encoder::new()
        .encode(event)
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
}

#[test]
fn id_with_lf_cr_or_nul_is_rejected() {
    for id in ["a\nb", "a\rb", "a\r\nb", "a\0b", "\n"] {
        assert_eq!(
            encode(&Event::data("x").id(id)),
            Err(EncodeError::InvalidId { id: id.into() }),
            "{id:?}"
        );
    }
}

#[test]
fn event_type_with_lf_or_cr_is_rejected() {
    for event in ["a\nb", "a\rb", "\r\n"] {
        assert_eq!(
            encode(&Event::new(event, "x")),
            Err(EncodeError::InvalidEventType {
                event: event.into()
            })
        );
    }
    // NUL is harmless in a type: it is only special in `id`.
    assert_eq!(
        encode(&Event::new("a\0", "x")).unwrap(),
        "event: a\0\ndata: x\n\n"
    );
}

#[test]
fn invalid_custom_field_names_are_rejected() {
    for name in [
        "", "data", "event", "id", "retry", "a:b", ":", "a\nb", "a\rb",
    ] {
        assert_eq!(
            encode(&Event::data("x").field(name, "v")),
            Err(EncodeError::InvalidFieldName { name: name.into() }),
            "{name:?}"
        );
    }
}

/// Regression: a receiver strips one U+FEFF at the start of its stream, so a
/// custom field named `\u{FEFF}data` opening the first event of a response
/// arrived as a `data` field, injecting data. Such names are now rejected.
#[test]
fn custom_field_name_starting_with_bom_is_rejected() {
    let event = Event::data("x").field("\u{FEFF}data", "injected");
    assert_eq!(
        encode(&event),
        Err(EncodeError::InvalidFieldName {
            name: "\u{FEFF}data".into()
        })
    );
    // What that wire would have meant at stream start:
    let mut decoder = Decoder::new();
    decoder.feed("\u{FEFF}data: injected\ndata: x\n\n".as_bytes());
    let Some(Ok(Frame::Event(decoded))) = decoder.next() else {
        panic!("no event")
    };
    assert_eq!(decoded.data, "injected\nx");
    // Elsewhere in a name U+FEFF is harmless.
    assert!(encode(&Event::data("x").field("a\u{FEFF}", "v")).is_ok());
}

#[test]
fn custom_field_value_with_lf_or_cr_is_rejected() {
    for value in ["a\nb", "a\rb", "\r\n"] {
        assert_eq!(
            encode(&Event::data("x").field("name", value)),
            Err(EncodeError::InvalidFieldValue {
                name: "name".into()
            })
        );
    }
}

#[test]
fn rejection_writes_nothing() {
    let mut dst = BytesMut::from(&b"before"[..]);
    let bad = Event::data("x").comment("c").id("1\n");
    assert!(Encoder::new().encode_into(&bad, &mut dst).is_err());
    assert!(
        Encoder::new()
            .encode_frame_into(&Frame::Event(bad), &mut dst)
            .is_err()
    );
    assert_eq!(&dst[..], b"before");
}

#[test]
fn rejection_messages_name_the_problem() {
    let err = encode(&Event::data("x").id("a\nb")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event id \"a\\nb\" contains CR, LF or NUL, which cannot be sent in an `id:` field"
    );
    let err = encode(&Event::new("a\rb", "x")).unwrap_err();
    assert!(err.to_string().contains("\"a\\rb\""), "{err}");
    let err = encode(&Event::data("x").field("k", "a\nb")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "value of custom field \"k\" contains CR or LF"
    );
}

#[test]
fn multi_line_data_becomes_one_data_line_per_line() {
    assert_eq!(
        encode(&Event::data("a\nb\r\nc\rd")).unwrap(),
        "data: a\ndata: b\ndata: c\ndata: d\n\n"
    );
    assert_eq!(encode(&Event::data("a\n")).unwrap(), "data: a\ndata:\n\n");
    assert_eq!(
        encode(&Event::data("\r\n\r\n")).unwrap(),
        "data:\ndata:\ndata:\n\n"
    );
}

#[test]
fn data_cannot_inject_fields_or_dispatch() {
    let data = "x\n\nid: evil\nevent: evil\nretry: 1\n: c\ndata: y\r\rz";
    let wire = Encoder::new().encode(&Event::data(data)).unwrap();
    let mut decoder = Decoder::new().with_comments(true);
    decoder.feed(&wire);
    let frames: Vec<Frame> = decoder.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        frames,
        [Frame::Event(Event::data(
            "x\n\nid: evil\nevent: evil\nretry: 1\n: c\ndata: y\n\nz"
        ))]
    );
    assert_eq!(decoder.last_event_id(), "");
}

#[test]
fn empty_values_are_written_without_a_space() {
    assert_eq!(
        encode(&Event::data("").id("").event("").comment("")).unwrap(),
        ":\nid:\nevent:\ndata:\n\n"
    );
}

#[test]
fn values_starting_with_a_space_survive() {
    let event = Event::new(" t", " d")
        .id(" 1")
        .comment(" c")
        .field("f", " v");
    let wire = encode(&event).unwrap();
    assert_eq!(wire, ":  c\nid:  1\nevent:  t\nf:  v\ndata:  d\n\n");
    let mut decoder = Decoder::new().with_comments(true).with_fields(["f"]);
    decoder.feed(wire.as_bytes());
    let last = decoder.by_ref().last().unwrap().unwrap();
    assert_eq!(last, Frame::Event(event));
}

#[test]
fn every_event_has_a_data_line() {
    assert_eq!(encode(&Event::default()).unwrap(), "data:\n\n");
    assert_eq!(
        encode(&Event::default().id("1")).unwrap(),
        "id: 1\ndata:\n\n"
    );
}

#[test]
fn comments_become_one_line_each() {
    assert_eq!(
        &Encoder::comment("a\nb\r\nc\rd")[..],
        b": a\n: b\n: c\n: d\n"
    );
    assert_eq!(&Encoder::comment("")[..], b":\n");
    let mut dst = BytesMut::new();
    Encoder::new()
        .encode_frame_into(&Frame::Comment("ping".into()), &mut dst)
        .unwrap();
    assert_eq!(&dst[..], b": ping\n");
}

#[test]
fn retry_is_written_in_whole_milliseconds() {
    assert_eq!(
        &Encoder::retry(Duration::from_micros(1_500_999))[..],
        b"retry: 1500\n"
    );
    assert_eq!(&Encoder::retry(Duration::ZERO)[..], b"retry: 0\n");
    assert_eq!(
        &Encoder::retry(Duration::MAX)[..],
        format!("retry: {}\n", u64::MAX).as_bytes()
    );
    let mut dst = BytesMut::new();
    Encoder::new()
        .encode_frame_into(&Frame::Retry(Duration::from_secs(3)), &mut dst)
        .unwrap();
    assert_eq!(&dst[..], b"retry: 3000\n");
}

#[test]
fn base64_data_is_one_line_and_decodes_back() {
    let event = Event::data("line 1\r\nline 2\0\u{1F600}").id("9");
    let wire = Encoder::new().with_base64(true).encode(&event).unwrap();
    assert_eq!(&wire[..], b"id: 9\ndata: bGluZSAxDQpsaW5lIDIA8J+YgA==\n\n");
    let mut decoder = Decoder::new().with_base64(true);
    decoder.feed(&wire);
    // Base64 carries the data byte for byte: CRLF is not normalised.
    assert_eq!(decoder.next(), Some(Ok(Frame::Event(event))));
}

#[test]
fn encode_into_appends() {
    let mut dst = BytesMut::new();
    let encoder = Encoder::new();
    encoder.encode_into(&Event::data("1"), &mut dst).unwrap();
    encoder.encode_into(&Event::data("2"), &mut dst).unwrap();
    assert_eq!(&dst[..], b"data: 1\n\ndata: 2\n\n");
}
