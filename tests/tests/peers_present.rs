//! Every foreign peer is installed: under `CI=true` a broken install fails
//! here, loudly and listing every missing peer, instead of as scattered
//! failures (or, worse, skips) in the interoperability tests. Elsewhere it
//! only reports what is missing.

use std::panic;
use std::path::PathBuf;

use sse_tests::{Peer, peer};

const ALL: [Peer; 7] = [
    Peer::Chromium,
    Peer::NodeEventSource,
    Peer::Python,
    Peer::NginxNchan,
    Peer::RedisServer,
    Peer::Curl,
    Peer::LdContractTests,
];

/// Does not compile when a peer is added without extending [`ALL`].
#[allow(dead_code)]
fn listed_in_all(peer: Peer) {
    match peer {
        Peer::Chromium
        | Peer::NodeEventSource
        | Peer::Python
        | Peer::NginxNchan
        | Peer::RedisServer
        | Peer::Curl
        | Peer::LdContractTests => {}
    }
}

#[test]
fn every_peer_is_installed() {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let mut missing = Vec::new();
    for p in ALL {
        // Under CI `peer` panics on the first missing peer; catching it lets
        // the failure list all of them.
        match panic::catch_unwind(|| peer(p)) {
            Ok(Some(path)) => eprintln!("{p:?}: {}", path.display()),
            Ok(None) | Err(_) => missing.push(format!("{p:?}")),
        }
    }
    // nginx alone is no SSE peer: the nchan module must be there too.
    let nchan = std::env::var_os("SSE_NCHAN_MODULE")
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    match nchan {
        Some(path) => eprintln!("nchan module: {}", path.display()),
        None => missing.push("the nchan module (SSE_NCHAN_MODULE)".to_owned()),
    }
    if in_ci {
        assert!(
            missing.is_empty(),
            "missing peers under CI=true: {} (scripts/test.sh installs them)",
            missing.join(", ")
        );
    } else if !missing.is_empty() {
        eprintln!(
            "not installed: {} (run scripts/test.sh to install them)",
            missing.join(", ")
        );
    }
}
