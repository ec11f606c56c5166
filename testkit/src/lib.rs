//! Test helpers shared by the workspace's integration tests: an in-process
//! actix-web server on a free loopback port, a client that decodes its event
//! streams ([`EventClient`]), and a scripted SSE server for client tests
//! ([`scripted::ScriptedServer`]). Never published; never used outside tests.
#![forbid(unsafe_code)]

mod event_client;
pub mod scripted;

pub use event_client::{EventClient, GUARD, TestServer, client, refused, seen, until};
