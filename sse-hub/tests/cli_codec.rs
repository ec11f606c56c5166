//! End-to-end tests of `sse decode` and `sse encode`: the built binary, real
//! pipes, real exit statuses.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const SSE: &str = env!("CARGO_BIN_EXE_sse");

/// Runs `sse ARGS` with `input` on stdin (written from a thread, so a large
/// input cannot deadlock against a full stdout pipe).
fn run(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(SSE)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the sse binary");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("waiting for sse");
    writer.join().unwrap().expect("writing stdin");
    output
}

/// Runs `sse ARGS`, asserts success and returns stdout.
fn run_ok(args: &[&str], input: &[u8]) -> String {
    let output = run(args, input);
    assert!(
        output.status.success(),
        "sse {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The line `sse decode` prints for an event, keys in their documented order.
fn event(event_type: &str, data: &str, id: &str) -> String {
    let json = |s: &str| serde_json::to_string(s).unwrap();
    format!(
        r#"{{"type":{},"data":{},"id":{}}}"#,
        json(event_type),
        json(data),
        json(id)
    )
}

fn lines(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn decode_spec_examples() {
    // The examples of the WHATWG HTML standard, section "Event stream
    // interpretation".
    let out = run_ok(&["decode"], b"data: YHOO\ndata: +2\ndata: 10\n\n");
    assert_eq!(out, lines(&[event("message", "YHOO\n+2\n10", "")]));

    let out = run_ok(
        &["decode"],
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
    );
    assert_eq!(
        out,
        lines(&[
            event("message", "first event", "1"),
            event("message", "second event", ""),
            event("message", " third event", ""),
        ])
    );

    // The last event is not terminated by a blank line: discarded.
    let out = run_ok(&["decode"], b"data\n\ndata\ndata\n\ndata:");
    assert_eq!(
        out,
        lines(&[event("message", "", ""), event("message", "\n", "")])
    );

    let out = run_ok(&["decode"], b"data:test\n\ndata: test\n\n");
    assert_eq!(
        out,
        lines(&[event("message", "test", ""), event("message", "test", "")])
    );

    let out = run_ok(
        &["decode"],
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
    );
    assert_eq!(
        out,
        lines(&[
            event("add", "73857293", ""),
            event("remove", "2153", ""),
            event("add", "113411", ""),
        ])
    );
}

#[test]
fn decode_output_is_exact_json_lines() {
    // Key order and escaping are part of the format scripts rely on.
    let out = run_ok(&["decode"], b"id: 7\nevent: e\ndata: \"q\"\\\n\n");
    assert_eq!(
        out,
        "{\"type\":\"e\",\"data\":\"\\\"q\\\"\\\\\",\"id\":\"7\"}\n"
    );
}

#[test]
fn decode_output_does_not_depend_on_chunk_size() {
    // BOM, every line ending (a CRLF split across chunks included), a
    // multi-byte character, comments, retry, ids that persist and reset.
    let input = "\u{feff}: hello\r\nid: 1\r\nevent: greet\r\ndata: h\u{e9}llo \u{1f600}\r\n\r\n\
                 data: a\rdata: b\r\rretry: 250\nid\ndata: x\n\n:c\ndata: y\n\n";
    let expected = lines(&[
        r#"{"comment":"hello"}"#.to_owned(),
        event("greet", "h\u{e9}llo \u{1f600}", "1"),
        event("message", "a\nb", "1"),
        r#"{"retry":250}"#.to_owned(),
        event("message", "x", ""),
        r#"{"comment":"c"}"#.to_owned(),
        event("message", "y", ""),
    ]);
    assert_eq!(
        run_ok(&["decode", "--comments"], input.as_bytes()),
        expected
    );
    for size in 1..=input.len() {
        let out = run_ok(
            &["decode", "--comments", "--chunk-size", &size.to_string()],
            input.as_bytes(),
        );
        assert_eq!(out, expected, "--chunk-size {size}");
    }
}

#[test]
fn decode_comments_only_with_the_flag() {
    let input = b": keep-alive\n\ndata: x\n\n";
    assert_eq!(
        run_ok(&["decode"], input),
        lines(&[event("message", "x", "")])
    );
    assert_eq!(
        run_ok(&["decode", "--comments"], input),
        lines(&[
            r#"{"comment":"keep-alive"}"#.to_owned(),
            event("message", "x", "")
        ])
    );
}

#[test]
fn decode_reports_valid_retry_fields_only() {
    let out = run_ok(
        &["decode"],
        b"retry: 1500\nretry: 1.5\nretry: abc\nretry:\nretry: -1\nretry:0\n\n",
    );
    assert_eq!(out, "{\"retry\":1500}\n{\"retry\":0}\n");
}

#[test]
fn decode_replaces_invalid_utf8() {
    let out = run_ok(&["decode"], b"event: t\xC3\ndata: a\xFFb\xF0\x9F\n\n");
    assert_eq!(out, lines(&[event("t\u{fffd}", "a\u{fffd}b\u{fffd}", "")]));
}

#[test]
fn decode_limits_are_errors_and_decoding_goes_on() {
    let output = run(
        &["decode", "--max-line-length", "8"],
        b"data: 0123456789\n\ndata: ok\n\n",
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        lines(&[event("message", "ok", "")])
    );
    let err = stderr(&output);
    assert!(
        err.contains("line longer than the limit of 8 bytes"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let output = run(
        &["decode", "--max-event-size", "6"],
        b"data: 0123\ndata: 4567\n\ndata: ok\n\n",
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        lines(&[event("message", "ok", "")])
    );
    assert!(
        stderr(&output).contains("event larger than the limit of 6 bytes"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn decode_streams_from_an_open_pipe() {
    // The event must come out while stdin is still open: `sse decode` works
    // on an endless stream.
    let mut child = Command::new(SSE)
        .arg("decode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdin.write_all(b"data: first\n\n").unwrap();
    stdin.flush().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        tx.send(line).unwrap();
        stdout
    });
    let line = rx.recv_timeout(Duration::from_secs(10));
    drop(stdin);
    let mut rest = String::new();
    reader.join().unwrap().read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        line.expect("no output while stdin was open"),
        format!("{}\n", event("message", "first", ""))
    );
    assert_eq!(rest, "");
}

#[test]
fn encode_writes_each_kind_of_frame() {
    let out = run_ok(
        &["encode"],
        concat!(
            r#"{"data":"a\nb","event":"e","id":"7"}"#,
            "\n\n",
            r#"{"comment":"keep\nalive"}"#,
            "\n",
            r#"{"retry":3000}"#,
            "\n{}\n",
            r#"{"data":"x","retry":5,"comment":"c","id":null}"#,
        )
        .as_bytes(),
    );
    assert_eq!(
        out,
        "id: 7\nevent: e\ndata: a\ndata: b\n\n: keep\n: alive\nretry: 3000\ndata:\n\n: c\nretry: 5\ndata: x\n\n"
    );
}

#[test]
fn encode_then_decode_round_trips_through_two_processes() {
    let input = concat!(
        r#"{"data":"line 1\nline 2\r\nline 3","event":"update","id":"1"}"#,
        "\n",
        r#"{"comment":"ignored by decode"}"#,
        "\n",
        r#"{"retry":1000}"#,
        "\n",
        r#"{"data":"data: not a field\n\nid: nor a dispatch"}"#,
        "\n",
        r#"{"data":" leading space","id":""}"#,
        "\n",
        r#"{"data":"h\u00e9llo \ud83d\ude00","event":"unicode","id":"\u00e9"}"#,
        "\n",
    );
    let mut encode = Command::new(SSE)
        .arg("encode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let decode = Command::new(SSE)
        .arg("decode")
        .stdin(encode.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    encode
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(encode.wait().unwrap().success());
    let output = decode.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        lines(&[
            event("update", "line 1\nline 2\nline 3", "1"),
            r#"{"retry":1000}"#.to_owned(),
            event("message", "data: not a field\n\nid: nor a dispatch", "1"),
            event("message", " leading space", ""),
            event("unicode", "h\u{e9}llo \u{1f600}", "\u{e9}"),
        ])
    );
}

#[test]
fn encode_rejects_bad_json_naming_the_line() {
    let output = run(
        &["encode"],
        b"{\"data\":\"ok\"}\n{not json\n{\"data\":\"after\"}\n",
    );
    assert_eq!(output.status.code(), Some(1));
    // Lines before the bad one are still written; none after it.
    assert_eq!(String::from_utf8_lossy(&output.stdout), "data: ok\n\n");
    let err = stderr(&output);
    assert!(err.contains("line 2, column 2"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    for (bad, expected) in [
        (
            r#"{"data":1}"#,
            "invalid type: integer `1`, expected a string",
        ),
        (
            r#"{"retry":-1}"#,
            "invalid value: integer `-1`, expected u64",
        ),
        (r#"{"retry":1.5}"#, "invalid type: floating point"),
        (r#"{"name":"x"}"#, "unknown field `name`"),
        (
            r#"["x",null,null,null,null]"#,
            "column 1: expected a JSON object",
        ),
        (r#"  "x""#, "column 3: expected a JSON object"),
        (r#"{"data":"x"} trailing"#, "trailing characters"),
    ] {
        let output = run(&["encode"], format!("\n{bad}\n").as_bytes());
        assert_eq!(output.status.code(), Some(1), "{bad}");
        let err = stderr(&output);
        assert!(err.contains("line 2"), "{bad}: {err}");
        assert!(err.contains(expected), "{bad}: {err}");
    }

    let output = run(&["encode"], b"{\"data\":\"\xFF\"}\n");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("line 1: not UTF-8"));
}

#[test]
fn encode_rejects_an_id_or_type_that_would_break_its_line() {
    let output = run(&["encode"], b"{\"data\":\"x\",\"id\":\"a\\nb\"}\n");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(output.stdout, b"");
    let err = stderr(&output);
    assert!(err.contains("line 1"), "{err}");
    assert!(err.contains("contains CR, LF or NUL"), "{err}");

    let output = run(&["encode"], b"{}\n{\"event\":\"a\\rretry: 1\"}\n");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(output.stdout, b"data:\n\n");
    assert!(stderr(&output).contains("line 2: event type"));
}

#[test]
fn decode_stops_quietly_when_its_reader_goes_away() {
    // `sse decode | head -1`: a closed stdout ends the tool with status 0
    // and no panic message, as other Unix filters behave.
    let mut child = Command::new(SSE)
        .arg("decode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        // Fails with a broken pipe once `sse` has exited, which is expected.
        for _ in 0..10_000 {
            if stdin
                .write_all(&[b"data: x\n\n" as &[u8]; 100].concat())
                .is_err()
            {
                break;
            }
        }
    });
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, format!("{}\n", event("message", "x", "")));
    drop(stdout);
    writer.join().unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", output.status);
    assert_eq!(stderr(&output), "");
}
