//! `sse publish`: sends one event to a hub's publish API and prints the ID
//! the hub assigned.

use std::time::Duration;

use awc::http::{Method, Uri};

use crate::flags::{Header, TlsFlags, parse_duration, parse_header, read_data};

/// Arguments of `sse publish`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The hub: its base URL (`http://127.0.0.1:8080`, `/events` is added)
    /// or its publish endpoint's full URL; `https://` works too.
    url: String,
    /// The stream to publish to (created if the hub allows it).
    stream: String,
    /// The event data; `-` reads it from standard input. Line breaks are
    /// kept. Or give it with `-d`.
    #[arg(required_unless_present = "data_flag", conflicts_with = "data_flag")]
    data: Option<String>,
    /// The event data as curl takes it: the text, `@FILE` for a file's
    /// contents, `@-` for standard input.
    #[arg(short = 'd', long = "data", id = "data_flag", value_name = "DATA")]
    data_flag: Option<String>,
    /// The event type (default: `message`).
    #[arg(long, short)]
    event: Option<String>,
    /// The event ID (default: the hub assigns the stream's next sequence number).
    #[arg(long)]
    id: Option<String>,
    /// A reconnection delay to send with the event, e.g. `2s` (as `retry:`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    retry: Option<Duration>,
    /// Bearer token for hubs started with `--publish-token` (or a JWT).
    #[arg(long, env = "SSE_PUBLISH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// An extra request header, `'Name: value'`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    headers: Vec<Header>,
    /// The request method (default POST), for a proxy that wants another.
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        default_value = "POST"
    )]
    method: String,
    /// Give up after this long, e.g. `10s`.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    tls: TlsFlags,
}

const EXAMPLES: &str = "\
Examples:
  sse publish http://127.0.0.1:8080 news 'hello'
  sse publish http://127.0.0.1:8080 news --event greeting --id order-7 --retry 2s 'hi'
  date | sse publish http://127.0.0.1:8080 news -
  sse publish https://hub.example news -d @message.txt --token \"$TOKEN\" --cacert ca.pem";

/// The request `sse publish` sends.
struct Publish {
    method: Method,
    uri: Uri,
    event: serde_json::Value,
    token: Option<String>,
    headers: Vec<Header>,
    timeout: Duration,
    tls: std::sync::Arc<rustls::ClientConfig>,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let data = match (&args.data, &args.data_flag) {
        (Some(positional), _) if positional == "-" => read_data("@-")?,
        (Some(positional), _) => positional.as_bytes().to_vec(),
        (None, Some(flag)) => read_data(flag)?,
        (None, None) => return Err("no event data: give DATA or -d".into()),
    };
    let data = String::from_utf8(data).map_err(|_| "the event data is not UTF-8")?;
    let mut event = serde_json::json!({ "data": data });
    if let Some(kind) = &args.event {
        event["event"] = kind.as_str().into();
    }
    if let Some(id) = &args.id {
        event["id"] = id.as_str().into();
    }
    if let Some(retry) = args.retry {
        event["retry"] = u64::try_from(retry.as_millis())
            .map_err(|_| "--retry: too long")?
            .into();
    }
    let publish = Publish {
        method: Method::from_bytes(args.method.as_bytes())
            .map_err(|_| format!("invalid method {:?}", args.method))?,
        uri: publish_uri(&args.url, &args.stream)?,
        event,
        token: args.token,
        headers: args.headers,
        timeout: args.timeout,
        tls: args.tls.config()?.rustls_client_config()?,
    };
    let id = actix_rt::System::new().block_on(send(publish))?;
    println!("{id}");
    Ok(())
}

async fn send(publish: Publish) -> Result<String, Box<dyn std::error::Error>> {
    let Publish {
        method,
        uri,
        event,
        token,
        headers,
        timeout,
        tls,
    } = publish;
    let client = awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(tls))
        .timeout(timeout)
        .finish();
    let mut request = client.request(method, uri.clone());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for header in &headers {
        request = request.insert_header((header.name.as_str(), header.value.as_str()));
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
        return Err(
            format!("invalid hub URL {url:?}: expected http(s)://HOST[:PORT][/PATH]").into(),
        );
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
