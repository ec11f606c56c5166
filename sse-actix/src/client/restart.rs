//! Forcing a reconnection now: after a token refresh, a network change, or
//! whenever the caller knows the connection is stale before the client does.

use std::fmt;
use std::sync::Arc;

use super::session::{SharedSession, request_restart};

/// Makes one subscription reconnect now, from any task or thread.
///
/// Obtained from [`FrameStream::restart_handle`](super::FrameStream::restart_handle),
/// [`EventStream::restart_handle`](super::EventStream::restart_handle) or
/// [`ChannelSubscription::restart_handle`](super::ChannelSubscription::restart_handle);
/// cheap to clone, `Send + Sync`.
///
/// [`restart`](Self::restart) drops whatever the subscription is doing —
/// reading a response, waiting out a reconnection delay, or waiting for a
/// response head — and connects again at once, as if the server had just
/// closed the connection, except that:
/// - nothing is reported: no `Err` item, no `on_disconnect` call, no
///   reconnection delay (the next `on_connect` fires as usual);
/// - the old connection is closed before the new one is opened, so there is
///   never more than one;
/// - the `Last-Event-ID` is the last one received (an event cut short is
///   discarded, as after any loss).
///
/// Requests made before the subscription next waits are merged into one.
/// Once the subscription has ended (`204`, a fatal error, the strategy gave
/// up), a restart does nothing.
#[derive(Clone)]
pub struct RestartHandle {
    shared: SharedSession,
}

impl fmt::Debug for RestartHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestartHandle").finish_non_exhaustive()
    }
}

impl RestartHandle {
    pub(crate) fn new(shared: &SharedSession) -> Self {
        RestartHandle {
            shared: Arc::clone(shared),
        }
    }

    /// Reconnects the subscription now (see the type's documentation).
    /// Never blocks.
    pub fn restart(&self) {
        request_restart(&self.shared);
    }
}
