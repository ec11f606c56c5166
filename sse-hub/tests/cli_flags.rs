//! The `sse` tool's flags: one duration format and one byte-size format everywhere, curl's `-X`,
//! `-H`, `-d` on `listen` and `publish`, a required stream name, usage
//! errors instead of panics, examples in every `--help`.

use std::process::{Command, Output, Stdio};

use sse_testkit::scripted::{End, Reply, ScriptedServer, within};

fn sse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sse"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running sse")
}

/// Runs `sse ARGS` on a thread, so the test's runtime keeps serving.
async fn sse_async(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let run = std::thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_sse"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("running sse")
    });
    within("sse to exit", async {
        while !run.is_finished() {
            actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    run.join().unwrap()
}

fn usage_error(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn invalid_counts_are_usage_errors_not_panics() {
    for flag in [
        "--workers",
        "--arbiters",
        "--buffer-size",
        "--subscriber-queue",
        "--redis-max-len",
        "--mercure-max-topics",
        "--mercure-template-cache",
    ] {
        let stderr = usage_error(&sse(&["hub", "--bind", "127.0.0.1:0", flag, "0"]));
        assert!(stderr.contains("invalid value '0'"), "{flag}: {stderr}");
    }
}

#[test]
fn every_duration_flag_takes_the_same_format() {
    let url = "http://127.0.0.1:9/";
    let cases: [&[&str]; 9] = [
        &["hub", "--keep-alive", "15"],
        &["hub", "--write-timeout", "15"],
        &["hub", "--retry", "15"],
        &["hub", "--event-ttl", "15"],
        &["hub", "--log-max-age", "15"],
        &["hub", "--auto-stream-idle", "15"],
        &["listen", url, "--idle-timeout", "15"],
        &["publish", url, "news", "x", "--retry", "15"],
        &["publish", url, "news", "x", "--timeout", "15"],
    ];
    for args in cases {
        let stderr = usage_error(&sse(args));
        assert!(
            stderr.contains("write e.g. 500ms, 2s, 1m"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn every_byte_size_flag_takes_the_same_format() {
    for flag in [
        "--subscriber-queue-bytes",
        "--log-max-bytes",
        "--memory-budget",
        "--max-body-size",
    ] {
        let stderr = usage_error(&sse(&["hub", "--bind", "127.0.0.1:0", flag, "4 lots"]));
        assert!(
            stderr.contains("write e.g. 4194304, 4MiB"),
            "{flag}: {stderr}"
        );
    }
}

/// The arguments clap says are missing.
fn missing(stderr: &str) -> Vec<&str> {
    let after = stderr.split_once("not provided:").map_or("", |(_, a)| a);
    let list = after.split_once("Usage:").map_or(after, |(l, _)| l);
    list.split_whitespace().collect()
}

#[test]
fn publish_requires_a_stream_name_and_data() {
    let stderr = usage_error(&sse(&["publish", "http://127.0.0.1:9/"]));
    assert_eq!(missing(&stderr), ["<STREAM>", "<DATA>"], "{stderr}");
    // One word is the stream; the data is still missing.
    let stderr = usage_error(&sse(&["publish", "http://127.0.0.1:9/", "hello"]));
    assert_eq!(missing(&stderr), ["<DATA>"], "{stderr}");
    let stderr = usage_error(&sse(&[
        "publish",
        "http://127.0.0.1:9/",
        "news",
        "x",
        "-d",
        "y",
    ]));
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[actix_web::test]
async fn publish_sends_what_its_curl_flags_say() {
    let server = ScriptedServer::start(|_, _| Reply {
        content_type: Some("application/json".into()),
        ..Reply::sse(
            vec![r#"{"stream":"news","id":"7","seq":7}"#.into()],
            End::Eof,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.txt");
    std::fs::write(&file, "two\nlines\n").unwrap();
    let data = format!("@{}", file.display());
    let output = sse_async(&[
        "publish",
        &server.url,
        "news",
        "-d",
        &data,
        "-X",
        "PUT",
        "-H",
        "X-Trace: abc",
        "--token",
        "t0k",
        "--event",
        "note",
        "--retry",
        "1500ms",
        "--timeout",
        "5s",
    ])
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "7\n");
    let request = &server.requests()[0];
    assert_eq!(request.method, "PUT");
    assert_eq!(
        (request.path.as_str(), request.query.as_str()),
        ("/events", "stream=news")
    );
    assert_eq!(request.header("x-trace"), Some("abc"));
    assert_eq!(request.header("authorization"), Some("Bearer t0k"));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"data": "two\nlines\n", "event": "note", "retry": 1500})
    );
}

#[actix_web::test]
async fn listen_with_data_posts_it_once() {
    let server =
        ScriptedServer::start(|_, _| Reply::sse(vec!["data: answer\n\n".into()], End::Eof));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prompt.json");
    std::fs::write(&file, br#"{"stream":true}"#).unwrap();
    let data = format!("@{}", file.display());
    let output = sse_async(&[
        "listen",
        &server.url,
        "-d",
        &data,
        "-H",
        "Content-Type: application/json",
        "--idle-timeout",
        "10s",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "{\"type\":\"message\",\"data\":\"answer\",\"id\":\"\"}\n"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "a completion is requested once");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(&requests[0].body[..], br#"{"stream":true}"#);
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
}

#[test]
fn every_subcommand_help_shows_examples() {
    for command in ["hub", "publish", "listen", "decode", "encode"] {
        let output = sse(&[command, "--help"]);
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        let examples = help
            .split_once("Examples:")
            .map(|(_, after)| after)
            .unwrap_or_else(|| panic!("`sse {command} --help` has no examples:\n{help}"));
        assert!(examples.contains(&format!("sse {command}")), "{help}");
    }
}
