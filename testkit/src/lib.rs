//! Test helpers shared by the workspace's integration tests: an in-process
//! actix-web server on a free loopback port, a client that decodes its event
//! streams ([`EventClient`]), a scripted SSE server for client tests
//! ([`scripted::ScriptedServer`], over TLS too), a certificate authority
//! for TLS tests ([`test_ca::TestCa`]), the JWTs the hub's tests mint
//! ([`jwt`]) and browser test pages ([`event_page`]). Never published;
//! never used outside tests.
#![forbid(unsafe_code)]

mod browser_page;
mod event_client;
mod generated_id;
pub mod jwt;
pub mod scripted;
mod stalled;
pub mod test_ca;

pub use browser_page::event_page;
pub use event_client::{EventClient, GUARD, TestServer, client, refused, seen, until};
pub use generated_id::seq_of;
pub use stalled::stalled_client;
