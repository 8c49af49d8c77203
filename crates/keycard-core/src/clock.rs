//! Time, as seconds since the Unix epoch, behind a trait so tests can freeze it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that stands still until told to move; for tests and for checking old tokens.
///
/// ```
/// use keycard_core::{Clock, FrozenClock};
/// let clock = FrozenClock::new(1_796_300_000);
/// clock.advance(30);
/// assert_eq!(clock.now(), 1_796_300_030);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FrozenClock(Arc<AtomicU64>);

impl FrozenClock {
    /// A clock frozen at `now` (seconds since the epoch).
    pub fn new(now: u64) -> Self {
        Self(Arc::new(AtomicU64::new(now)))
    }
    /// Sets the time.
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
    /// Moves the time forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FrozenClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
