//! The demo page served at `/`.

use actix_web::HttpResponse;
use actix_web::http::header;

use crate::Hub;

const PAGE: &str = include_str!("demo.html");

/// The page, with the hub's default stream filled in. Plain HTML and
/// JavaScript: no build step, no external resource.
pub(crate) fn page(hub: &Hub) -> HttpResponse {
    let body = PAGE.replace("{{stream}}", &escape_html(&hub.config().demo_stream));
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The configured name is trusted, but escaping keeps a mistaken one from
/// breaking (or scripting) the page.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}
