//! Codec throughput, ours side by side with peer crates in the same run.
//!
//! Every decoder does the same work: take the input as it would arrive from a
//! socket (a list of chunks), and produce every event with its data as an
//! owned or shared UTF-8 string (`sse-proto-ref` lends each event as `&str`s
//! into the input, `Decoder::next_ref`, for a reader that keeps no event: a
//! row beside the owned `sse-proto`, never instead of it). Before any timing, each harness is run once
//! and checked to have produced the expected number of events and data bytes,
//! so a harness that silently decodes nothing cannot look fast.
//!
//! Run: `cargo bench -p sse-bench --bench codec` (add `SSE_BENCH_SLOW=1` to
//! include the one peer that needs minutes on the 4 MiB line).

mod codec_peers;

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BatchSize, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main,
};
use criterion::{SamplingMode, measurement::WallTime};

use codec_peers::{DECODERS, ENCODE_INPUT, ENCODERS, encode_ours, memchr_scan};

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, bytes: usize) {
    group
        .throughput(Throughput::Bytes(bytes as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        // Some peers take seconds per iteration on case (b).
        .sampling_mode(SamplingMode::Flat);
}

/// eventsource-stream re-parses its whole buffer on every chunk: about 30 s
/// per iteration on the 4 MiB line, so 10 samples take over five minutes.
/// Measured only when `SSE_BENCH_SLOW=1` is set.
fn included(decoder: &str, case: &str) -> bool {
    let slow = decoder == "eventsource-stream" && case.starts_with("4MiB");
    if slow && std::env::var_os("SSE_BENCH_SLOW").is_none_or(|v| v != "1") {
        eprintln!("skipping {decoder} on {case}: set SSE_BENCH_SLOW=1 to measure it");
        return false;
    }
    true
}

fn decode(c: &mut Criterion) {
    for case in codec_peers::cases() {
        let decoders: Vec<_> = DECODERS
            .into_iter()
            .filter(|&(name, _)| included(name, case.name))
            .collect();
        for &(name, decode) in &decoders {
            assert_eq!(
                decode(case.chunks.clone()),
                case.expected,
                "{name} on {}",
                case.name
            );
        }
        let mut group = c.benchmark_group(format!("decode/{}", case.name));
        configure(&mut group, case.total);
        for &(name, decode) in &decoders {
            // The chunks are cloned outside the timing, as a socket reader
            // has them already; dropping them is timed.
            group.bench_function(name, |b| {
                b.iter_batched(
                    || case.chunks.clone(),
                    |chunks| decode(black_box(chunks)),
                    BatchSize::LargeInput,
                )
            });
        }
        if case.name.starts_with("4MiB") {
            assert_eq!(memchr_scan(case.chunks.clone()), 2);
            group.bench_function("memchr-baseline", |b| {
                b.iter_batched(
                    || case.chunks.clone(),
                    |chunks| memchr_scan(black_box(chunks)),
                    BatchSize::LargeInput,
                )
            });
        }
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    let input = &*ENCODE_INPUT;
    let expected = encode_ours(input);
    assert_eq!(expected.frames, 100_000);
    for (name, encode) in ENCODERS {
        // Field order differs between encoders, the total length does not.
        assert_eq!(encode(input), expected, "{name}");
    }
    let mut group = c.benchmark_group("encode/small_events");
    configure(&mut group, expected.bytes);
    for (name, encode) in ENCODERS {
        group.bench_function(name, |b| b.iter(|| encode(black_box(input))));
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
