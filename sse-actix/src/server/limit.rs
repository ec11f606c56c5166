//! Counting open event streams against the connection limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::server::SseError;

/// The number of event streams a handler (and every clone of it) has open.
#[derive(Clone, Debug, Default)]
pub(crate) struct Connections {
    open: Arc<AtomicUsize>,
}

impl Connections {
    /// Takes one slot, or refuses when `limit` slots are taken. The slot is
    /// given back when the guard drops, i.e. when the response body does.
    pub(crate) fn acquire(&self, limit: Option<usize>) -> Result<ConnectionGuard, SseError> {
        let max = limit.unwrap_or(usize::MAX);
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .map_err(|_| SseError::TooManyConnections { limit: max })?;
        Ok(ConnectionGuard {
            open: Arc::clone(&self.open),
        })
    }

    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// One open event stream; dropping it frees its slot.
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    open: Arc<AtomicUsize>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}
