//! `sse hub --jwt-key`: JWTs whose Mercure-shaped claims list the streams a
//! token may subscribe and publish to, rule by rule.

mod support;

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use sse_testkit::jwt::{SECRET, mint, mint_with, now, subscriber};
use sse_testkit::{EventClient, client, seen};
use support::call;
use support::hub_process::Hub;

fn jwt_hub(extra: &[&str]) -> Hub {
    let mut args = vec!["--jwt-key", SECRET];
    args.extend_from_slice(extra);
    Hub::start(&args)
}

async fn get(hub: &Hub, path: &str, token: &str) -> (u16, Value) {
    call(client().get(hub.url(path)).bearer_auth(token), "").await
}

async fn post(hub: &Hub, stream: &str, token: &str) -> (u16, Value) {
    let request = client()
        .post(hub.url(&format!("/events?stream={stream}")))
        .bearer_auth(token);
    call(request, "x").await
}

fn error_of(json: &Value) -> &str {
    json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("an error body, got {json}"))
}

#[actix_web::test]
async fn claims_grant_streams_by_exact_name_prefix_or_star() {
    let hub = jwt_hub(&[]);
    let only_a = subscriber(&["a"]);
    let mut on_a = EventClient::open_with(
        &hub.url("/events?stream=a"),
        &[("authorization", &format!("Bearer {only_a}"))],
    )
    .await;
    let (status, body) = get(&hub, "/events?stream=b", &only_a).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        error_of(&body),
        "forbidden: the token does not allow subscribing to stream \"b\""
    );
    let (status, _) = get(&hub, "/events?stream=ab", &only_a).await;
    assert_eq!(status, 403, "an exact name is not a prefix");

    let prefix = subscriber(&["user-42-*"]);
    let _inbox = EventClient::open_with(
        &hub.url("/events?stream=user-42-inbox"),
        &[("authorization", &format!("Bearer {prefix}"))],
    )
    .await;
    assert_eq!(get(&hub, "/events?stream=user-420", &prefix).await.0, 403);
    let every = subscriber(&["*"]);
    let _any = EventClient::open_with(
        &hub.url("/events?stream=anything"),
        &[("authorization", &format!("Bearer {every}"))],
    )
    .await;
    let nothing = mint(&json!({ "sub": "someone" }));
    assert_eq!(get(&hub, "/events?stream=a", &nothing).await.0, 403);

    // EventSource cannot set headers: the query parameter and the cookie.
    let mut by_query =
        EventClient::open(&hub.url(&format!("/events?stream=a&token={only_a}"))).await;
    let mut by_cookie = EventClient::open_with(
        &hub.url("/events?stream=a"),
        &[("cookie", &format!("sse_token={only_a}"))],
    )
    .await;

    // Publishing needs a publish claim for the stream.
    let publisher = mint(&json!({ "mercure": { "publish": ["a"] } }));
    let (status, body) = post(&hub, "a", &publisher).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&hub, "b", &publisher).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        error_of(&body).contains("publishing to stream \"b\""),
        "{body}"
    );
    assert_eq!(
        post(&hub, "a", &only_a).await.0,
        403,
        "subscribe claims do not publish"
    );
    let publish_by_query = client().post(hub.url(&format!("/events?stream=a&token={publisher}")));
    let (status, body) = call(publish_by_query, "x").await;
    assert_eq!(status, 401, "publish tokens only in the header: {body}");
    for events in [&mut on_a, &mut by_query, &mut by_cookie] {
        assert_eq!(
            seen(&events.events(1).await),
            [("1".into(), "message".into(), "x".into())]
        );
    }

    // The listing shows what the token covers, and the counts need a token.
    let (status, listing) = get(&hub, "/streams", &only_a).await;
    assert_eq!(status, 200, "{listing}");
    let names: Vec<&str> = listing["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a"]);
    let (status, listing) = get(&hub, "/streams", &publisher).await;
    assert_eq!(
        (status, listing["streams"].as_array().unwrap().len()),
        (200, 1)
    );
    assert_eq!(call(client().get(hub.url("/streams")), "").await.0, 401);
    let (_, health) = call(client().get(hub.url("/healthz")), "").await;
    assert_eq!(health, json!({"status": "ok"}));
}

