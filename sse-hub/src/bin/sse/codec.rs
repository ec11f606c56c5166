//! `sse decode` and `sse encode`: the codec of `sse-proto` between stdin and
//! stdout, for inspecting streams and scripting.
//!
//! Both stream: they never wait for the end of input before writing, so they
//! work on an endless pipe. Output is flushed whenever the tool is about to
//! wait for more input, so every line decodable from what was read so far is
//! visible downstream, without a system call per line when input arrives
//! faster than that.

use std::io::{self, BufRead, BufWriter, Read, Write};
use std::num::NonZeroUsize;
use std::time::Duration;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use sse_proto::{Decoder, EncodeError, Encoder, Event, Frame};

/// Arguments of `sse decode`; the output format is in [`DECODE_HELP`].
///
/// Limits are not fatal: the decoder recovers at the next line, so decoding
/// an endless stream goes on, and the exit status at the end still tells a
/// script that something was dropped.
#[derive(Debug, clap::Args)]
#[command(after_help = DECODE_HELP)]
pub struct DecodeArgs {
    /// Feed the decoder at most N bytes at a time (default: whatever each
    /// read returns). Output never depends on it: this is for testing.
    #[arg(long, value_name = "N")]
    chunk_size: Option<NonZeroUsize>,
    /// Also print comment lines, as `{"comment":…}`.
    #[arg(long)]
    comments: bool,
    /// Longest line accepted, in bytes; a longer one is an error and its
    /// event is discarded.
    #[arg(long, value_name = "BYTES", default_value_t = Decoder::DEFAULT_MAX_LINE_LENGTH)]
    max_line_length: usize,
    /// Largest event accepted, in bytes (data, type and comments); a larger
    /// one is an error and is discarded.
    #[arg(long, value_name = "BYTES", default_value_t = Decoder::DEFAULT_MAX_EVENT_SIZE)]
    max_event_size: usize,
}

/// Arguments of `sse encode`; the input format is in [`ENCODE_HELP`].
///
/// The first bad line is fatal: its producer is broken, and going on would
/// silently leave an event out of the stream.
#[derive(Debug, clap::Args)]
#[command(after_help = ENCODE_HELP)]
pub struct EncodeArgs {}

