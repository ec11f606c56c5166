//! `sse-bench-floor`: what the kernel alone charges for fan-out over loopback
//! TCP on this machine, with no HTTP, runtime or SSE code in the way.
//!
//! Opens `--pairs` connected loopback sockets in one process, then for each
//! round writes one `--size`-byte message to every server side (one `send`
//! each, as a server does per subscriber per event) and reads it back on every
//! client side (one `recv` each, as a subscriber does). The time per `send`
//! and per `recv` is the floor under any server's and any load tool's cost per
//! delivery: on loopback a `send` also runs the receiver's TCP input path.
//!
//! Run: `cargo run --release -p sse-bench --bin sse-bench-floor -- --pairs 9000`

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Connected socket pairs (each takes two file descriptors).
    #[arg(long, default_value_t = 5000)]
    pairs: usize,
    /// Rounds of one message to every pair.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Bytes per message (an SSE frame of a 200-byte event is about 210).
    #[arg(long, default_value_t = 210)]
    size: usize,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    if let Ok((_, hard)) = rlimit::Resource::NOFILE.get() {
        let _ = rlimit::Resource::NOFILE.set(hard, hard);
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr = listener.local_addr()?;
    let mut pairs = Vec::with_capacity(args.pairs);
    for _ in 0..args.pairs {
        let client = TcpStream::connect(addr)?;
        let (server, _) = listener.accept()?;
        // As SSE servers do: no Nagle delay on small event frames.
        server.set_nodelay(true)?;
        pairs.push((server, client));
    }
    let message = vec![b'x'; args.size];
    let mut buffer = vec![0u8; args.size];
    let (mut send_time, mut recv_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..args.rounds {
        let started = Instant::now();
        for (server, _) in &mut pairs {
            server.write_all(&message)?;
        }
        send_time += started.elapsed();
        let started = Instant::now();
        for (_, client) in &mut pairs {
            client.read_exact(&mut buffer)?;
        }
        recv_time += started.elapsed();
    }
    let messages = (args.pairs * args.rounds) as f64;
    let per_send = send_time.as_secs_f64() / messages * 1e6;
    let per_recv = recv_time.as_secs_f64() / messages * 1e6;
    println!(
        "{} pairs x {} rounds of {} bytes: {per_send:.2} us per send, {per_recv:.2} us per recv; \
         one event to 10,000 subscribers costs {:.1} ms of sends and {:.1} ms of receives",
        args.pairs,
        args.rounds,
        args.size,
        per_send * 10.0,
        per_recv * 10.0,
    );
    Ok(())
}
