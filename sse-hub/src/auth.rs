//! Who may do what: the token a request carries, checked against the static
//! tokens and the JWT key of the hub's settings.

use std::time::SystemTime;

use actix_web::HttpRequest;
use actix_web::http::header;
use subtle::ConstantTimeEq as _;

use crate::HubConfig;
use crate::error::{HubError, Refusal};
use crate::jwt::Grant;

/// What a request asks to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Subscribe,
    Publish,
}

impl Action {
    pub(crate) fn gerund(self) -> &'static str {
        match self {
            Action::Subscribe => "subscribing",
            Action::Publish => "publishing",
        }
    }
}

/// What a request may do, once its token passed.
#[derive(Debug)]
pub(crate) enum Access {
    /// Every stream: no check is configured, or the static token matched.
    Any,
    /// The streams of a JWT's claims, until it expires.
    Token(Grant),
}

impl Access {
    /// Refuses `stream` unless the token covers it: 403.
    pub(crate) fn check_stream(&self, action: Action, stream: &str) -> Result<(), HubError> {
        let allowed = match (self, action) {
            (Access::Any, _) => true,
            (Access::Token(grant), Action::Subscribe) => grant.may_subscribe(stream),
            (Access::Token(grant), Action::Publish) => grant.may_publish(stream),
        };
        if allowed {
            Ok(())
        } else {
            Err(HubError::Forbidden {
                action: action.gerund(),
                stream: stream.to_owned(),
            })
        }
    }

    /// Whether the token allows `action` on `stream` (for listings).
    pub(crate) fn covers(&self, action: Action, stream: &str) -> bool {
        self.check_stream(action, stream).is_ok()
    }

    /// When subscriptions opened with this access must end.
    pub(crate) fn expires(&self) -> Option<SystemTime> {
        match self {
            Access::Any => None,
            Access::Token(grant) => grant.expires,
        }
    }
}

/// Checks the token `req` carries for `action`: the static token when it
/// matches, else a JWT when a key is configured. Subscribing reads the
/// token from the `Authorization: Bearer` header, the token query parameter
/// (EventSource cannot set headers) or the token cookie, in that order;
/// publishing only from the header (a cookie would let any page publish
/// as its visitor, and query strings end up in logs).
pub(crate) fn check(
    config: &HubConfig,
    req: &HttpRequest,
    action: Action,
) -> Result<Access, HubError> {
    let (token, jwt) = match action {
        Action::Subscribe => (
            config.subscribe_token.as_deref(),
            config.subscribe_jwt.as_ref(),
        ),
        Action::Publish => (config.publish_token.as_deref(), config.publish_jwt.as_ref()),
    };
    if token.is_none() && jwt.is_none() {
        return Ok(Access::Any);
    }
    let unauthorized = |reason| HubError::Unauthorized {
        action: action.gerund(),
        reason,
    };
    let given = match action {
        Action::Subscribe => presented_token(req, config),
        Action::Publish => bearer_token(req).map(str::to_owned),
    }
    .ok_or(unauthorized(Refusal::NoToken))?;
    if token.is_some_and(|expected| same_secret(&given, expected)) {
        return Ok(Access::Any);
    }
    match jwt {
        Some(key) => key
            .verify(&given)
            .map(Access::Token)
            .map_err(|reason| unauthorized(Refusal::Jwt(reason))),
        None => Err(unauthorized(Refusal::WrongToken)),
    }
}

/// Refuses `req` unless its `Authorization: Bearer` header holds `expected`.
pub(crate) fn check_static(
    req: &HttpRequest,
    expected: &str,
    action: &'static str,
) -> Result<(), HubError> {
    match bearer_token(req) {
        Some(given) if same_secret(given, expected) => Ok(()),
        given => Err(HubError::Unauthorized {
            action,
            reason: if given.is_some() {
                Refusal::WrongToken
            } else {
                Refusal::NoToken
            },
        }),
    }
}