#[actix_web::test]
async fn invalid_or_expired_tokens_get_401_with_the_reason() {
    let hub = jwt_hub(&[]);
    let streams = json!({ "subscribe": ["a"], "publish": ["a"] });
    let other_secret = mint_with(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another secret").unwrap(),
        &json!({ "mercure": streams }),
    );
    let other_algorithm = mint_with(
        Algorithm::HS512,
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        &json!({ "mercure": streams }),
    );
    // An unsigned token: header {"alg":"none"}, the claims, no signature.
    let unsigned =
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJtZXJjdXJlIjp7InN1YnNjcmliZSI6WyJhIl19fQ.";
    let cases = [
        (
            mint(&json!({ "exp": now() - 10, "mercure": streams })),
            "the token expired",
        ),
        (
            mint(&json!({ "nbf": now() + 3600, "mercure": streams })),
            "not valid yet",
        ),
        (
            mint(&json!({ "exp": "tomorrow", "mercure": streams })),
            "expected u64",
        ),
        (
            mint(&json!({ "mercure": { "subscribe": "a" } })),
            "expected a sequence",
        ),
        (other_secret, "signature does not match"),
        (other_algorithm, "not signed with HS256"),
        (unsigned.to_owned(), "unknown variant `none`"),
        ("not.a.jwt".to_owned(), "not a valid JWT"),
    ];
    for (token, reason) in &cases {
        for (status, body) in [
            get(&hub, "/events?stream=a", token).await,
            post(&hub, "a", token).await,
        ] {
            assert_eq!(status, 401, "{body}");
            assert!(
                error_of(&body).contains(reason),
                "{body} should say {reason:?}"
            );
        }
    }
    let (status, body) = call(client().get(hub.url("/events?stream=a")), "").await;
    assert_eq!(status, 401);
    assert!(error_of(&body).contains("no token was given"), "{body}");

    let response = client()
        .get(hub.url("/events?stream=a"))
        .bearer_auth(&cases[0].0)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers().get("www-authenticate").unwrap(),
        "Bearer error=\"invalid_token\""
    );
    let log = hub.log();
    assert!(
        log.contains("event stream refused") && log.contains("the token expired"),
        "{log}"
    );
    assert!(!log.contains(&cases[0].0), "tokens never reach the log");
}

#[actix_web::test]
async fn a_subscription_ends_when_its_token_expires() {
    let hub = jwt_hub(&[]);
    // `exp` is in whole seconds: this token expires in one to two seconds.
    let short = mint(&json!({ "exp": now() + 2, "mercure": { "subscribe": ["a"] } }));
    let lasting = subscriber(&["a"]);
    let mut expiring =
        EventClient::open(&hub.url(&format!("/events?stream=a&token={short}"))).await;
    let mut staying =
        EventClient::open(&hub.url(&format!("/events?stream=a&token={lasting}"))).await;
    assert_eq!(
        expiring.rest().await,
        [],
        "the response ends cleanly at exp"
    );

    let (status, body) = get(&hub, "/events?stream=a", &short).await;
    assert_eq!(status, 401, "reconnecting with it is refused: {body}");
    assert!(error_of(&body).contains("the token expired"), "{body}");
    let publisher = mint(&json!({ "mercure": { "publish": ["a"] } }));
    assert_eq!(post(&hub, "a", &publisher).await.0, 200);
    assert_eq!(
        staying.events(1).await[0].data,
        "x",
        "a token without exp lasts"
    );
    assert!(hub.log().contains("the token expired"));
}

#[actix_web::test]
async fn static_tokens_keep_working_beside_jwt() {
    let hub = jwt_hub(&[
        "--subscribe-token",
        "sub-secret",
        "--publish-token",
        "pub-secret",
    ]);
    let mut events = EventClient::open(&hub.url("/events?stream=any&token=sub-secret")).await;
    assert_eq!(post(&hub, "any", "pub-secret").await.0, 200);
    assert_eq!(events.events(1).await[0].data, "x");
    assert_eq!(post(&hub, "any", "sub-secret").await.0, 401);
    let (status, listing) = get(&hub, "/streams", "sub-secret").await;
    assert_eq!(status, 200);
    assert!(
        listing["streams"].as_array().unwrap().len() >= 2,
        "{listing}"
    );
}

#[actix_web::test]
async fn es256_tokens_verify_against_a_public_key_file() {
    let pair = rcgen::KeyPair::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let public = dir.path().join("jwt.pub.pem");
    std::fs::write(&public, pair.public_key_pem()).unwrap();
    let hub = Hub::start(&[
        "--jwt-algorithm",
        "ES256",
        "--jwt-key",
        public.to_str().unwrap(),
    ]);
    let signing = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let token = mint_with(
        Algorithm::ES256,
        &signing,
        &json!({ "mercure": { "publish": ["*"] } }),
    );
    assert_eq!(post(&hub, "news", &token).await.0, 200);
    // An HMAC token "signed" with the public key: refused by algorithm.
    let forged = mint_with(
        Algorithm::HS256,
        &EncodingKey::from_secret(pair.public_key_pem().as_bytes()).unwrap(),
        &json!({ "mercure": { "publish": ["*"] } }),
    );
    let (status, body) = post(&hub, "news", &forged).await;
    assert_eq!(status, 401);
    assert!(error_of(&body).contains("not signed with ES256"), "{body}");
}

#[test]
fn bad_jwt_flags_stop_the_hub_with_a_message() {
    for (args, message) in [
        (
            &["--jwt-key", "k", "--jwt-algorithm", "none"][..],
            "unknown JWT algorithm \"none\"",
        ),
        (
            &["--jwt-key", "/no/such/key.pem", "--jwt-algorithm", "RS256"][..],
            "/no/such/key.pem",
        ),
        (
            &[
                "--jwt-key=-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
                "--jwt-algorithm",
                "ES256",
            ][..],
            "needs a PEM public key",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sse"))
            .args(["hub", "--bind", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(message), "{stderr} should say {message:?}");
    }
}
