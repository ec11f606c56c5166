//! A per-request response's steady state allocates nothing: once a fast
//! stream's batches have settled the buffer's size, each batch is encoded
//! into the allocation the previous one left (counted by a global
//! allocator; this file holds one test so nothing else runs meanwhile).

use std::alloc::System;
use std::future::poll_fn;
use std::pin::Pin;

use actix_web::body::MessageBody as _;
use futures_util::stream;
use sse_actix::{Event, SseResponse};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[actix_web::test]
async fn fast_stream_batches_allocate_nothing() {
    // Cloning the event shares its data: the stream allocates nothing.
    let mut body = SseResponse::from_stream(stream::repeat(Event::data("x".repeat(100))));
    let mut next = async || {
        poll_fn(|cx| Pin::new(&mut body).poll_next(cx))
            .await
            .unwrap()
            .unwrap()
    };
    // actix-web drops each chunk once it has copied it, as these drops do.
    for _ in 0..4 {
        drop(next().await);
    }
    let region = Region::new(GLOBAL);
    let mut sent = 0;
    for _ in 0..100 {
        sent += next().await.len();
    }
    let stats = region.change();
    assert!(sent > 100 * 16 * 1024, "whole batches: {sent} bytes");
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "{stats:?}"
    );
}
