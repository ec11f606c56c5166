//! Who may do what on the Mercure endpoint: the token a request carries,
//! read where Mercure clients put it, and what its `mercure` claim allows.

use std::time::SystemTime;

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::HubConfig;
use crate::auth::same_secret;
use crate::error::{HubError, Refusal};

/// The cookie Mercure clients (and `EventSource` with credentials) send.
pub(crate) const COOKIE: &str = "mercureAuthorization";

/// The query parameter a subscriber may carry its token in.
pub(crate) const QUERY: &str = "authorization";

/// What a subscriber may receive besides public updates.
#[derive(Debug, Default)]
pub(crate) struct Subscriber {
    /// The selectors of the private updates it may receive
    /// (`mercure.subscribe`; `*` for the static subscribe token).
    pub(crate) private: Vec<String>,
    /// When its subscription ends (the token's `exp`).
    pub(crate) expires: Option<SystemTime>,
    /// The token's `mercure.payload`, shown in presence updates.
    pub(crate) payload: Option<serde_json::Value>,
    /// It presented a token (static or JWT) that verified.
    pub(crate) authenticated: bool,
}

/// Checks a subscriber's token. Without one it gets public updates when
/// the hub lets anonymous subscribers in (`--anonymous`, or no subscribe
/// key or token configured), else 401; a token that does not verify is a
/// 401 with the reason, whatever the setting.
pub(crate) fn subscriber(config: &HubConfig, req: &HttpRequest) -> Result<Subscriber, HubError> {
    let checked = config.subscribe_token.is_some() || config.subscribe_jwt.is_some();
    let unauthorized = |reason| HubError::Unauthorized {
        action: "subscribing",
        reason,
    };
    let Some(token) = token(req, true) else {
        return if config.mercure_anonymous || !checked {
            Ok(Subscriber::default())
        } else {
            Err(unauthorized(Refusal::NoToken))
        };
    };
    if !checked {
        // Nothing to check it against: an open hub serves public updates.
        return Ok(Subscriber::default());
    }
    if config
        .subscribe_token
        .as_deref()
        .is_some_and(|expected| same_secret(&token, expected))
    {
        return Ok(Subscriber {
            private: vec!["*".to_owned()],
            expires: None,
            payload: None,
            authenticated: true,
        });
    }
    let key = config
        .subscribe_jwt
        .as_ref()
        .ok_or(unauthorized(Refusal::WrongToken))?;
    let grant = key
        .verify(&token)
        .map_err(|reason| unauthorized(Refusal::Jwt(reason)))?;
    Ok(Subscriber {
        private: grant.subscribe_claims,
        expires: grant.expires,
        payload: grant.payload,
        authenticated: true,
    })
}

/// Checks a publisher's token: `None` allows every topic (no publish key or
/// token configured, or the static publish token), else the selectors of
/// `mercure.publish`, every topic of an update needing one.
pub(crate) fn publisher(
    config: &HubConfig,
    req: &HttpRequest,
) -> Result<Option<Vec<String>>, HubError> {
    if config.publish_token.is_none() && config.publish_jwt.is_none() {
        return Ok(None);
    }
    let unauthorized = |reason| HubError::Unauthorized {
        action: "publishing",
        reason,
    };
    let token = token(req, false).ok_or(unauthorized(Refusal::NoToken))?;
    if config
        .publish_token
        .as_deref()
        .is_some_and(|expected| same_secret(&token, expected))
    {
        return Ok(None);
    }
    let key = config
        .publish_jwt
        .as_ref()
        .ok_or(unauthorized(Refusal::WrongToken))?;
    let grant = key
        .verify(&token)
        .map_err(|reason| unauthorized(Refusal::Jwt(reason)))?;
    Ok(Some(grant.publish_claims))
}

/// The token of a Mercure request: the `Authorization: Bearer` header, the
/// [`COOKIE`], or for a subscriber the [`QUERY`] parameter (`EventSource`
/// cannot set headers), in that order.
fn token(req: &HttpRequest, subscribing: bool) -> Option<String> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    bearer
        .or_else(|| req.cookie(COOKIE).map(|cookie| cookie.value().to_owned()))
        .or_else(|| {
            subscribing
                .then(|| {
                    form_urlencoded::parse(req.query_string().as_bytes())
                        .find(|(name, _)| name == QUERY)
                        .map(|(_, value)| value.into_owned())
                })
                .flatten()
        })
}
