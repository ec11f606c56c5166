//! `sse-bench-baseline`: the actix-web-lab + broadcast peer, standalone.

use std::net::SocketAddr;

use clap::Parser;

/// An SSE hub written the way actix-web users do by hand: GET
/// /events?stream=NAME subscribes, POST /events?stream=NAME publishes the body.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (loopback; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8081")]
    bind: SocketAddr,
    /// Worker threads (actix-web's default is one per core).
    #[arg(long, default_value_t = std::thread::available_parallelism().map_or(1, |n| n.get()))]
    workers: usize,
    /// Events each broadcast channel buffers for a lagging subscriber.
    #[arg(long, default_value_t = 1024)]
    capacity: usize,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    sse_bench::sys::raise_nofile_limit();
    actix_rt::System::new().block_on(async {
        let (server, addr) = sse_bench::baseline::server(args.bind, args.workers, args.capacity)?;
        println!("listening on http://{addr}");
        server.await
    })
}