const DECODE_HELP: &str = "\
Output, one JSON object a line:
  {\"type\":…,\"data\":…,\"id\":…}  a dispatched event; id is the last event ID (\"\" if none)
  {\"retry\":ms}                a valid retry: field
  {\"comment\":…}               a comment line (with --comments)

A line or event over a limit is reported on stderr when it is read; its event
is discarded, decoding goes on, and the exit status is 1 at the end of input.

Examples:
  printf 'id: 1\\nevent: greet\\ndata: hello\\n\\n' | sse decode
  curl -sN 'http://127.0.0.1:8080/events?stream=news' | sse decode --comments";

const ENCODE_HELP: &str = "\
Input, one JSON object a line, every key optional:
  data (string), event (string), id (string), retry (ms, integer), comment (string)
Only comment: a comment. Only retry: a lone retry: field. Otherwise an event,
data defaulting to \"\". Blank lines are skipped. An unknown key, a wrong type or
an id/event with a line break stops with exit status 1, naming the line.

Examples:
  echo '{\"event\":\"greet\",\"data\":\"two\\nlines\",\"id\":\"1\"}' | sse encode
  sse decode < recorded.txt | sse encode > replayed.txt";

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// One output line of `sse decode`. Field order is the documented one.
#[derive(Serialize)]
#[serde(untagged)]
enum DecodedLine<'a> {
    Event {
        #[serde(rename = "type")]
        event_type: &'a str,
        data: &'a str,
        id: &'a str,
    },
    Retry {
        retry: u64,
    },
    Comment {
        comment: &'a str,
    },
}

impl<'a> From<&'a Frame> for DecodedLine<'a> {
    fn from(frame: &'a Frame) -> Self {
        match frame {
            Frame::Event(event) => DecodedLine::Event {
                event_type: event.event_type(),
                data: &event.data,
                id: event.id.as_deref().unwrap_or(""),
            },
            Frame::Retry(retry) => DecodedLine::Retry {
                retry: millis(*retry),
            },
            Frame::Comment(text) => DecodedLine::Comment { comment: text },
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The end of `sse decode` when some input was rejected.
#[derive(Debug, thiserror::Error)]
#[error("decode: {0} decoding error(s), reported above: the affected events were discarded")]
struct DecodeErrors(usize);

pub fn decode(args: DecodeArgs) -> CliResult {
    let decoder = Decoder::new()
        .with_comments(args.comments)
        .with_max_line_length(args.max_line_length)
        .with_max_event_size(args.max_event_size);
    let stdin = io::stdin();
    let stdout = io::stdout();
    let outcome = decode_stream(
        decoder,
        args.chunk_size,
        stdin.lock(),
        BufWriter::new(stdout.lock()),
        &mut io::stderr().lock(),
    );
    quiet_broken_pipe(outcome)
}

fn decode_stream(
    mut decoder: Decoder,
    chunk_size: Option<NonZeroUsize>,
    mut input: impl Read,
    mut output: impl Write,
    diagnostics: &mut impl Write,
) -> CliResult {
    let mut buf = vec![0u8; 64 * 1024];
    let mut read_total = 0u64;
    let mut errors = 0usize;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("decode: reading stdin: {e}").into()),
        };
        let chunk_len = chunk_size.map_or(n, NonZeroUsize::get);
        for chunk in buf[..n].chunks(chunk_len) {
            read_total += chunk.len() as u64;
            decoder.feed(chunk);
            for frame in decoder.by_ref() {
                match frame {
                    Ok(frame) => {
                        serde_json::to_writer(&mut output, &DecodedLine::from(&frame))?;
                        output.write_all(b"\n")?;
                    }
                    Err(e) => {
                        errors += 1;
                        // Flushed first, so stderr and stdout stay in order
                        // for a reader of both.
                        output.flush()?;
                        writeln!(
                            diagnostics,
                            "sse: decode: error within the first {read_total} bytes of input: {e}"
                        )?;
                    }
                }
            }
        }
        // About to wait for input: everything decoded so far goes out now.
        output.flush()?;
    }
    if decoder.end_stream() {
        writeln!(
            diagnostics,
            "sse: decode: note: input ended inside an event (no blank line after it); it was discarded, as the SSE spec requires"
        )?;
    }
    output.flush()?;
    if errors > 0 {
        return Err(DecodeErrors(errors).into());
    }
    Ok(())
}

/// One input line of `sse encode`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EncodeLine {
    data: Option<String>,
    event: Option<String>,
    id: Option<String>,
    /// Milliseconds.
    retry: Option<u64>,
    comment: Option<String>,
}

/// Why `sse encode` stopped: what was wrong, and on which input line.
#[derive(Debug, thiserror::Error)]
enum EncodeLineError {
    #[error("encode: line {line}: not UTF-8")]
    NotUtf8 { line: u64 },
    #[error("encode: line {line}, column {column}: {message}")]
    Json {
        line: u64,
        column: usize,
        message: String,
    },
    #[error("encode: line {line}: {source}")]
    Encode {
        line: u64,
        #[source]
        source: EncodeError,
    },
}

impl EncodeLine {
    fn into_frame(self) -> Frame {
        match self {
            EncodeLine {
                comment: Some(comment),
                data: None,
                event: None,
                id: None,
                retry: None,
            } => Frame::Comment(comment.into()),
            EncodeLine {
                retry: Some(retry),
                data: None,
                event: None,
                id: None,
                comment: None,
            } => Frame::Retry(Duration::from_millis(retry)),
            EncodeLine {
                data,
                event,
                id,
                retry,
                comment,
            } => Frame::Event(Event {
                data: data.unwrap_or_default().into(),
                event: event.map(Into::into),
                id: id.map(Into::into),
                retry: retry.map(Duration::from_millis),
                comment: comment.map(Into::into),
                fields: Vec::new(),
            }),
        }
    }
}

pub fn encode(_args: EncodeArgs) -> CliResult {
    // Our own buffer over stdin, because only `BufReader` tells whether the
    // next read would block (its buffer is empty), which is when to flush.
    let input = io::BufReader::with_capacity(64 * 1024, io::stdin().lock());
    quiet_broken_pipe(encode_stream(input, io::stdout().lock()))
}

