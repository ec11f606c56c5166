//! JWTs for the hub's tests: HS256 with a shared [`SECRET`], or any
//! algorithm and key.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The shared secret the tests' hubs check HS256 tokens with.
pub const SECRET: &str = "a-long-random-shared-secret";

/// `claims` signed with `key` by `algorithm`.
pub fn mint_with(algorithm: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(algorithm), claims, key).expect("claims encode")
}

/// `claims` signed HS256 with [`SECRET`].
pub fn mint(claims: &Value) -> String {
    mint_with(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()).expect("an HMAC key"),
        claims,
    )
}

/// A token whose `mercure.subscribe` claim lists `selectors`.
pub fn subscriber(selectors: &[&str]) -> String {
    mint(&json!({ "mercure": { "subscribe": selectors } }))
}

/// A token whose `mercure.publish` claim lists `selectors`.
pub fn publisher(selectors: &[&str]) -> String {
    mint(&json!({ "mercure": { "publish": selectors } }))
}

/// Seconds since the Unix epoch, for `exp` and `nbf` claims.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}
