//! Runs one case through one crate's harness a fixed number of times, with
//! no timing: a stable target for `valgrind --tool=callgrind`, whose
//! instruction counts are repeatable where wall time on a shared machine is
//! not.
//!
//! `cargo bench -p sse-bench --bench codec_profile --no-run`, then
//! `valgrind --tool=callgrind <binary> decode 4MiB sse-proto 3`
//! (kind `decode` or `encode`, a case name prefix, a crate name or `memchr`
//! for the line-scan baseline, a count).

mod codec_peers;

use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, case, krate, count] = &args[..] else {
        eprintln!("usage: profile decode|encode CASE-PREFIX CRATE COUNT");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("COUNT is a number");
    match kind.as_str() {
        "decode" => {
            let case = codec_peers::cases()
                .into_iter()
                .find(|c| c.name.starts_with(case.as_str()))
                .expect("known case");
            eprintln!("{}: {} bytes, {count} times", case.name, case.total);
            if krate == "memchr" {
                for _ in 0..count {
                    let chunks = case.chunks.clone();
                    black_box(codec_peers::memchr_scan(black_box(chunks)));
                }
                return;
            }
            let (_, decode) = codec_peers::DECODERS
                .into_iter()
                .find(|(name, _)| name == krate)
                .expect("known crate");
            for _ in 0..count {
                let chunks = case.chunks.clone();
                assert_eq!(decode(black_box(chunks)), case.expected);
            }
        }
        "encode" => {
            let (_, encode) = codec_peers::ENCODERS
                .into_iter()
                .find(|(name, _)| name == krate)
                .expect("known crate");
            for _ in 0..count {
                black_box(encode(black_box(&codec_peers::ENCODE_INPUT)));
            }
        }
        _ => panic!("kind is decode or encode"),
    }
}
