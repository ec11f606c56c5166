//! The actix-web binding of the sse-actors server (see the server issue).
