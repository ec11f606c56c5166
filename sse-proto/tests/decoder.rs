//! The decoder against the wire rules of ARCHITECTURE.md, one test per rule. Every input here goes
//! through `common::decode_with`, which also checks that every two-chunk split
//! and byte-at-a-time feeding give the same output.

mod common;

use std::time::Duration;

use common::{data, decode_chunks, decode_with, events, frames};
use sse_proto::{DecodeError, Decoder, Event, EventRef, Frame, FrameRef};

fn ev(data: &str) -> Frame {
    Frame::Event(Event::data(data))
}

// Rule 1: UTF-8, one BOM at the very start, U+FFFD for invalid bytes.

#[test]
fn bom_at_stream_start_is_skipped() {
    assert_eq!(data("\u{FEFF}data: a\n\n"), ["a"]);
}

#[test]
fn bom_split_across_chunks_is_skipped() {
    let mut decoder = Decoder::new();
    let out = decode_chunks(
        &mut decoder,
        [&b"\xEF"[..], b"\xBB", b"\xBF", b"data: a\n\n"],
    );
    assert_eq!(out, [Ok(ev("a"))]);
}

#[test]
fn second_bom_is_part_of_the_first_field_name() {
    // `\u{FEFF}data` is an unknown field, so the first event has no data.
    assert_eq!(data("\u{FEFF}\u{FEFF}data: a\n\ndata: b\n\n"), ["b"]);
}

#[test]
fn bom_after_stream_start_is_not_skipped() {
    assert_eq!(
        data("data: a\n\n\u{FEFF}data: b\n\ndata: c\n\n"),
        ["a", "c"]
    );
    assert_eq!(data("data: \u{FEFF}x\n\n"), ["\u{FEFF}x"]);
}

#[test]
fn partial_bom_is_not_skipped() {
    assert_eq!(data(b"\xEF\xBBdata: a\n\ndata: b\n\n"), ["b"]);
}

#[test]
fn bom_is_skipped_again_at_the_start_of_the_next_stream() {
    let mut decoder = Decoder::new();
    let mut out = decode_chunks(&mut decoder, ["\u{FEFF}data: a\n\n".as_bytes()]);
    out.extend(decode_chunks(
        &mut decoder,
        ["\u{FEFF}data: b\n\n".as_bytes()],
    ));
    assert_eq!(out, [Ok(ev("a")), Ok(ev("b"))]);
}

#[test]
fn invalid_utf8_is_replaced_not_an_error() {
    let out = events(b"id: \xFF1\nevent: t\xC3\ndata: a\xFFb\xE2\x82\ndata: \xF0\x9F\x98\x80\n\n");
    assert_eq!(
        out,
        [Event::new("t\u{FFFD}", "a\u{FFFD}b\u{FFFD}\n\u{1F600}").id("\u{FFFD}1")]
    );
}

#[test]
fn invalid_utf8_is_replaced_per_maximal_subpart_like_the_whatwg_decoder() {
    // Overlong and surrogate encodings: one U+FFFD per byte. A truncated
    // sequence: one U+FFFD for the whole prefix. Line ends and colons are
    // ASCII, which never continue a sequence, so decoding per field gives the
    // same text as decoding the whole stream first, as the spec does.
    assert_eq!(
        data(b"data: \xF0\x80\x80|\xED\xA0\x80|\xF0\x9F\x98\n\n"),
        ["\u{FFFD}\u{FFFD}\u{FFFD}|\u{FFFD}\u{FFFD}\u{FFFD}|\u{FFFD}"]
    );
    assert_eq!(data(b"data: \xC3\ndata:\xC3\xA9\n\n"), ["\u{FFFD}\n\u{e9}"]);
}

#[test]
fn multibyte_characters_split_across_chunks_decode_whole() {
    assert_eq!(data("data: é€😀\n\n"), ["é€😀"]);
}

// Rule 2: CRLF, LF or CR; a CR ending one chunk and an LF starting the next
// are one line ending.

#[test]
fn lf_cr_and_crlf_all_end_lines() {
    assert_eq!(data("data: a\rdata: b\ndata: c\r\n\r\n"), ["a\nb\nc"]);
    assert_eq!(
        data("data: a\r\rdata: b\n\ndata: c\r\n\r\n"),
        ["a", "b", "c"]
    );
}

#[test]
fn cr_at_chunk_end_then_lf_is_one_line_ending() {
    let mut decoder = Decoder::new();
    let out = decode_chunks(
        &mut decoder,
        [&b"data: a\r"[..], b"\ndata: b\r", b"\n\r", b"\n"],
    );
    assert_eq!(out, [Ok(ev("a\nb"))]);
}

