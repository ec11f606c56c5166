//! JSON form of events and frames (feature `serde`).
#![cfg(feature = "serde")]

use std::time::Duration;

use sse_proto::{Event, Frame};

#[test]
fn event_serialises_without_absent_fields_and_retry_in_ms() {
    let event = Event::new("t", "d")
        .id("1")
        .retry(Duration::from_millis(1500));
    let json = serde_json::to_string(&event).unwrap();
    assert_eq!(json, r#"{"id":"1","event":"t","data":"d","retry":1500}"#);
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    assert_eq!(
        serde_json::from_str::<Event>(r#"{"data":"x"}"#).unwrap(),
        Event::data("x")
    );
}

#[test]
fn frames_round_trip_through_json() {
    for frame in [
        Frame::Event(Event::data("x").field("k", "v").comment("c")),
        Frame::Retry(Duration::from_secs(2)),
        Frame::Comment("ping".into()),
    ] {
        let json = serde_json::to_string(&frame).unwrap();
        assert_eq!(
            serde_json::from_str::<Frame>(&json).unwrap(),
            frame,
            "{json}"
        );
    }
    assert_eq!(
        serde_json::to_string(&Frame::Retry(Duration::from_secs(2))).unwrap(),
        r#"{"retry":2000}"#
    );
}
