//! What the hub's integration tests share beyond `sse-testkit`.
#![allow(dead_code)] // each test file uses its own subset

pub mod hub_process;

/// Sends a request, returns the status and the body parsed as JSON (or as a
/// JSON string when it is not JSON).
pub async fn call(
    request: awc::ClientRequest,
    body: impl Into<bytes::Bytes>,
) -> (u16, serde_json::Value) {
    let mut response = request.send_body(body.into()).await.expect("request");
    let body = response.body().limit(1 << 20).await.expect("body");
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    (response.status().as_u16(), json)
}