#[test]
fn cr_at_chunk_end_then_other_byte_is_a_line_ending() {
    let mut decoder = Decoder::new();
    let out = decode_chunks(&mut decoder, [&b"data: a\r"[..], b"data: b\r", b"\r"]);
    assert_eq!(out, [Ok(ev("a\nb"))]);
}

#[test]
fn lf_cr_is_two_line_endings() {
    assert_eq!(data("data: a\n\rdata: b\n\n"), ["a", "b"]);
}

// Rule 3: an empty line dispatches; `:` starts a comment.

#[test]
fn empty_line_dispatches() {
    assert_eq!(data("data: a\n\ndata: b\n\n"), ["a", "b"]);
    assert_eq!(data("data: a\n"), Vec::<String>::new());
}

#[test]
fn comments_are_ignored_by_dispatch() {
    assert_eq!(data(": c\n\n:\n\n"), Vec::<String>::new());
    assert_eq!(data("data: a\n: data: x\n:\ndata: b\n\n"), ["a\nb"]);
}

#[test]
fn comments_are_reported_only_when_asked() {
    let input = b": one\n:two\n:  three\ndata: a\n\n";
    assert_eq!(decode_with(Decoder::new, input), [Ok(ev("a"))]);
    let out = decode_with(|| Decoder::new().with_comments(true), input);
    assert_eq!(
        out,
        [
            Ok(Frame::Comment("one".into())),
            Ok(Frame::Comment("two".into())),
            Ok(Frame::Comment(" three".into())),
            // Deliberate: the event carries the comments of its block.
            Ok(Frame::Event(Event::data("a").comment("one\ntwo\n three"))),
        ]
    );
}

#[test]
fn comment_without_event_is_still_reported() {
    let out = decode_with(|| Decoder::new().with_comments(true), b":\n\n: ping\n");
    assert_eq!(
        out,
        [
            Ok(Frame::Comment("".into())),
            Ok(Frame::Comment("ping".into()))
        ]
    );
}

// Rule 4: name up to the first colon; one leading space dropped from the value.

#[test]
fn field_name_ends_at_the_first_colon() {
    assert_eq!(data("data:a:b\n\ndata: : \n\n"), ["a:b", ": "]);
}

#[test]
fn exactly_one_leading_space_is_dropped() {
    assert_eq!(
        data("data:a\n\ndata: a\n\ndata:  a\n\ndata:\ta\n\n"),
        ["a", "a", " a", "\ta"]
    );
}

#[test]
fn line_without_colon_is_a_field_with_an_empty_value() {
    assert_eq!(data("data\n\ndata\ndata\n\n"), ["", "\n"]);
    // `event` alone resets the type; `id` alone resets the last event ID.
    let out = events("id: 1\nevent: t\nevent\ndata: a\n\nid\ndata: b\n\n");
    assert_eq!(out, [Event::data("a").id("1"), Event::data("b")]);
}

#[test]
fn field_names_are_case_sensitive_and_exact() {
    assert_eq!(data("Data: a\ndata : b\n data: c\ndata: d\n\n"), ["d"]);
}

// Rule 5: the fields.

#[test]
fn event_field_sets_the_type_and_the_last_one_wins() {
    let out = events("event: a\nevent: b\ndata: x\n\nevent: c\nevent:\ndata: y\n\n");
    assert_eq!(out, [Event::new("b", "x"), Event::data("y")]);
    assert_eq!(out[1].event_type(), "message");
}

#[test]
fn data_fields_append_with_lf() {
    assert_eq!(data("data: a\ndata: b\ndata:\ndata: c\n\n"), ["a\nb\n\nc"]);
}

#[test]
fn id_field_sets_the_last_event_id() {
    let out = events("id: 1\ndata: a\n\nid: x y \ndata: b\n\n");
    assert_eq!(out, [Event::data("a").id("1"), Event::data("b").id("x y ")]);
}

#[test]
fn id_with_nul_is_ignored() {
    let out = events("id: 1\ndata: a\n\nid: 2\0\ndata: b\n\nid: \0\ndata: c\n\n");
    assert_eq!(
        out,
        [
            Event::data("a").id("1"),
            Event::data("b").id("1"),
            Event::data("c").id("1")
        ]
    );
}

