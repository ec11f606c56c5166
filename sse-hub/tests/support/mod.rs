//! What the hub's integration tests share beyond `sse-testkit`.
#![allow(dead_code)] // each test file uses its own subset

pub mod hub_process;
