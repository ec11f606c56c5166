//! `sse hub --tls-cert --tls-key`: HTTPS with HTTP/2 negotiated by ALPN,
//! HTTP/1.1 still accepted, and the certificate reloaded on SIGHUP.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use awc::http::Version;
use bytes::Bytes;
use futures_util::StreamExt as _;
use rustls::pki_types::CertificateDer;
use sse_testkit::{GUARD, until};
use support::hub_process::Hub;

/// A self-signed certificate for 127.0.0.1, written as PEM files.
struct Certificate {
    der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

impl Certificate {
    fn generate() -> Certificate {
        let generated =
            rcgen::generate_simple_self_signed(["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap();
        Certificate {
            der: generated.cert.der().clone(),
            cert_pem: generated.cert.pem(),
            key_pem: generated.signing_key.serialize_pem(),
        }
    }

    fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("hub.crt"), dir.join("hub.key"));
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

/// An awc client trusting only `trusted`, offering HTTP/2 (and HTTP/1.1) or
/// HTTP/1.1 alone by ALPN.
fn tls_client(trusted: &Certificate, version: Version) -> awc::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.der.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = match version {
        Version::HTTP_2 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        _ => vec![b"http/1.1".to_vec()],
    };
    awc::Client::builder()
        .timeout(GUARD)
        // The ALPN list above decides the version (awc's max_http_version
        // would replace this connector with its default one).
        .connector(awc::Connector::new().rustls_0_23(Arc::new(config)))
        .finish()
}

fn start(dir: &Path, certificate: &Certificate) -> Hub {
    let (cert, key) = certificate.write(dir);
    Hub::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
}

/// Reads `body` until it holds `wanted`, bounded by the guard time.
async fn read_until<S, E>(body: &mut S, wanted: &str) -> String
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Debug,
{
    let mut text = String::new();
    tokio::time::timeout(GUARD, async {
        while !text.contains(wanted) {
            let chunk = body.next().await.expect("the stream goes on").unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{wanted:?} never arrived; got {text:?}"));
    text
}

#[actix_web::test]
async fn https_speaks_http2_by_alpn_and_still_http1() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = Certificate::generate();
    let hub = start(dir.path(), &certificate);
    assert_eq!(hub.scheme, "https");

    for version in [Version::HTTP_2, Version::HTTP_11] {
        let client = tls_client(&certificate, version);
        let stream = format!("tls-{version:?}").replace(['/', '.'], "-");
        let mut events = client
            .get(hub.url(&format!("/events?stream={stream}")))
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), 200);
        assert_eq!(events.version(), version, "negotiated by ALPN");

        let mut published = client
            .post(hub.url(&format!("/events?stream={stream}")))
            .send_body("over tls")
            .await
            .unwrap();
        assert_eq!(published.status(), 200, "{:?}", published.body().await);
        assert_eq!(published.version(), version);
        let text = read_until(&mut events, "data: over tls\n\n").await;
        assert!(text.contains("-1\ndata: over tls\n\n"), "{text:?}");
    }

    // Cleartext on the TLS port gets no event stream.
    let plain = sse_testkit::client()
        .get(format!("http://{}/events?stream=demo", hub.addr))
        .send()
        .await;
    assert!(
        plain
            .as_ref()
            .map_or(true, |response| response.status() != 200),
        "{plain:?}"
    );
}

#[actix_web::test]
async fn sighup_reloads_the_certificate_and_open_streams_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (Certificate::generate(), Certificate::generate());
    let hub = start(dir.path(), &old);
    let old_client = tls_client(&old, Version::HTTP_2);
    let new_client = tls_client(&new, Version::HTTP_2);
    let healthz = hub.url("/healthz");
    assert_eq!(old_client.get(&healthz).send().await.unwrap().status(), 200);
    assert!(
        new_client.get(&healthz).send().await.is_err(),
        "the new certificate is not served yet"
    );
    let mut open = old_client
        .get(hub.url("/events?stream=demo"))
        .send()
        .await
        .unwrap();

    // A broken file is refused and the old pair stays in service.
    std::fs::write(dir.path().join("hub.crt"), "not a certificate").unwrap();
    let hangup = || {
        let status = Command::new("kill")
            .args(["-HUP", &hub.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    hangup();
    until("the failed reload is logged", async || {
        hub.log().contains("TLS certificate not reloaded")
    })
    .await;
    assert_eq!(
        tls_client(&old, Version::HTTP_2)
            .get(&healthz)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    new.write(dir.path());
    hangup();
    until("new handshakes present the new certificate", async || {
        tls_client(&new, Version::HTTP_2)
            .get(&healthz)
            .send()
            .await
            .is_ok_and(|response| response.status() == 200)
    })
    .await;
    assert!(
        tls_client(&old, Version::HTTP_2)
            .get(&healthz)
            .send()
            .await
            .is_err(),
        "the old certificate is no longer served"
    );

    // The stream opened before the reload still delivers.
    let mut published = new_client
        .post(hub.url("/events?stream=demo"))
        .send_body("after reload")
        .await
        .unwrap();
    assert_eq!(published.status(), 200, "{:?}", published.body().await);
    read_until(&mut open, "data: after reload\n\n").await;
}