#[test]
fn empty_id_resets_the_last_event_id() {
    let mut decoder = Decoder::new();
    let out = decode_chunks(&mut decoder, [&b"id: 1\ndata: a\n\nid:\ndata: b\n\n"[..]]);
    // Deliberate: an empty last event ID decodes as `None`, not `Some("")`.
    assert_eq!(
        out,
        [Ok(Frame::Event(Event::data("a").id("1"))), Ok(ev("b"))]
    );
    assert_eq!(decoder.last_event_id(), "");
}

#[test]
fn retry_with_only_digits_sets_the_reconnection_time() {
    let input = b"retry: 1500\ndata: a\n\nretry:02000\n\n";
    let mut decoder = Decoder::new();
    let out = decode_chunks(&mut decoder, [&input[..]]);
    let ms = Duration::from_millis;
    assert_eq!(
        out,
        [
            Ok(Frame::Retry(ms(1500))),
            // Deliberate: the event carries the retry of its block.
            Ok(Frame::Event(Event::data("a").retry(ms(1500)))),
            // Reported although its block dispatches nothing.
            Ok(Frame::Retry(ms(2000))),
        ]
    );
    assert_eq!(decoder.retry(), Some(ms(2000)));
    assert_eq!(decode_with(Decoder::new, input), out);
}

#[test]
fn retry_that_is_not_only_digits_is_ignored() {
    for value in [
        "", "  1", "1 ", "-1", "+1", "1.5", "1e3", "10x", "x", "\u{661}",
    ] {
        let input = format!("retry: 100\n\nretry:{value}\ndata: a\n\n");
        let out = frames(&input);
        assert_eq!(
            out,
            [
                Frame::Retry(Duration::from_millis(100)),
                Frame::Event(Event::data("a"))
            ],
            "{value:?}"
        );
    }
}

#[test]
fn huge_retry_saturates_instead_of_overflowing() {
    let out = frames("retry: 99999999999999999999999999\n");
    assert_eq!(out, [Frame::Retry(Duration::from_millis(u64::MAX))]);
}

#[test]
fn retry_is_reported_even_if_its_event_is_never_dispatched() {
    let out = frames("retry: 7\ndata: incomplete");
    assert_eq!(out, [Frame::Retry(Duration::from_millis(7))]);
}

#[test]
fn unknown_fields_are_ignored() {
    assert_eq!(data("foo: 1\nbar\ndata: a\nbaz:\n\n"), ["a"]);
}

#[test]
fn custom_fields_are_kept_only_when_named() {
    let input = b"x: 1\ny: 2\nx:3\ndata: a\n\nx: lost\n\ndata: b\n\n";
    let plain = decode_with(Decoder::new, input);
    assert_eq!(plain, [Ok(ev("a")), Ok(ev("b"))]);
    let kept = decode_with(|| Decoder::new().with_fields(["x"]), input);
    assert_eq!(
        kept,
        [
            Ok(Frame::Event(
                Event::data("a").field("x", "1").field("x", "3")
            )),
            Ok(ev("b")),
        ]
    );
    let Ok(Frame::Event(event)) = &kept[0] else {
        unreachable!()
    };
    assert_eq!(event.field_value("x"), Some("1"));
    assert_eq!(event.field_value("y"), None);
}

#[test]
fn reserved_names_cannot_be_kept_as_custom_fields() {
    let out = decode_with(
        || Decoder::new().with_fields(["data", "id"]),
        b"id: 1\ndata: a\n\n",
    );
    assert_eq!(out, [Ok(Frame::Event(Event::data("a").id("1")))]);
}

// Rule 6: dispatch.

#[test]
fn last_event_id_persists_across_events() {
    let out = events("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\ndata: d\n\n");
    let ids: Vec<_> = out.iter().map(|e| e.id.as_deref()).collect();
    assert_eq!(ids, [Some("1"), Some("1"), Some("2"), Some("2")]);
}

#[test]
fn block_without_data_dispatches_nothing_but_commits_the_id() {
    let mut decoder = Decoder::new();
    let out = decode_chunks(&mut decoder, [&b"event: t\nid: 3\n\n"[..]]);
    assert_eq!(out, []);
    assert_eq!(decoder.last_event_id(), "3");
    // The type was reset with the data buffer.
    assert_eq!(events("event: t\n\ndata: a\n\n"), [Event::data("a")]);
}

#[test]
fn one_trailing_lf_is_removed() {
    assert_eq!(data("data: a\ndata:\n\ndata:\ndata:\n\n"), ["a\n", "\n"]);
}

