//! `sse publish`: sends one event to a hub's publish API and prints the ID
//! the hub assigned.

use std::io::Read as _;
use std::time::Duration;

use awc::http::Uri;

use crate::flags::TlsFlags;

/// Arguments of `sse publish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The hub: its base URL (`http://127.0.0.1:8080`, `/events` is added)
    /// or its publish endpoint's full URL.
    url: String,
    /// The stream to publish to.
    #[arg(long, short, env = "SSE_STREAM", default_value = "demo")]
    stream: String,
    /// The event type (default: `message`).
    #[arg(long, short)]
    event: Option<String>,
    /// The event ID (default: the hub assigns the stream's next sequence number).
    #[arg(long)]
    id: Option<String>,
    /// A reconnection delay to send with the event, in milliseconds.
    #[arg(long)]
    retry_ms: Option<u64>,
    /// Bearer token for hubs started with `--publish-token`.
    #[arg(long, env = "SSE_PUBLISH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
    /// The event data; `-` reads it from standard input. Line breaks are kept.
    data: String,
    #[command(flatten)]
    tls: TlsFlags,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let data = if args.data == "-" {
        let mut data = String::new();
        std::io::stdin()
            .read_to_string(&mut data)
            .map_err(|error| format!("cannot read the data from standard input: {error}"))?;
        data
    } else {
        args.data.clone()
    };
    let uri = publish_uri(&args.url, &args.stream)?;
    let mut event = serde_json::json!({ "data": data });
    if let Some(kind) = &args.event {
        event["event"] = kind.as_str().into();
    }
    if let Some(id) = &args.id {
        event["id"] = id.as_str().into();
    }
    if let Some(retry) = args.retry_ms {
        event["retry"] = retry.into();
    }
    let timeout = Duration::from_secs(args.timeout_secs);
    let tls = args.tls.config()?.rustls_client_config()?;
    let id = actix_rt::System::new().block_on(send(uri, event, args.token, timeout, tls))?;
    println!("{id}");
    Ok(())
}

async fn send(
    uri: Uri,
    event: serde_json::Value,
    token: Option<String>,
    timeout: Duration,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<String, Box<dyn std::error::Error>> {
    let client = awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(tls))
        .timeout(timeout)
        .finish();
    let mut request = client.post(uri.clone());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let mut response = request
        .send_json(&event)
        .await
        .map_err(|error| format!("cannot publish to {uri}: {error}"))?;
    let body = response
        .body()
        .limit(64 * 1024)
        .await
        .map_err(|error| format!("cannot read the hub's answer: {error}"))?;
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let status = response.status();
    if !status.is_success() {
        let reason = json
            .as_ref()
            .and_then(|json| json["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_owned());
        return Err(format!("the hub answered {status}: {reason}").into());
    }
    json.as_ref()
        .and_then(|json| json["id"].as_str().map(str::to_owned))
        .ok_or_else(|| {
            format!(
                "the hub answered {status} without an event id: {}",
                String::from_utf8_lossy(&body)
            )
            .into()
        })
}

/// The publish endpoint for `stream`: `/events` is appended to a bare hub
/// URL, and `stream=` to whatever query the URL already has.
fn publish_uri(url: &str, stream: &str) -> Result<Uri, Box<dyn std::error::Error>> {
    let uri: Uri = url
        .parse()
        .map_err(|error| format!("invalid hub URL {url:?}: {error}"))?;
    if uri.scheme().is_none() || uri.authority().is_none() {
        return Err(format!("invalid hub URL {url:?}: expected http://HOST[:PORT][/PATH]").into());
    }
    let path = match uri.path() {
        "" | "/" => "/events",
        path => path,
    };
    let mut query = form_urlencoded::Serializer::new(uri.query().unwrap_or("").to_owned());
    query.append_pair("stream", stream);
    let rebuilt = format!(
        "{}://{}{}?{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default(),
        path,
        query.finish()
    );
    Ok(rebuilt.parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_endpoint_from_a_hub_url() {
        let uri = |url: &str| publish_uri(url, "news").map(|u| u.to_string());
        assert_eq!(
            uri("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/events?stream=news"
        );
        assert_eq!(uri("http://h/").unwrap(), "http://h/events?stream=news");
        assert_eq!(
            uri("http://h/api/events?x=1").unwrap(),
            "http://h/api/events?x=1&stream=news"
        );
        assert!(uri("127.0.0.1:8080").is_err());
        assert!(uri("not a url").is_err());
    }
}
