//! JWT authorization: the key a token must be signed with, and what a
//! valid token's claims allow.
//!
//! Claims follow Mercure's shape: `mercure.subscribe` and `mercure.publish`
//! list what the token may subscribe and publish to.
//!
//! ```json
//! {"exp": 1767225600, "mercure": {"subscribe": ["news", "user-42-*"], "publish": ["news"]}}
//! ```
//!
//! A selector is a stream name (exact), a name ending in `*` (every stream
//! starting with what comes before it) or `*` alone (every stream). Stream
//! names cannot hold `*`, so a selector never means two things.

use std::time::{Duration, SystemTime};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};

/// Why a JWT key could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtKeyError {
    /// Not an algorithm name jsonwebtoken knows.
    #[error("unknown JWT algorithm {0:?} (try HS256, RS256 or ES256)")]
    UnknownAlgorithm(String),
    /// The public key does not parse for the algorithm.
    #[error("{algorithm:?} needs a PEM public key of its type: {reason}")]
    Key {
        /// The algorithm asked for.
        algorithm: String,
        /// What was wrong.
        reason: String,
    },
}

/// The key incoming JWTs must be signed with, and the one algorithm they
/// may use (a token naming another is refused, so an RSA public key can
/// never be mistaken for an HMAC secret).
#[derive(Clone)]
pub struct JwtKey {
    key: DecodingKey,
    validation: Validation,
    algorithm: Algorithm,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key: it may be a shared secret.
        f.debug_struct("JwtKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl JwtKey {
    /// A key for `algorithm`: for `HS256`, `HS384` and `HS512`, `key` is the
    /// shared secret; for `RS*`, `PS*`, `ES256`, `ES384` and `EdDSA`, a PEM
    /// public key.
    ///
    /// ```
    /// let key = sse_hub::JwtKey::new("HS256", b"a long random secret").unwrap();
    /// assert!(sse_hub::JwtKey::new("none", b"").is_err());
    /// # let _ = key;
    /// ```
    pub fn new(algorithm: &str, key: &[u8]) -> Result<JwtKey, JwtKeyError> {
        let parsed: Algorithm = algorithm
            .parse()
            .map_err(|_| JwtKeyError::UnknownAlgorithm(algorithm.to_owned()))?;
        let decoded = match parsed.family() {
            AlgorithmFamily::Hmac => DecodingKey::from_secret(key),
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(key),
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(key),
            AlgorithmFamily::Ed => DecodingKey::from_ed_pem(key),
        }
        .map_err(|error| JwtKeyError::Key {
            algorithm: algorithm.to_owned(),
            reason: error.to_string(),
        })?;
        let mut validation = Validation::new(parsed);
        // Mercure's tokens often carry no `exp`: checked when present.
        validation.required_spec_claims.clear();
        validation.validate_nbf = true;
        // A subscription ends at `exp` exactly, so a token is accepted only
        // before it (RFC 7519: not "on or after"): no leeway, and a token
        // whose `exp` is this very second is refused too.
        validation.leeway = 0;
        validation.reject_tokens_expiring_in_less_than = 1;
        Ok(JwtKey {
            key: decoded,
            validation,
            algorithm: parsed,
        })
    }

    /// Checks `token` and reads what it allows.
    pub(crate) fn verify(&self, token: &str) -> Result<Grant, String> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|error| self.reason(error.kind()))?;
        let claims = data.claims;
        let selectors = |list: &[String]| list.iter().cloned().map(Selector::new).collect();
        Ok(Grant {
            subscribe: selectors(&claims.mercure.subscribe),
            publish: selectors(&claims.mercure.publish),
            subscribe_claims: claims.mercure.subscribe,
            publish_claims: claims.mercure.publish,
            payload: claims.mercure.payload,
            expires: claims
                .exp
                .and_then(|exp| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(exp))),
        })
    }

    fn reason(&self, kind: &ErrorKind) -> String {
        match kind {
            ErrorKind::ExpiredSignature => "the token expired".to_owned(),
            ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".to_owned(),
            ErrorKind::InvalidSignature => {
                "the token's signature does not match the key".to_owned()
            }
            ErrorKind::InvalidAlgorithm => format!(
                "the token is not signed with {:?}, the hub's algorithm",
                self.algorithm
            ),
            ErrorKind::InvalidAudience => {
                "the token is meant for an audience (aud); the hub accepts none".to_owned()
            }
            ErrorKind::InvalidClaimFormat(claim) => {
                format!("the token's {claim:?} claim is malformed")
            }
            ErrorKind::Json(error) => format!("the token is not a valid JWT: {error}"),
            _ => "the token is not a valid JWT".to_owned(),
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct Claims {
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    mercure: MercureClaims,
}

/// Mercure's `mercure` claim; anything else is ignored.
#[derive(Debug, Default, serde::Deserialize)]
struct MercureClaims {
    #[serde(default)]
    subscribe: Vec<String>,
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

/// What a verified token allows.
#[derive(Debug)]
pub(crate) struct Grant {
    subscribe: Vec<Selector>,
    publish: Vec<Selector>,
    /// `mercure.subscribe` as written, for the Mercure endpoint's topic
    /// selectors (`*`, exact topics, URI templates).
    pub(crate) subscribe_claims: Vec<String>,
    /// `mercure.publish` as written.
    pub(crate) publish_claims: Vec<String>,
    /// `exp`: when subscriptions opened with it end.
    pub(crate) expires: Option<SystemTime>,
    /// `mercure.payload`: what a Mercure subscription shows of its
    /// subscriber in presence updates.
    pub(crate) payload: Option<serde_json::Value>,
}

impl Grant {
    /// Whether the token may subscribe to `stream`. A request naming several
    /// streams needs this for each.
    pub(crate) fn may_subscribe(&self, stream: &str) -> bool {
        self.subscribe
            .iter()
            .any(|selector| selector.matches(stream))
    }

    /// Whether the token may publish to `stream`.
    pub(crate) fn may_publish(&self, stream: &str) -> bool {
        self.publish.iter().any(|selector| selector.matches(stream))
    }
}

#[derive(Debug)]
enum Selector {
    Exact(String),
    /// `prefix*`; `*` alone is the empty prefix.
    Prefix(String),
}

impl Selector {
    fn new(text: String) -> Selector {
        match text.strip_suffix('*') {
            Some(prefix) => Selector::Prefix(prefix.to_owned()),
            None => Selector::Exact(text),
        }
    }

    fn matches(&self, stream: &str) -> bool {
        match self {
            Selector::Exact(name) => name == stream,
            Selector::Prefix(prefix) => stream.starts_with(prefix.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(subscribe: &[&str]) -> Grant {
        Grant {
            subscribe: subscribe
                .iter()
                .map(|s| Selector::new((*s).to_owned()))
                .collect(),
            publish: Vec::new(),
            subscribe_claims: Vec::new(),
            publish_claims: Vec::new(),
            expires: None,
            payload: None,
        }
    }

    #[test]
    fn selectors_are_exact_names_prefixes_or_everything() {
        let exact = grant(&["news"]);
        assert!(exact.may_subscribe("news"));
        assert!(!exact.may_subscribe("news-2") && !exact.may_subscribe("new"));
        let prefix = grant(&["user-42-*"]);
        assert!(prefix.may_subscribe("user-42-") && prefix.may_subscribe("user-42-inbox"));
        assert!(!prefix.may_subscribe("user-420") && !prefix.may_subscribe("user-4"));
        let all = grant(&["*"]);
        assert!(all.may_subscribe("anything"));
        let none = grant(&[]);
        assert!(!none.may_subscribe("news"));
        assert!(
            !exact.may_publish("news"),
            "subscribe claims do not publish"
        );
    }
}
