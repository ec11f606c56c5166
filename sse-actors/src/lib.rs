//! Server-Sent Events server core as actix actors (work in progress).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
