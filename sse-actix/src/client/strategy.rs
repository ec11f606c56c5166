//! How long to wait before each reconnection.
//!
//! The client talks to a [`ReconnectStrategy`], a trait of its own, so that
//! the implementation can be swapped: the default, [`ExponentialBackoff`],
//! is built on the `backoff` crate, which carries a RUSTSEC "unmaintained"
//! advisory; nothing else in the client depends on that crate.

use std::time::Duration;

use backoff::backoff::Backoff as _;

/// Chooses the delay before each reconnection attempt.
///
/// The client calls [`set_base_delay`](Self::set_base_delay) with its initial
/// reconnection time and again whenever the server sends `retry:` (already
/// clamped to the client's floor and cap), [`reset`](Self::reset) after a
/// connection that proved healthy (it delivered an event or lasted
/// [`healthy_after`](super::ClientBuilder::healthy_after)) ended, and
/// [`next_delay`](Self::next_delay) before each reconnection. Whatever
/// `next_delay` returns is clamped to the same floor and cap (and raised to
/// a server's `Retry-After`), so no strategy can make the client spin.
pub trait ReconnectStrategy: Send {
    /// The delay before the next attempt, or `None` to give up for good.
    fn next_delay(&mut self) -> Option<Duration>;
    /// A connection proved healthy: start again from the base delay.
    fn reset(&mut self);
    /// The delay to start from (the spec's "reconnection time"). A strategy
    /// in the middle of a backoff should not shorten its current delay, or a
    /// server that sends `retry:` on every short-lived connection would keep
    /// it from growing.
    fn set_base_delay(&mut self, base: Duration);
}

impl<S: ReconnectStrategy + ?Sized> ReconnectStrategy for Box<S> {
    fn next_delay(&mut self) -> Option<Duration> {
        (**self).next_delay()
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn set_base_delay(&mut self, base: Duration) {
        (**self).set_base_delay(base)
    }
}

/// Exponential backoff with jitter, never giving up (the default).
///
/// Each delay is the previous one times [`multiplier`](Self::multiplier),
/// randomised by ± [`randomization_factor`](Self::randomization_factor),
/// up to [`max_interval`](Self::max_interval). A new base delay (`retry:`)
/// applies at once when no delay was drawn since the last reset, and
/// otherwise only raises the current delay.
#[derive(Debug)]
pub struct ExponentialBackoff {
    inner: backoff::ExponentialBackoff,
    /// No delay drawn since the last reset.
    fresh: bool,
}

impl Default for ExponentialBackoff {
    fn default() -> Self {
        let mut inner = backoff::ExponentialBackoff {
            max_elapsed_time: None,
            max_interval: Duration::from_secs(30),
            ..backoff::ExponentialBackoff::default()
        };
        inner.reset();
        ExponentialBackoff { inner, fresh: true }
    }
}

impl ExponentialBackoff {
    /// Growth factor between successive delays (default 1.5).
    #[must_use]
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.inner.multiplier = multiplier;
        self
    }

    /// Jitter: each delay is drawn from `[d·(1-f), d·(1+f)]` (default 0.5).
    #[must_use]
    pub fn randomization_factor(mut self, factor: f64) -> Self {
        self.inner.randomization_factor = factor;
        self
    }

    /// Longest delay this strategy produces (default 30 s).
    #[must_use]
    pub fn max_interval(mut self, max: Duration) -> Self {
        self.inner.max_interval = max;
        self
    }

    /// Give up once this much time has passed since the last healthy
    /// connection ended (default: never).
    #[must_use]
    pub fn max_elapsed_time(mut self, max: Option<Duration>) -> Self {
        self.inner.max_elapsed_time = max;
        self
    }
}

impl ReconnectStrategy for ExponentialBackoff {
    fn next_delay(&mut self) -> Option<Duration> {
        self.fresh = false;
        self.inner.next_backoff()
    }
    fn reset(&mut self) {
        self.fresh = true;
        self.inner.reset();
    }
    fn set_base_delay(&mut self, base: Duration) {
        self.inner.initial_interval = base;
        if self.fresh || self.inner.current_interval < base {
            self.inner.current_interval = base;
        }
    }
}

/// The same delay every time (the base delay), never giving up.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConstantBackoff {
    base: Duration,
}

impl ReconnectStrategy for ConstantBackoff {
    fn next_delay(&mut self) -> Option<Duration> {
        Some(self.base)
    }
    fn reset(&mut self) {}
    fn set_base_delay(&mut self, base: Duration) {
        self.base = base;
    }
}

/// Gives up after `max` reconnections in a row without a healthy
/// connection; delays come from the wrapped strategy.
#[derive(Debug)]
pub struct MaxRetries<S> {
    inner: S,
    max: u32,
    attempts: u32,
}

impl<S> MaxRetries<S> {
    /// Wraps `inner`, allowing `max` reconnections in a row.
    pub fn new(inner: S, max: u32) -> Self {
        MaxRetries {
            inner,
            max,
            attempts: 0,
        }
    }
}

impl<S: ReconnectStrategy> ReconnectStrategy for MaxRetries<S> {
    fn next_delay(&mut self) -> Option<Duration> {
        if self.attempts >= self.max {
            return None;
        }
        self.attempts += 1;
        self.inner.next_delay()
    }
    fn reset(&mut self) {
        self.attempts = 0;
        self.inner.reset();
    }
    fn set_base_delay(&mut self, base: Duration) {
        self.inner.set_base_delay(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_starts_at_base_and_grows_after_reset() {
        let mut s = ExponentialBackoff::default().randomization_factor(0.0);
        s.set_base_delay(Duration::from_millis(100));
        assert_eq!(s.next_delay(), Some(Duration::from_millis(100)));
        assert_eq!(s.next_delay(), Some(Duration::from_millis(150)));
        s.reset();
        assert_eq!(s.next_delay(), Some(Duration::from_millis(100)));
    }

    #[test]
    fn a_new_base_delay_does_not_undo_the_growth() {
        let mut s = ExponentialBackoff::default().randomization_factor(0.0);
        s.set_base_delay(Duration::from_millis(100));
        assert_eq!(s.next_delay(), Some(Duration::from_millis(100)));
        s.set_base_delay(Duration::from_millis(100));
        assert_eq!(s.next_delay(), Some(Duration::from_millis(150)));
        // A longer base raises the current delay; a shorter one waits for
        // the next reset.
        s.set_base_delay(Duration::from_millis(1000));
        assert_eq!(s.next_delay(), Some(Duration::from_millis(1000)));
        s.set_base_delay(Duration::from_millis(10));
        assert_eq!(s.next_delay(), Some(Duration::from_millis(1500)));
        s.reset();
        assert_eq!(s.next_delay(), Some(Duration::from_millis(10)));
    }

    #[test]
    fn max_retries_counts_from_reset() {
        let mut s = MaxRetries::new(ConstantBackoff::default(), 2);
        assert!(s.next_delay().is_some());
        assert!(s.next_delay().is_some());
        assert_eq!(s.next_delay(), None);
        s.reset();
        assert!(s.next_delay().is_some());
    }
}
