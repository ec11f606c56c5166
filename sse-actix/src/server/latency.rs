//! How long live events wait between their publication and the response
//! that takes them: the publish-to-write latency a metrics exporter shows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sse_actors::Delivery;

/// What [`Sse::observe_delivery_latency`](crate::Sse::observe_delivery_latency)
/// installed, if anything; shared by every connection of the handler.
#[derive(Clone, Default)]
pub(crate) struct LatencyProbe(Option<Arc<dyn Fn(Duration) + Send + Sync>>);

impl std::fmt::Debug for LatencyProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LatencyProbe")
            .field(&self.0.is_some())
            .finish()
    }
}

impl LatencyProbe {
    pub(crate) fn new(observe: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        LatencyProbe(Some(Arc::new(observe)))
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Reports the wait of a chunk whose oldest live event was published
    /// at `oldest`, once per chunk: the oldest waited longest, and a call
    /// per event would cost the fan-out more than the figure is worth.
    pub(crate) fn chunk_written(&self, oldest: Option<Instant>) {
        if let (Some(observe), Some(oldest)) = (&self.0, oldest) {
            observe(Instant::now().saturating_duration_since(oldest));
        }
    }
}

/// When an event delivered live (not replayed, not a keep-alive) was
/// published.
pub(crate) fn live_published(delivery: &Delivery) -> Option<Instant> {
    (delivery.position.is_some() && !delivery.replayed).then_some(delivery.published)
}
