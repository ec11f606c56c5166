//! `sse listen`: a reconnecting client printing one JSON object per event.

use std::time::Duration;

use futures_util::StreamExt as _;
use sse_actix::client::{Client, Event, ReconnectPolicy, StopReason};

use crate::flags::{Header, TlsFlags, parse_duration, parse_header, read_data};

/// Arguments of `sse listen`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The event source URL (`http://` or `https://`).
    url: String,
    /// Subscribe to this stream: adds `?stream=NAME` to the URL.
    #[arg(long)]
    stream: Option<String>,
    /// Resume after this event ID (sent as `Last-Event-ID`).
    #[arg(long)]
    last_event_id: Option<String>,
    /// An extra request header, `'Name: value'`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    headers: Vec<Header>,
    /// The request method (default: GET, or POST with `--data`).
    #[arg(
        short = 'X',
        long = "request",
        visible_alias = "method",
        value_name = "METHOD"
    )]
    method: Option<String>,
    /// The request body: the text, `@FILE` for a file's bytes, `@-` for
    /// standard input. Makes the request a POST unless `-X` says otherwise.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    data: Option<String>,
    /// Reconnect when nothing arrived for this long, e.g. `60s`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    idle_timeout: Option<Duration>,
    /// Stop when the first response ends, cleanly or not (only errors
    /// before a response was accepted are retried). The default for a
    /// request with a body or a method other than GET.
    #[arg(long, conflicts_with = "reconnect")]
    once: bool,
    /// Reconnect after every end, resending the body, even for a POST.
    #[arg(long)]
    reconnect: bool,
    #[command(flatten)]
    tls: TlsFlags,
}

const EXAMPLES: &str = "\
Examples:
  sse listen http://127.0.0.1:8080/events --stream news
  sse listen https://api.example/v1/chat -H 'Authorization: Bearer KEY' \\
      -H 'Content-Type: application/json' -d '{\"stream\":true}'
  sse listen https://events.internal/feed --cacert internal-ca.pem --idle-timeout 1m
  sse listen http://127.0.0.1:8080/events --stream news --last-event-id 41 --once";

/// One output line: the schema of `sse decode`.
#[derive(serde::Serialize)]
struct Line<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a str,
    id: &'a str,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let body = args.data.as_deref().map(read_data).transpose()?;
    let method = match (&args.method, &body) {
        (Some(method), _) => awc::http::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("invalid method {method:?}"))?,
        (None, Some(_)) => awc::http::Method::POST,
        (None, None) => awc::http::Method::GET,
    };
    let mut builder = Client::builder(&args.url)
        .method(method)
        .tls(args.tls.config()?)
        .on_connect(|| eprintln!("sse: connected"))
        .reconnect_notify(|error, delay| {
            eprintln!("sse: {error}; reconnecting in {} ms", delay.as_millis());
        });
    for header in &args.headers {
        builder = builder.header(&header.name, &header.value);
    }
    if args.once {
        builder = builder.reconnect_policy(ReconnectPolicy::UntilAccepted);
    }
    if args.reconnect {
        builder = builder.reconnect_policy(ReconnectPolicy::Always);
    }
    if let Some(id) = args.last_event_id {
        builder = builder.last_event_id(id);
    }
    if let Some(body) = body {
        builder = builder.body(body);
    }
    if let Some(timeout) = args.idle_timeout {
        builder = builder.idle_timeout(timeout);
    }
    let client = builder.try_build()?;
    eprintln!("sse: connecting to {}", client.url());

    actix_rt::System::new().block_on(async move {
        let mut events = match &args.stream {
            Some(name) => client.stream_of(name),
            None => client.stream(),
        };
        let mut stdout = std::io::stdout().lock();
        let mut last_error = None;
        while let Some(item) = events.next().await {
            match item {
                Ok(event) => {
                    last_error = None;
                    print(&mut stdout, &event)?;
                }
                Err(error) => {
                    // Disconnections are already told by reconnect_notify.
                    if !error.is_disconnect() {
                        eprintln!("sse: {error}");
                    }
                    last_error = Some(error);
                }
            }
        }
        match (events.stop_reason(), last_error) {
            (Some(StopReason::Error), Some(error)) => Err(error.into()),
            (Some(StopReason::NoContent), _) => {
                eprintln!("sse: the server asked not to reconnect (204)");
                Ok(())
            }
            _ => {
                eprintln!("sse: the stream ended");
                Ok(())
            }
        }
    })
}

fn print(out: &mut impl std::io::Write, event: &Event) -> std::io::Result<()> {
    let line = Line {
        kind: event.event_type(),
        data: &event.data,
        id: event.id.as_deref().unwrap_or_default(),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")?;
    out.flush()
}
