//! The hub's own settings, on top of the handler's and the server's.

use crate::JwtKey;

/// Settings of the HTTP API around the event streams. Every limit has a
/// default suited to a hub on a trusted network; tokens and CORS are off
/// (closed) by default.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Bearer token required to publish (`Authorization: Bearer TOKEN`).
    /// Default: none, anyone who can reach the hub may publish.
    pub publish_token: Option<String>,
    /// Bearer token required to subscribe, also accepted as the
    /// [`token_param`](HubConfig::token_param) query parameter because
    /// EventSource cannot set headers. When set, `GET /streams` and the
    /// counts of `GET /healthz` need it or the publish token too. Default:
    /// none.
    pub subscribe_token: Option<String>,
    /// JWTs signed with this key may subscribe to the streams their
    /// `mercure.subscribe` claim lists (see [`JwtKey`]), beside the static
    /// subscribe token; a subscription ends when its token expires (`exp`).
    /// Default: none.
    pub subscribe_jwt: Option<JwtKey>,
    /// JWTs signed with this key may publish to the streams their
    /// `mercure.publish` claim lists, beside the static publish token. The
    /// same key as [`subscribe_jwt`](HubConfig::subscribe_jwt) or another
    /// one. Default: none.
    pub publish_jwt: Option<JwtKey>,
    /// The query parameter carrying a subscribe token (static or JWT).
    /// Default `token`.
    pub token_param: String,
    /// The cookie carrying a subscribe token (static or JWT), after the
    /// header and the query parameter. Default `sse_token`.
    pub token_cookie: String,
    /// Origins allowed to call the hub from other sites' pages (CORS); `*`
    /// allows any. On `/.well-known/mercure` listed origins may also send
    /// cookies (`mercureAuthorization`, with `withCredentials`): the answer
    /// echoes the origin with `Access-Control-Allow-Credentials: true`;
    /// `*` never allows credentials. Default: none, so browsers only allow
    /// same-origin pages.
    pub cors_origins: Vec<String>,
    /// Largest accepted publish body, in bytes; a larger one gets 413.
    /// Default 1 MiB.
    pub max_body_size: usize,
    /// Serve Prometheus metrics at `GET /metrics`. Default on.
    pub metrics: bool,
    /// Bearer token required to read `/metrics`. Default: none, so
    /// `/metrics` follows the counts of `/healthz` (open unless a subscribe
    /// token or key is set, then for a subscribe or publish token).
    pub metrics_token: Option<String>,
    /// The stream the demo page opens. Default `demo`.
    pub demo_stream: String,
    /// Serve the demo page at `/`. Default on.
    pub demo_page: bool,
    /// Serve the Mercure protocol at `/.well-known/mercure` (see the
    /// README's "Use it as a Mercure hub"). Default on.
    pub mercure: bool,
    /// Mercure subscribers without a token receive public updates even when
    /// a subscribe key or token is configured (`--anonymous`); otherwise
    /// they get 401. Without any subscribe key or token the endpoint is
    /// open to them anyway. Default off.
    pub mercure_anonymous: bool,
    /// Most topics one Mercure update may name, and most `topic` selectors
    /// one subscription may give; more is a 400. Default 64.
    pub mercure_max_topics: usize,
    /// Most compiled URI-template selectors kept for reuse across requests
    /// (each a small regex); past it, those unused since the cache last
    /// turned over go.
    /// Default 4096.
    pub mercure_template_cache: usize,
    /// Track active Mercure subscriptions (`--subscriptions`): publish a
    /// private update to `/.well-known/mercure/subscriptions/{topic}/{subscriber}`
    /// when one opens or ends, and list the open ones at
    /// `GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]`.
    /// The table holds one entry per open subscription of this hub, so it
    /// is bounded by the handler's connection limit. In a cluster,
    /// [`Hub::share_subscriptions`](crate::Hub::share_subscriptions) lists
    /// every node's. Default off.
    pub mercure_subscriptions: bool,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            publish_token: None,
            subscribe_token: None,
            subscribe_jwt: None,
            publish_jwt: None,
            token_param: "token".to_owned(),
            token_cookie: "sse_token".to_owned(),
            cors_origins: Vec::new(),
            max_body_size: 1024 * 1024,
            metrics: true,
            metrics_token: None,
            demo_stream: "demo".to_owned(),
            demo_page: true,
            mercure: true,
            mercure_anonymous: false,
            mercure_max_topics: 64,
            mercure_template_cache: 4096,
            mercure_subscriptions: false,
        }
    }
}
