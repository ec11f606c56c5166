//! The web-platform-tests `eventsource/format-*` cases, rewritten against the
//! decoder. Each test is named after its WPT file. The WPT server script
//! (`resources/message.*`) writes `message`, then `newline` (`\n\n` unless the
//! test passes `newline=none`), then one more `\n`; `body` rebuilds that. A
//! reconnection is `end_stream` followed by the next response body on the same
//! decoder, which is what a reconnecting EventSource does.
//!
//! Not here: `format-mime-*` check the response's Content-Type, which is the
//! HTTP client's job (sse-actix), not the codec's.

mod common;

use std::time::Duration;

use common::{decode_chunks, decode_with};
use sse_proto::{Decoder, Event, Frame};

fn body(message: &str) -> String {
    format!("{message}\n\n\n")
}

fn body_without_newline(message: &str) -> String {
    format!("{message}\n")
}

fn events(input: &str) -> Vec<Event> {
    decode_with(Decoder::new, input.as_bytes())
        .into_iter()
        .filter_map(|frame| match frame.expect("decode error") {
            Frame::Event(event) => Some(event),
            _ => None,
        })
        .collect()
}

fn data(input: &str) -> Vec<String> {
    events(input)
        .into_iter()
        .map(|e| e.data.to_string())
        .collect()
}

/// The events of successive connections of one EventSource.
fn connections(bodies: &[&str]) -> Vec<Event> {
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    for body in bodies {
        for frame in decode_chunks(&mut decoder, [body.as_bytes()]) {
            if let Frame::Event(event) = frame.expect("decode error") {
                out.push(event);
            }
        }
    }
    out
}

#[test]
fn format_bom() {
    assert_eq!(
        data(&body("\u{FEFF}data:1\n\n\u{FEFF}data:2\n\ndata:3")),
        ["1", "3"]
    );
}

#[test]
fn format_bom_2() {
    assert_eq!(
        data(&body("\u{FEFF}\u{FEFF}data:1\n\ndata:2\n\ndata:3")),
        ["2", "3"]
    );
}

#[test]
fn format_comments() {
    let long = "x".repeat(2 * 1024);
    let message =
        format!("data:1\r:\0\n:\r\ndata:2\n:{long}\rdata:3\n:data:fail\r:{long}\ndata:4\n");
    assert_eq!(data(&body_without_newline(&message)), ["1\n2\n3\n4"]);
}

#[test]
fn format_data_before_final_empty_line() {
    let response = body_without_newline("retry:1000\ndata:test1\n\nid:test\ndata:test2");
    let out = connections(&[&response, &response]);
    // The unterminated event (and its `id:`) is dropped at the end of each
    // connection, so the replayed `test1` has an empty lastEventId.
    let retry = Duration::from_millis(1000);
    assert_eq!(
        out,
        [
            Event::data("test1").retry(retry),
            Event::data("test1").retry(retry)
        ]
    );
}

#[test]
fn format_field_data() {
    assert_eq!(
        data(&body("data:\n\ndata\ndata\n\ndata:test")),
        ["", "\n", "test"]
    );
}

#[test]
fn format_field_event() {
    let out = events(&body("event:test\ndata:x\n\ndata:x"));
    assert_eq!(out, [Event::new("test", "x"), Event::data("x")]);
    assert_eq!(out[1].event_type(), "message");
}

#[test]
fn format_field_event_empty() {
    let out = events(&body("event: \ndata:data"));
    assert_eq!(out, [Event::data("data")]);
    assert_eq!(out[0].event_type(), "message");
}

/// `resources/last-event-id.*`: sends `id: …` and `hello` the first time, and
/// echoes the `Last-Event-ID` request header as data on reconnection.
fn last_event_id_server(last_event_id: &str, id: &str) -> String {
    if last_event_id.is_empty() {
        format!("id: {id}\nretry: 200\ndata: hello\n\n")
    } else {
        format!("data: {last_event_id}\n\n")
    }
}

