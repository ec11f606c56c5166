//! Snapshots of the encoder's wire output. Each line is shown as a Rust
//! string literal, so CR, NUL and trailing spaces are visible in review.

use std::time::Duration;

use bytes::BytesMut;
use sse_proto::{Encoder, Event, Frame};

fn show(wire: &[u8]) -> String {
    let text = std::str::from_utf8(wire).expect("the encoder writes UTF-8");
    text.split_inclusive('\n')
        .map(|line| format!("{line:?}\n"))
        .collect()
}

fn encoded(event: &Event) -> String {
    show(&Encoder::new().encode(event).expect("encodable"))
}

#[test]
fn data_only() {
    insta::assert_snapshot!(encoded(&Event::data("hello")));
}

#[test]
fn typed_event_with_id() {
    insta::assert_snapshot!(encoded(&Event::new("update", "{\"n\":1}").id("42")));
}

#[test]
fn multi_line_data_with_every_line_ending() {
    insta::assert_snapshot!(encoded(&Event::data("lf\ncrlf\r\ncr\rlast\n")));
}

#[test]
fn empty_values() {
    insta::assert_snapshot!(encoded(&Event::data("").id("").event("").comment("")));
}

#[test]
fn every_field() {
    let event = Event::new("tick", "payload")
        .id("7")
        .retry(Duration::from_millis(2500))
        .comment("first\nsecond")
        .field("trace", "abc")
        .field("span", "");
    insta::assert_snapshot!(encoded(&event));
}

#[test]
fn leading_spaces_and_unicode() {
    insta::assert_snapshot!(encoded(
        &Event::new(" spaced", "  two spaces, é, 😀, \0").id(" 1")
    ));
}

#[test]
fn base64_data() {
    let wire = Encoder::new()
        .with_base64(true)
        .encode(&Event::data("binary\0\r\nline").id("b"))
        .unwrap();
    insta::assert_snapshot!(show(&wire));
}

#[test]
fn frames_and_a_stream() {
    let encoder = Encoder::new();
    let mut wire = BytesMut::new();
    for frame in [
        Frame::Comment("keep-alive".into()),
        Frame::Retry(Duration::from_secs(3)),
        Frame::Event(Event::data("one").id("1")),
        Frame::Event(Event::new("two", "2\n2")),
    ] {
        encoder.encode_frame_into(&frame, &mut wire).unwrap();
    }
    wire.extend_from_slice(&Encoder::comment("multi\r\nline"));
    wire.extend_from_slice(&Encoder::retry(Duration::from_micros(1999)));
    insta::assert_snapshot!(show(&wire));
}