#[test]
fn type_defaults_to_message_and_buffers_reset_after_dispatch() {
    let out = decode_with(
        || Decoder::new().with_comments(true).with_fields(["x"]),
        b"event: t\nretry: 5\n: c\nx: 1\ndata: a\n\ndata: b\n\n",
    );
    assert_eq!(out.last(), Some(&Ok(ev("b"))));
    let Some(Ok(Frame::Event(b))) = out.last() else {
        unreachable!()
    };
    assert_eq!(b.event_type(), Event::DEFAULT_TYPE);
}

// Rule 7: an unterminated event is discarded at the end of the stream.

#[test]
fn incomplete_event_is_discarded_at_end_of_stream() {
    assert_eq!(data("data: a\n\ndata: b"), ["a"]);
    assert_eq!(data("data: a\n\ndata: b\n"), ["a"]);
    let mut decoder = Decoder::new();
    decoder.feed(b"data: a\n\ndata: b\n");
    assert_eq!(decoder.by_ref().count(), 1);
    assert!(decoder.end_stream(), "something was discarded");
    assert!(!decoder.end_stream(), "nothing left to discard");
    assert_eq!(decoder.next(), None);
}

#[test]
fn last_event_id_persists_across_end_stream_but_uncommitted_id_is_dropped() {
    // Deliberate (the spec leaves it implicit): a reconnecting EventSource
    // keeps its last event ID, but an `id:` of an event that never completed
    // was never committed (matches WPT format-data-before-final-empty-line).
    let mut decoder = Decoder::new();
    let mut out = decode_chunks(&mut decoder, [&b"id: 1\ndata: a\n\nid: 2\ndata: b"[..]]);
    assert_eq!(decoder.last_event_id(), "1");
    out.extend(decode_chunks(&mut decoder, [&b"data: c\n\n"[..]]));
    assert_eq!(
        out,
        [
            Ok(Frame::Event(Event::data("a").id("1"))),
            Ok(Frame::Event(Event::data("c").id("1")))
        ]
    );
}

#[test]
fn retry_persists_across_end_stream() {
    let mut decoder = Decoder::new();
    decode_chunks(&mut decoder, [&b"retry: 10\n"[..]]);
    assert_eq!(decoder.retry(), Some(Duration::from_millis(10)));
}

#[test]
fn seeded_last_event_id_is_used_until_changed() {
    let out = decode_with(
        || Decoder::new().with_last_event_id("41"),
        b"data: a\n\nid: 42\ndata: b\n\nid:\ndata: c\n\n",
    );
    assert_eq!(
        out,
        [
            Ok(Frame::Event(Event::data("a").id("41"))),
            Ok(Frame::Event(Event::data("b").id("42"))),
            Ok(ev("c")),
        ]
    );
    let mut decoder = Decoder::new();
    decoder.feed(b"id: 1\ndata: a\n\n");
    decoder.by_ref().for_each(drop);
    decoder.set_last_event_id("9");
    assert_eq!(decoder.last_event_id(), "9");
    decoder.feed(b"data: b\n\n");
    assert_eq!(
        decoder.next(),
        Some(Ok(Frame::Event(Event::data("b").id("9"))))
    );
}

// Rule 8: limits, reported once, recovered from, chunking-independent.

#[test]
fn line_too_long_is_reported_once_and_only_its_event_is_lost() {
    let input = b"data: a\n\ndata: b\ndata: 0123456789\nid: lost\n\ndata: c\n\n";
    let out = decode_with(|| Decoder::new().with_max_line_length(8), input);
    assert_eq!(
        out,
        [
            Ok(ev("a")),
            Err(DecodeError::LineTooLong { limit: 8 }),
            Ok(ev("c"))
        ]
    );
}

#[test]
fn line_at_the_limit_is_accepted() {
    let out = decode_with(
        || Decoder::new().with_max_line_length(8),
        b"data: ab\r\n\r\n",
    );
    assert_eq!(out, [Ok(ev("ab"))]);
}

#[test]
fn unterminated_long_line_is_rejected_without_buffering_it() {
    let mut decoder = Decoder::new().with_max_line_length(16);
    let mut errors = 0;
    decoder.feed(b"data: ");
    for _ in 0..10_000 {
        decoder.feed(b"x");
        errors += decoder.by_ref().filter(Result::is_err).count();
        assert!(decoder.buffered_len() <= 17, "{}", decoder.buffered_len());
    }
    decoder.feed(b"\n\ndata: ok\n\n");
    let rest: Vec<_> = decoder.by_ref().collect();
    assert_eq!(errors, 1);
    assert_eq!(rest, [Ok(ev("ok"))]);
}

