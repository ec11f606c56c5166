//! A progress bar fed by a background task: the page opens an
//! `EventSource`; each request starts a job whose task sends its progress
//! through the response's channel and stops as soon as the page goes away.
//!
//! ```text
//! cargo run -p sse-actix --example progress
//! # open http://127.0.0.1:8083, or: curl -N http://127.0.0.1:8083/progress
//! ```

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, Responder, get, rt};
use sse_actix::{Event, SseResponse};

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>progress</title>
<progress id="bar" max="100" value="0"></progress> <span id="state">starting</span>
<script>
const source = new EventSource("/progress");
source.addEventListener("progress", (e) => {
  document.getElementById("bar").value = Number(e.data);
  document.getElementById("state").textContent = e.data + "%";
});
source.addEventListener("done", (e) => {
  document.getElementById("state").textContent = e.data;
  source.close(); // or EventSource would reconnect and start another job
});
</script>"#;

#[get("/")]
async fn page() -> impl Responder {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}

#[get("/progress")]
async fn progress() -> impl Responder {
    let (events, response) = SseResponse::channel(4);
    rt::spawn(async move {
        for percent in 0..=100 {
            // Some work, unless the client leaves first.
            tokio::select! {
                () = rt::time::sleep(Duration::from_millis(50)) => {}
                () = events.closed() => return println!("client left at {percent}%: job cancelled"),
            }
            if events
                .send(Event::new("progress", percent.to_string()))
                .await
                .is_err()
            {
                return println!("client left at {percent}%: job cancelled");
            }
        }
        let _ = events.send(Event::new("done", "finished")).await;
        // Dropping `events` ends the response.
    });
    response.keep_alive(Duration::from_secs(5))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = ("127.0.0.1", 8083);
    println!("open http://{}:{}", addr.0, addr.1);
    HttpServer::new(|| App::new().service(page).service(progress))
        .h1_allow_half_closed(false)
        .bind(addr)?
        .run()
        .await
}