/// Who may see what the hub holds (stream names, counts): anyone while
/// subscribing is open, else a subscribe or a publish token, seeing the
/// streams it covers.
#[derive(Debug)]
pub(crate) struct Inspector {
    subscribe: Option<Access>,
    publish: Option<Access>,
}

impl Inspector {
    /// Whether the inspector may see `stream`.
    pub(crate) fn sees(&self, stream: &str) -> bool {
        self.subscribe
            .as_ref()
            .is_some_and(|access| access.covers(Action::Subscribe, stream))
            || self
                .publish
                .as_ref()
                .is_some_and(|access| access.covers(Action::Publish, stream))
    }
}

/// The [`Inspector`] `req` is, or 401.
pub(crate) fn check_inspector(
    config: &HubConfig,
    req: &HttpRequest,
) -> Result<Inspector, HubError> {
    let subscribe = check(config, req, Action::Subscribe);
    // A publish token counts only where publishing needs one.
    let publish = (config.publish_token.is_some() || config.publish_jwt.is_some())
        .then(|| check(config, req, Action::Publish).ok())
        .flatten();
    match (subscribe, publish) {
        (Ok(subscribe), publish) => Ok(Inspector {
            subscribe: Some(subscribe),
            publish,
        }),
        (Err(_), Some(publish)) => Ok(Inspector {
            subscribe: None,
            publish: Some(publish),
        }),
        (Err(HubError::Unauthorized { reason, .. }), None) => Err(HubError::Unauthorized {
            action: "listing streams",
            reason,
        }),
        (Err(other), None) => Err(other),
    }
}

/// The token of a subscribe request, wherever it is.
fn presented_token(req: &HttpRequest, config: &HubConfig) -> Option<String> {
    if let Some(token) = bearer_token(req) {
        return Some(token.to_owned());
    }
    if let Ok(Some(token)) = sse_actix::server::query_param(req, &config.token_param) {
        return Some(token);
    }
    req.cookie(&config.token_cookie)
        .map(|cookie| cookie.value().to_owned())
}

/// The token of an `Authorization: Bearer` header.
fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares in constant time, so response timing does not reveal how much
/// of a guessed token was right (only its length, which a token's format
/// discloses anyway).
pub(crate) fn same_secret(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn config() -> HubConfig {
        HubConfig {
            subscribe_token: Some("s3cret".to_owned()),
            publish_token: Some("pub".to_owned()),
            ..HubConfig::default()
        }
    }

    fn passes(req: TestRequest, action: Action) -> bool {
        check(&config(), &req.to_http_request(), action).is_ok()
    }

    #[test]
    fn static_tokens_from_the_header_query_or_cookie() {
        let header = || TestRequest::get().insert_header(("authorization", "bearer s3cret"));
        assert!(passes(header(), Action::Subscribe));
        assert!(!passes(header(), Action::Publish), "another action's token");
        let wrong = TestRequest::get().insert_header(("authorization", "Bearer s3cre"));
        assert!(!passes(wrong, Action::Subscribe));
        let query = || TestRequest::get().uri("/events?token=s3cret");
        assert!(passes(query(), Action::Subscribe));
        let cookie = || TestRequest::get().insert_header(("cookie", "sse_token=s3cret"));
        assert!(passes(cookie(), Action::Subscribe));
        let publish_query = TestRequest::post().uri("/events?token=pub");
        assert!(
            !passes(publish_query, Action::Publish),
            "publish tokens only in the header"
        );
        let publish_cookie = TestRequest::post().insert_header(("cookie", "sse_token=pub"));
        assert!(!passes(publish_cookie, Action::Publish));
        let basic = TestRequest::get().insert_header(("authorization", "Basic s3cret"));
        assert!(!passes(basic, Action::Subscribe));
        let open = check(
            &HubConfig::default(),
            &TestRequest::get().to_http_request(),
            Action::Subscribe,
        );
        assert!(matches!(open, Ok(Access::Any)), "no token configured");
    }
}