#[test]
fn long_line_of_an_ignored_kind_still_counts() {
    // A limit bounds buffering, whatever the line turns out to be.
    let out = decode_with(
        || Decoder::new().with_max_line_length(4),
        b"data\n:0123456789\n\ndata\n\n",
    );
    assert_eq!(
        out,
        [Err(DecodeError::LineTooLong { limit: 4 }), Ok(ev(""))]
    );
}

#[test]
fn event_too_large_is_reported_once_and_the_next_event_decodes() {
    let input =
        b"id: 1\ndata: a\n\nid: 2\ndata: 12345\ndata: 67890\ndata: more\nretry: 5\n\ndata: b\n\n";
    let out = decode_with(|| Decoder::new().with_max_event_size(10), input);
    assert_eq!(
        out,
        [
            Ok(Frame::Event(Event::data("a").id("1"))),
            Err(DecodeError::EventTooLarge { limit: 10 }),
            // The discarded event's id (and later fields) went with it.
            Ok(Frame::Event(Event::data("b").id("1"))),
        ]
    );
}

#[test]
fn event_size_counts_type_kept_fields_and_reported_comments() {
    let limit = || DecodeError::EventTooLarge { limit: 6 };
    let small = || Decoder::new().with_max_event_size(6);
    assert_eq!(
        decode_with(small, b"event: 1234567\ndata\n\n"),
        [Err(limit())]
    );
    assert_eq!(
        decode_with(|| small().with_fields(["x"]), b"x: 123456\ndata\n\n"),
        [Err(limit())]
    );
    assert_eq!(decode_with(small, b": 123456789\ndata\n\n"), [Ok(ev(""))]);
    assert_eq!(
        decode_with(|| small().with_comments(true), b": 123456789\ndata\n\n"),
        [Err(limit())]
    );
}

#[test]
fn limit_errors_have_precise_messages() {
    assert_eq!(
        DecodeError::LineTooLong { limit: 8 }.to_string(),
        "line longer than the limit of 8 bytes: the line and its event were discarded"
    );
    assert_eq!(
        DecodeError::EventTooLarge { limit: 10 }.to_string(),
        "event larger than the limit of 10 bytes: the event was discarded"
    );
}

#[test]
fn default_limits_are_documented_values() {
    assert_eq!(Decoder::DEFAULT_MAX_LINE_LENGTH, 8 << 20);
    assert_eq!(Decoder::DEFAULT_MAX_EVENT_SIZE, 8 << 20);
}

// Base64 (r3labs `EncodeBase64` counterpart).

#[test]
fn base64_data_is_decoded_when_asked() {
    let input = b"data: aGk=\n\ndata: !!\n\ndata: /w==\n\n";
    let out = decode_with(|| Decoder::new().with_base64(true), input);
    assert_eq!(out[0], Ok(ev("hi")));
    assert!(
        matches!(&out[1], Err(DecodeError::InvalidBase64 { reason }) if !reason.is_empty()),
        "{:?}",
        out[1]
    );
    // Decoded bytes that are not UTF-8 are replaced like any other text.
    assert_eq!(out[2], Ok(ev("\u{FFFD}")));
    assert_eq!(out.len(), 3);
    assert_eq!(
        decode_with(Decoder::new, b"data: aGk=\n\n"),
        [Ok(ev("aGk="))]
    );
}

// `feed_bytes`: events sliced from the caller's own chunks.

/// Whether `text` lies inside `chunk`'s memory.
fn within(text: &str, chunk: &bytes::Bytes) -> bool {
    let range = chunk.as_ptr_range();
    range.start <= text.as_ptr() && text.as_bytes().as_ptr_range().end <= range.end
}

