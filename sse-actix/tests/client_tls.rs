//! HTTPS: a TLS scripted server with a certificate authority made by the test.

use std::time::Duration;

use awc::http::Method;
use futures_util::StreamExt as _;
use sse_actix::client::{Client, Error, TlsConfig};
use sse_testkit::scripted::{End, Reply, ScriptedServer, fast, numbered, within};
use sse_testkit::test_ca::TestCa;

fn trusting(ca: &TestCa) -> TlsConfig {
    TlsConfig::default()
        .add_root_certificates_pem(ca.ca_pem.as_bytes())
        .unwrap()
}

fn events_server(ca: &TestCa, require_client_certificate: bool) -> ScriptedServer {
    ScriptedServer::start_tls(ca.server_config(require_client_certificate), |req, _| {
        Reply::sse(numbered(req.last_number(), 2, 2), End::Hang)
    })
}

async fn two_events(client: &Client) -> Vec<String> {
    let mut stream = client.stream();
    let mut data = Vec::new();
    while data.len() < 2 {
        match within("an event", stream.next()).await {
            Some(Ok(event)) => data.push(event.data.to_string()),
            other => panic!("expected an event, got {other:?}"),
        }
    }
    data
}

#[actix_web::test]
async fn https_events_arrive_from_a_server_whose_root_was_added() {
    let ca = TestCa::new("sse-rs test CA");
    let server = events_server(&ca, false);
    assert!(server.url.starts_with("https://"));
    let client = fast(Client::builder(format!("{}/events", server.url)))
        .tls(trusting(&ca))
        .build();
    assert_eq!(two_events(&client).await, ["event 1", "event 2"]);
}

#[actix_web::test]
async fn an_untrusted_server_certificate_is_a_typed_error_and_is_not_retried() {
    let ca = TestCa::new("sse-rs test CA");
    let server = events_server(&ca, false);
    // The bundled web PKI roots do not include the test CA.
    let client = fast(Client::builder(&server.url)).build();
    let mut stream = client.stream();
    match within("the error", stream.next()).await {
        Some(Err(Error::Certificate(reason))) => {
            assert!(reason.contains("UnknownIssuer"), "{reason}");
        }
        other => panic!("expected a certificate error, got {other:?}"),
    }
    assert!(within("the end", stream.next()).await.is_none());
    assert!(stream.failed());
    assert_eq!(server.request_count(), 0);

    // Trusting only another CA is no better.
    let other = TestCa::new("another CA");
    let client = fast(Client::builder(&server.url))
        .tls(trusting(&other).web_pki_roots(false))
        .build();
    let result = within("subscribe", client.subscribe_raw(|_| {})).await;
    assert!(matches!(result, Err(Error::Certificate(_))), "{result:?}");
}

#[actix_web::test]
async fn a_redirect_from_http_to_https_keeps_the_method_and_the_body() {
    let ca = TestCa::new("sse-rs test CA");
    let secure = events_server(&ca, false);
    let target = format!("{}/v1/stream", secure.url);
    let plain = ScriptedServer::start(move |_, _| Reply {
        location: Some(target.clone()),
        ..Reply::status(307)
    });
    let client = fast(Client::builder(format!("{}/v1/stream", plain.url)))
        .method(Method::POST)
        .header("content-type", "application/json")
        .body(r#"{"prompt":"hi"}"#)
        .tls(trusting(&ca))
        .build();
    assert_eq!(two_events(&client).await, ["event 1", "event 2"]);
    let request = &secure.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/stream");
    assert_eq!(&request.body[..], br#"{"prompt":"hi"}"#);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(plain.requests()[0].method, "POST");
}

#[actix_web::test]
async fn a_client_certificate_gets_through_a_server_that_requires_one() {
    let ca = TestCa::new("sse-rs test CA");
    let server = events_server(&ca, true);
    let identity = ca.client("listener-1");
    let tls = trusting(&ca)
        .client_certificate_pem(identity.cert_pem.as_bytes(), identity.key_pem.as_bytes())
        .unwrap();
    let client = fast(Client::builder(&server.url)).tls(tls).build();
    assert_eq!(two_events(&client).await, ["event 1", "event 2"]);
    assert_eq!(server.request_count(), 1);

    let anonymous = fast(Client::builder(&server.url))
        .tls(trusting(&ca))
        .initial_delay(Duration::from_millis(1))
        .build();
    let result = within("subscribe", anonymous.subscribe_raw(|_| {})).await;
    assert!(
        matches!(result, Err(Error::Certificate(ref m)) if m.contains("CertificateRequired")),
        "{result:?}"
    );
    assert_eq!(server.request_count(), 1);
}

#[test]
fn unusable_tls_settings_are_reported_when_building() {
    let not_pem = TlsConfig::default().add_root_certificates_pem(b"not a certificate");
    assert!(
        matches!(not_pem, Err(Error::InvalidRequest(ref m)) if m.contains("root certificate")),
        "{not_pem:?}"
    );
    let no_roots = Client::builder("https://localhost/")
        .tls(TlsConfig::default().web_pki_roots(false))
        .try_build();
    assert!(
        matches!(no_roots, Err(Error::InvalidRequest(ref m)) if m.contains("no root")),
        "{no_roots:?}"
    );
    let ca = TestCa::new("sse-rs test CA");
    let other = TestCa::new("other").client("x");
    // A key that is not the certificate's.
    let mismatched = TlsConfig::default()
        .client_certificate_pem(ca.server.cert_pem.as_bytes(), other.key_pem.as_bytes())
        .unwrap();
    let built = Client::builder("https://localhost/")
        .tls(mismatched)
        .try_build();
    assert!(matches!(built, Err(Error::InvalidRequest(_))), "{built:?}");
}
