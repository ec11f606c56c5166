//! Where a server reads the time: the system's monotonic clock, or a
//! [`ManualClock`] that moves only when told to.
//!
//! The stream logic never reads a clock itself; its drivers (the actors,
//! the publishing handles, the subscriptions) read this one and pass the
//! time in, so every time rule (TTL, log age, idle retirement, the drain
//! deadline) can be tested without waiting.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// The clock a server's drivers read.
#[derive(Clone, Debug, Default)]
pub(crate) enum Clock {
    /// `Instant::now()` and the system's wall clock.
    #[default]
    System,
    Manual(ManualClock),
}

impl Clock {
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            Clock::Manual(manual) => manual.now(),
        }
    }

    /// Time since the Unix epoch, on the same clock as [`now`](Self::now)
    /// (a manual clock's wall time moves with it).
    pub(crate) fn unix_now(&self) -> Duration {
        match self {
            Clock::System => unix_now(),
            Clock::Manual(manual) => manual.unix_start + (manual.now() - manual.start),
        }
    }

    /// Resolves once the clock reads `deadline` or later.
    pub(crate) fn sleep_until(
        &self,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        match self {
            Clock::System => Box::pin(actix::clock::sleep_until(deadline.into())),
            Clock::Manual(manual) => {
                // Holding the sender keeps `changed` from failing.
                let sender = Arc::clone(&manual.time);
                Box::pin(async move {
                    let mut time = sender.subscribe();
                    while *time.borrow_and_update() < deadline {
                        let _ = time.changed().await;
                    }
                })
            }
        }
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A clock that stands still until [`advance`](Self::advance)d: give it to
/// [`ServerBuilder::clock`](crate::ServerBuilder::clock) to test what
/// depends on time (event TTL, log age, idle auto-stream retirement, the
/// drain deadline of [`Server::close`](crate::Server::close)) without
/// waiting for it. Keep-alive comments still follow real time.
///
/// Cheap to clone; every clone reads and moves the same time.
///
/// ```
/// use std::time::Duration;
/// use sse_actors::ManualClock;
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now() - start, Duration::from_secs(90));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    time: Arc<watch::Sender<Instant>>,
    start: Instant,
    unix_start: Duration,
}

impl ManualClock {
    /// A clock reading the current time, standing still from now on.
    pub fn new() -> Self {
        let start = Instant::now();
        ManualClock {
            time: Arc::new(watch::Sender::new(start)),
            start,
            unix_start: unix_now(),
        }
    }

    /// The time it reads.
    pub fn now(&self) -> Instant {
        *self.time.borrow()
    }

    /// Moves the time forward by `by`, waking what waits for it.
    pub fn advance(&self, by: Duration) {
        self.time.send_modify(|now| *now += by);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl std::fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &(self.now() - self.start))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_manual_sleep_ends_when_the_clock_reaches_its_deadline() {
        let manual = ManualClock::new();
        let clock = Clock::Manual(manual.clone());
        let deadline = manual.now() + Duration::from_secs(60);
        let sleep = actix_rt::spawn(clock.sleep_until(deadline));
        manual.advance(Duration::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!sleep.is_finished());
        manual.advance(Duration::from_secs(1));
        sleep.await.unwrap();
    }

    #[test]
    fn manual_wall_time_moves_with_the_clock() {
        let manual = ManualClock::new();
        let clock = Clock::Manual(manual.clone());
        let before = clock.unix_now();
        manual.advance(Duration::from_millis(1500));
        assert_eq!(clock.unix_now() - before, Duration::from_millis(1500));
    }
}