/// Connects `times` times, sending the decoder's last event ID each time.
fn reconnecting(times: usize, id: &str) -> Vec<Event> {
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    for _ in 0..times {
        let response = last_event_id_server(decoder.last_event_id(), id);
        for frame in decode_chunks(&mut decoder, [response.as_bytes()]) {
            if let Frame::Event(event) = frame.expect("decode error") {
                out.push(event);
            }
        }
    }
    out
}

#[test]
fn format_field_id() {
    let out = reconnecting(2, "…");
    assert_eq!(out[0].data, "hello");
    assert_eq!(out[0].id.as_deref(), Some("…"));
    assert_eq!(out[1], Event::data("…").id("…"));
}

#[test]
fn format_field_id_2() {
    let out = reconnecting(3, "…");
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].id.as_deref(), Some("…"));
    assert_eq!(out[1], Event::data("…").id("…"));
    assert_eq!(out[2], Event::data("…").id("…"));
}

#[test]
fn format_field_id_3() {
    let ids = |message: &str| -> Vec<Option<String>> {
        events(message)
            .into_iter()
            .map(|e| e.id.map(|id| id.to_string()))
            .collect()
    };
    let some = |s: &str| Some(s.to_owned());
    // persists
    assert_eq!(ids("id: 1\ndata: 1\n\ndata:2\n\n"), [some("1"), some("1")]);
    // changes and persists
    assert_eq!(
        ids("id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n"),
        [some("1"), some("2"), some("2")]
    );
    // resets
    assert_eq!(
        ids("id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n"),
        [some("1"), None, None]
    );
}

#[test]
fn format_field_id_null() {
    // Current WPT and spec: an `id` holding U+0000 is ignored, so the last
    // event ID stays empty and the reconnection sends none (the server then
    // says hello again).
    let out = reconnecting(2, "\0\0");
    let hello = Event::data("hello").retry(Duration::from_millis(200));
    assert_eq!(out, [hello.clone(), hello]);
}

#[test]
fn format_field_parsing() {
    let message = "data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n";
    assert_eq!(data(&body_without_newline(message)), ["\0\n 2\n1\n3\n\n4"]);
}

#[test]
fn format_field_retry() {
    let frames: Vec<Frame> = decode_with(Decoder::new, body("retry:02000\ndata:x").as_bytes())
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    // 02000 is 2000 in decimal, not 1024 in octal.
    assert_eq!(frames[0], Frame::Retry(Duration::from_millis(2000)));
}

#[test]
fn format_field_retry_bogus() {
    let mut decoder = Decoder::new();
    let out = decode_chunks(
        &mut decoder,
        [body("retry:2000\nretry:1000x\ndata:x").as_bytes()],
    );
    assert_eq!(
        out,
        [
            Ok(Frame::Retry(Duration::from_millis(2000))),
            Ok(Frame::Event(
                Event::data("x").retry(Duration::from_millis(2000))
            )),
        ]
    );
    assert_eq!(decoder.retry(), Some(Duration::from_millis(2000)));
}

#[test]
fn format_field_unknown() {
    let message = "data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test";
    assert_eq!(data(&body(message)), ["test\n\ntest"]);
}

#[test]
fn format_leading_space() {
    assert_eq!(
        data(&body("data:\ttest\rdata: \ndata:test")),
        ["\ttest\n\ntest"]
    );
}

#[test]
fn format_newlines() {
    assert_eq!(
        data(&body_without_newline("data:test\r\ndata\ndata:test\r\n\r")),
        ["test\n\ntest"]
    );
}

#[test]
fn format_null_character() {
    assert_eq!(data(&body("data:\0\n")), ["\0"]);
}

#[test]
fn format_utf_8() {
    // The stream is UTF-8 whatever charset the Content-Type claims.
    assert_eq!(data(&body("data:ok\u{2026}")), ["ok…"]);
}
