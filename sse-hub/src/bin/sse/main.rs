//! `sse`: the command-line tool. Each subcommand lives in its own module.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod codec;
mod flags;
mod hub;
mod hub_deploy;
mod listen;
mod publish;

/// Server-Sent Events from the command line: a hub server, a reconnecting
/// listener, a publisher, and a stdin/stdout codec.
#[derive(Debug, Parser)]
#[command(name = "sse", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a standalone SSE hub server with a demo page.
    #[command(after_help = HUB_EXAMPLES)]
    Hub(Box<hub::Args>),
    /// Publish one event to a hub.
    Publish(publish::Args),
    /// Subscribe to an SSE endpoint and print each event as a JSON line.
    Listen(listen::Args),
    /// Read SSE bytes on stdin, write one JSON object a line.
    Decode(codec::DecodeArgs),
    /// Read JSON lines on stdin, write SSE bytes.
    Encode(codec::EncodeArgs),
}

const HUB_EXAMPLES: &str = "\
Examples:
  sse hub                                      # http://127.0.0.1:8080, demo page at /
  sse hub --bind 0.0.0.0:8080 --publish-token \"$TOKEN\" --cors-origin https://app.example
  sse hub --keep-alive 30s --retry 2s --log-max-age 10m --event-ttl 1m
  sse hub --tls-cert cert.pem --tls-key key.pem --redis redis://127.0.0.1:6379

Every duration flag takes a number and a unit: 500ms, 2s, 1m, 1h30m.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hub(args) => hub::run(*args),
        Command::Publish(args) => publish::run(args),
        Command::Listen(args) => listen::run(args),
        Command::Decode(args) => codec::decode(args),
        Command::Encode(args) => codec::encode(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sse: {error}");
            ExitCode::FAILURE
        }
    }
}
