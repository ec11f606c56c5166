//! `sse-bench-responder`: one per-request responder peer, standalone.

use std::net::SocketAddr;

use clap::Parser;
use sse_bench::responders::{Peer, listen, serve};

/// Serves `GET /events?stream=K&events=N&rate=R&size=S` with the chosen
/// responder: N events (0 = until the client leaves) of S bytes, R a second
/// (0 = as fast as the client reads).
#[derive(Debug, Parser)]
struct Args {
    /// The responder to serve with.
    #[arg(long, value_enum)]
    peer: Peer,
    /// Address to listen on (loopback; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8084")]
    bind: SocketAddr,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    sse_bench::sys::raise_nofile_limit();
    let listener = listen(args.bind)?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(args.peer, listener, args.workers)
}
