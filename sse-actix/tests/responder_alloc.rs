//! A per-request response's steady state allocates nothing: once a fast
//! stream's batches have settled the buffer's size, each batch is encoded
//! into the allocation the previous one left. Counted per thread
//! (`allocation-counter`), so what the test harness or another thread
//! allocates meanwhile is not counted.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::MessageBody as _;
use bytes::Bytes;
use futures_util::stream;
use futures_util::task::noop_waker_ref;
use sse_actix::{Event, SseResponse};

/// The next chunk; a fast stream is always ready, so this never waits.
fn next(body: &mut SseResponse) -> Bytes {
    let mut cx = Context::from_waker(noop_waker_ref());
    match Pin::new(body).poll_next(&mut cx) {
        Poll::Ready(Some(Ok(chunk))) => chunk,
        other => panic!("a fast stream's body is always ready, got {other:?}"),
    }
}

#[actix_web::test]
async fn fast_stream_batches_allocate_nothing() {
    // Cloning the event shares its data: the stream allocates nothing.
    let mut body = SseResponse::from_stream(stream::repeat(Event::data("x".repeat(100))));
    // actix-web drops each chunk once it has copied it, as these drops do.
    for _ in 0..4 {
        drop(next(&mut body));
    }
    let mut sent = 0;
    let counted = allocation_counter::measure(|| {
        for _ in 0..100 {
            sent += next(&mut body).len();
        }
    });
    assert!(sent > 100 * 16 * 1024, "whole batches: {sent} bytes");
    assert_eq!(counted.count_total, 0, "{counted:?}");
}
