//! Shared helpers for the cross-crate end-to-end and interoperability tests.
//!
//! Foreign peers (a browser, other ecosystems' clients and servers) are
//! installed by `scripts/test.sh` and located through environment variables
//! it exports. A test asks [`peer`] for what it needs: under `CI=true` a
//! missing peer fails the test; elsewhere the test is skipped with a message
//! on stderr that names the command that installs it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::net::TcpListener;
use std::path::PathBuf;

/// A foreign program a test drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Headless Chromium (`SSE_CHROMIUM`, default `/usr/bin/chromium`).
    Chromium,
    /// Node.js with the npm `eventsource` package: the path is the
    /// `node_modules` folder holding it (`SSE_NODE_MODULES`).
    NodeEventSource,
    /// A Python interpreter of a virtualenv holding `sse-starlette`,
    /// `uvicorn` and `httpx-sse` (`SSE_PYTHON`).
    Python,
    /// nginx with the nchan module: the path is the nginx binary
    /// (`SSE_NGINX`); the module path is in `SSE_NCHAN_MODULE`.
    NginxNchan,
    /// `redis-server` (`SSE_REDIS_SERVER`, default found on `PATH`).
    RedisServer,
    /// `curl` built with HTTP/2 (`SSE_CURL`, default `/usr/bin/curl`).
    Curl,
    /// LaunchDarkly's `sse-contract-tests` harness binary
    /// (`SSE_LD_CONTRACT_TESTS`, default `tests/peers/ld-contract-tests/sse-contract-tests`,
    /// where `scripts/install-peers.sh` builds it).
    LdContractTests,
}

impl Peer {
    fn env_var(self) -> &'static str {
        match self {
            Peer::Chromium => "SSE_CHROMIUM",
            Peer::NodeEventSource => "SSE_NODE_MODULES",
            Peer::Python => "SSE_PYTHON",
            Peer::NginxNchan => "SSE_NGINX",
            Peer::RedisServer => "SSE_REDIS_SERVER",
            Peer::Curl => "SSE_CURL",
            Peer::LdContractTests => "SSE_LD_CONTRACT_TESTS",
        }
    }

    fn default_path(self) -> Option<PathBuf> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers");
        let candidate = match self {
            Peer::Chromium => PathBuf::from("/usr/bin/chromium"),
            Peer::NodeEventSource => root.join("node/node_modules"),
            Peer::Python => root.join("venv/bin/python"),
            Peer::NginxNchan => PathBuf::from("/usr/sbin/nginx"),
            Peer::RedisServer => PathBuf::from("/usr/bin/redis-server"),
            Peer::Curl => PathBuf::from("/usr/bin/curl"),
            Peer::LdContractTests => root.join("ld-contract-tests/sse-contract-tests"),
        };
        candidate.exists().then_some(candidate)
    }
}

/// Where `peer` is installed. `None` means "skip this test" and has already
/// said so on stderr; under `CI=true` a missing peer panics instead, so CI
/// can never pass by skipping.
pub fn peer(peer: Peer) -> Option<PathBuf> {
    let found = std::env::var_os(peer.env_var())
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .or_else(|| peer.default_path());
    if found.is_none() {
        let message = format!(
            "{peer:?} is not installed (set {} or run scripts/test.sh, which installs it)",
            peer.env_var()
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
    }
    found
}

/// A TCP port on 127.0.0.1 that was free a moment ago, for foreign servers
/// that cannot be handed a bound socket. Prefer binding port 0 directly.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral port on 127.0.0.1")
}