fn pull_events(decoder: &mut Decoder) -> Vec<Event> {
    decoder
        .by_ref()
        .map(|frame| match frame {
            Ok(Frame::Event(event)) => event,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn fields_of_a_line_within_a_byte_chunk_are_slices_of_it() {
    let first = bytes::Bytes::from_static(
        b"id: 1\nevent: update\ndata: the first event, whole in this chunk\n\ndata: the sec",
    );
    let second = bytes::Bytes::from_static(
        b"ond event\n\nid: 3\nevent: tick\ndata: the third, whole in the second chunk\n\n",
    );
    let mut decoder = Decoder::new();
    decoder.feed_bytes(first.clone());
    let events = pull_events(&mut decoder);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.data, "the first event, whole in this chunk");
    for text in [
        &event.data,
        event.event.as_ref().unwrap(),
        event.id.as_ref().unwrap(),
    ] {
        assert!(within(text, &first), "{text:?} is a copy");
    }

    decoder.feed_bytes(second.clone());
    let events = pull_events(&mut decoder);
    assert_eq!(events.len(), 2);
    // A line split between chunks is joined (a copy); the last event's
    // id, type and data are slices of the second chunk.
    assert_eq!(events[0].data, "the second event");
    assert!(!within(&events[0].data, &second));
    assert_eq!(events[1].data, "the third, whole in the second chunk");
    assert_eq!(decoder.last_event_id(), "3");
    let third = &events[1];
    for text in [
        &third.data,
        third.event.as_ref().unwrap(),
        third.id.as_ref().unwrap(),
    ] {
        assert!(within(text, &second), "{text:?} is a copy");
    }
}

#[test]
fn crlf_and_bom_split_across_byte_chunks_read_as_in_one_piece() {
    let input: &[u8] =
        b"\xEF\xBB\xBFdata: a line that ends with a CR at the end of the first chunk\r\ndata: b\r\n\r\n";
    let at = input.iter().position(|&b| b == b'\r').unwrap() + 1;
    let whole = decode_chunks(&mut Decoder::new(), [input]);
    assert_eq!(
        whole,
        [Ok(Frame::Event(Event::data(
            "a line that ends with a CR at the end of the first chunk\nb"
        )))]
    );
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    for chunk in [&input[..at], &input[at..]] {
        decoder.feed_bytes(bytes::Bytes::copy_from_slice(chunk));
        out.extend(decoder.by_ref());
    }
    assert_eq!(out, whole);
}

#[test]
fn byte_chunks_fed_without_pulling_decode_in_order() {
    let mut decoder = Decoder::new();
    for n in 0..3 {
        let chunk = format!("data: event number {n}, padded to more than sixty-four bytes\n\n");
        decoder.feed_bytes(bytes::Bytes::from(chunk));
    }
    let data: Vec<_> = pull_events(&mut decoder)
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert_eq!(data.len(), 3);
    assert!(data[2].starts_with("event number 2"), "{data:?}");
    assert_eq!(decoder.buffered_len(), 0);
}

// `next_ref`: frames lent by the decoder.

#[test]
fn lent_event_fields_point_into_the_fed_chunk() {
    let chunk = bytes::Bytes::from_static(
        b"id: 7\nevent: update\ndata: an event whole in one chunk of 64 bytes or more\n\ndata: no id of its own\n\n",
    );
    let mut decoder = Decoder::new();
    decoder.feed_bytes(chunk.clone());
    let Some(Ok(FrameRef::Event(event))) = decoder.next_ref() else {
        panic!("no event")
    };
    assert_eq!(
        (event.id, event.event, event.data),
        (
            Some("7"),
            Some("update"),
            "an event whole in one chunk of 64 bytes or more"
        )
    );
    // The id is the decoder's own copy of the last event ID.
    for text in [event.data, event.event.unwrap()] {
        assert!(within(text, &chunk), "{text:?} is a copy");
    }
    // The next event carries the last event ID without an `id:` line.
    let Some(Ok(FrameRef::Event(event))) = decoder.next_ref() else {
        panic!("no event")
    };
    assert_eq!((event.id, event.data), (Some("7"), "no id of its own"));
    assert!(within(event.data, &chunk));
    assert!(decoder.next_ref().is_none());
}

#[test]
fn lent_frames_of_the_line_by_line_path_match_the_owned_ones() {
    // A comment, a retry, two data lines and a kept field: nothing the
    // one-pass path decodes.
    let input: &[u8] = b": hi\nretry: 5\ndata: a\ndata: b\nx: y\n\n";
    let decoder = || Decoder::new().with_comments(true).with_fields(["x"]);
    let mut owned = decoder();
    owned.feed(input);
    let expected: Vec<Frame> = owned.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(expected.len(), 3);
    let mut lent = decoder();
    lent.feed(input);
    let mut frames = Vec::new();
    while let Some(frame) = lent.next_ref() {
        frames.push(frame.unwrap().to_frame());
    }
    assert_eq!(frames, expected);
    let Frame::Event(event) = &expected[2] else {
        panic!("{expected:?}")
    };
    assert_eq!(EventRef::from(event).to_event(), *event);
    assert_eq!(EventRef::from(event).field_value("x"), Some("y"));
}
