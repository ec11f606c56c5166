//! The examples of the WHATWG HTML "Server-sent events" section, as tests.

mod common;

use common::{data, events};
use sse_proto::Event;

#[test]
fn stock_example_is_one_event_of_three_lines() {
    let input = "data: YHOO\ndata: +2\ndata: 10\n\n";
    assert_eq!(events(input), [Event::data("YHOO\n+2\n10")]);
}

#[test]
fn four_blocks_example_comment_ids_and_leading_space() {
    let input = ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
    assert_eq!(
        events(input),
        [
            Event::data("first event").id("1"),
            // A bare `id` resets the last event ID to empty.
            Event::data("second event"),
            // Only one leading space is removed.
            Event::data(" third event"),
        ]
    );
}

#[test]
fn empty_data_examples_and_unterminated_final_event() {
    // Two events: one with empty data, one with a single LF; the final
    // `data:` is never followed by a blank line, so it is discarded.
    assert_eq!(data("data\n\ndata\ndata\n\ndata:"), ["", "\n"]);
}

#[test]
fn space_after_colon_is_optional() {
    assert_eq!(data("data:test\n\ndata: test\n\n"), ["test", "test"]);
}

#[test]
fn authoring_example_messages() {
    let input = "data: This is the first message.\n\ndata: This is the second message, it\ndata: has two lines.\n\ndata: This is the third message.\n\n";
    assert_eq!(
        data(input),
        [
            "This is the first message.",
            "This is the second message, it\nhas two lines.",
            "This is the third message.",
        ]
    );
}

#[test]
fn event_types_example() {
    let input =
        "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n";
    assert_eq!(
        events(input),
        [
            Event::new("add", "73857293"),
            Event::new("remove", "2153"),
            Event::new("add", "113411"),
        ]
    );
}

#[test]
fn keep_alive_comment_dispatches_nothing() {
    // The spec suggests a comment line every 15 seconds or so as keep-alive.
    assert_eq!(data(": keep-alive\n\n:\n\ndata: x\n\n"), ["x"]);
}
