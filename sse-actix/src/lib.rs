//! Server-Sent Events for actix-web (work in progress).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod server;
