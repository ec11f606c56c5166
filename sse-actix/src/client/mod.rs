//! The reconnecting awc client (see the client issue).