fn encode_stream<R: Read>(mut input: io::BufReader<R>, mut output: impl Write) -> CliResult {
    let encoder = Encoder::new();
    let mut line = Vec::new();
    let mut wire = BytesMut::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        let encoded = parse_line(&line, number).and_then(|frame| match frame {
            None => Ok(()),
            Some(frame) => encoder
                .encode_frame_into(&frame, &mut wire)
                .map_err(|source| EncodeLineError::Encode {
                    line: number,
                    source,
                }),
        });
        if let Err(e) = encoded {
            // What the lines before the bad one produced still goes out.
            output.write_all(&wire)?;
            output.flush()?;
            return Err(e.into());
        }
        // Written when the next read may block, not per line: a system call
        // per line would dominate when input arrives in bulk.
        if input.buffer().is_empty() || wire.len() >= 64 * 1024 {
            output.write_all(&wire)?;
            output.flush()?;
            wire.clear();
        }
    }
    output.write_all(&wire)?;
    output.flush()?;
    Ok(())
}

/// The frame a JSON line asks for; `None` for a blank line.
fn parse_line(line: &[u8], number: u64) -> Result<Option<Frame>, EncodeLineError> {
    let text = std::str::from_utf8(line).map_err(|_| EncodeLineError::NotUtf8 { line: number })?;
    let trimmed = text.trim_start();
    if trimmed.trim_end().is_empty() {
        return Ok(None);
    }
    // serde would also read a struct from a JSON array of its fields in
    // declaration order: only objects are accepted, so keys are never implied.
    if !trimmed.starts_with('{') {
        return Err(EncodeLineError::Json {
            line: number,
            column: text.len() - trimmed.len() + 1,
            message: "expected a JSON object".to_owned(),
        });
    }
    let parsed: EncodeLine = serde_json::from_str(text).map_err(|e| {
        // serde_json's message ends with its own position ("at line 1
        // column N"), which is relative to this one line: report the column
        // beside our line number instead.
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        EncodeLineError::Json {
            line: number,
            column: e.column(),
            message,
        }
    })?;
    Ok(Some(parsed.into_frame()))
}

/// A closed stdout (`sse decode | head`) is the reader saying it has enough:
/// stop quietly, as other Unix filters do.
fn quiet_broken_pipe(outcome: CliResult) -> CliResult {
    match outcome {
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        Err(e)
            if e.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_bytes(input: &[u8], chunk: Option<usize>) -> (String, String, bool) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let ok = decode_stream(
            Decoder::new().with_max_line_length(16),
            chunk.and_then(NonZeroUsize::new),
            input,
            &mut out,
            &mut err,
        )
        .is_ok();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            ok,
        )
    }

    #[test]
    fn decode_reports_limits_and_recovers() {
        let (out, err, ok) = decode_bytes(b"data: this line is too long\n\ndata: ok\n\n", Some(3));
        assert_eq!(out, "{\"type\":\"message\",\"data\":\"ok\",\"id\":\"\"}\n");
        assert!(
            err.contains("line longer than the limit of 16 bytes"),
            "{err}"
        );
        assert!(!ok);
    }

    #[test]
    fn encode_errors_name_line_and_column() {
        let error = parse_line(b"{\"data\": 5}\n", 7).unwrap_err().to_string();
        assert_eq!(
            error,
            "encode: line 7, column 10: invalid type: integer `5`, expected a string"
        );
        let error = parse_line(b"{\"date\": \"x\"}", 2).unwrap_err().to_string();
        assert!(
            error.starts_with("encode: line 2, column 7: unknown field `date`"),
            "{error}"
        );
    }

    #[test]
    fn encode_picks_the_frame_kind() {
        let frame = |json: &str| parse_line(json.as_bytes(), 1).unwrap().unwrap();
        assert_eq!(frame(r#"{"comment":"hi"}"#), Frame::Comment("hi".into()));
        assert_eq!(
            frame(r#"{"retry":1500}"#),
            Frame::Retry(Duration::from_millis(1500))
        );
        assert_eq!(frame("{}"), Frame::Event(Event::data("")));
        assert_eq!(
            frame(r#"{"retry":5,"comment":"c"}"#),
            Frame::Event(Event::data("").retry(Duration::from_millis(5)).comment("c"))
        );
        assert_eq!(parse_line(b"  \r\n", 1).unwrap(), None);
    }
}
