//! Test pages for a headless browser: each follows one `EventSource` and
//! reports what it sees to the harness's `POST /test/report?kind=K`.

/// What every page runs before its own script: `params` (the page's query),
/// `expected` (its `count` parameter), `report(kind, body)`, and
/// `follow(source, describe)`, which reports `open` on each connection of
/// `source`, `event` with `describe(event)` for each message, and, once
/// `expected` arrived, closes it and reports `done` with
/// `{ opens, events }`.
const PRELUDE: &str = r#"
"use strict";
const params = new URLSearchParams(location.search);
const expected = Number(params.get("count"));
function report(kind, body) {
  return fetch("/test/report?kind=" + kind, { method: "POST", body: JSON.stringify(body) });
}
function follow(source, describe) {
  const received = [];
  let opens = 0;
  source.onopen = () => report("open", { opens: ++opens });
  source.onmessage = (event) => {
    const seen = describe(event);
    received.push(seen);
    report("event", seen);
    if (received.length === expected) {
      source.close();
      report("done", { opens, events: received });
    }
  };
}
"#;

/// A page titled `title` running `script` after the prelude above. Leaked:
/// a test's pages are served for as long as it runs.
pub fn event_page(title: &str, script: &str) -> &'static str {
    format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<script>{PRELUDE}{script}</script>"
    )
    .leak()
}
