//! Fan-out benchmarking for SSE servers: a load tool (`sse-bench`), the
//! baseline peer it compares our hub against (`sse-bench-baseline`), and the
//! per-request responder peers (`sse-bench-responder`, [`responders`]).
//!
//! The tool talks HTTP/1.1 over raw sockets ([`http`]) and decodes events with
//! `sse_proto::Decoder`, so that its own cost per delivery stays well below
//! the servers' and it can hold tens of thousands of connections from one
//! process. See [`load`] for the scenarios and what they measure.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod baseline;
pub mod http;
pub mod load;
pub mod responders;
pub mod sys;
