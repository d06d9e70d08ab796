//! The wall clock the app's components see: this machine's, moved by an offset that a test
//! sets (`RunningApp::clock`), so that a test can cross UTC midnight without waiting a day.
//! It exists only in the test host: nothing the app reads (no variable, no header) moves time.
//! Monotonic clocks (timeouts, durations) are left alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmtime_wasi::HostWallClock;

/// A shared offset from real time, in milliseconds; every instance of the app reads it.
#[derive(Clone, Default, Debug)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

fn real_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

impl Clock {
    /// The app's time is `at` now, and runs on from there.
    pub fn set(&self, at: SystemTime) {
        let at = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let at = i64::try_from(at.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.store(at - real_ms(), Ordering::SeqCst);
    }

    /// What the app's clock says.
    pub fn now(&self) -> SystemTime {
        let ms = real_ms().saturating_add(self.offset_ms.load(Ordering::SeqCst));
        UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }

    /// The clock for one instance's WASI context.
    pub fn wall_clock(&self) -> impl HostWallClock + 'static {
        Shifted(self.clone())
    }
}

struct Shifted(Clock);

impl HostWallClock for Shifted {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        self.0.now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_runs_on_from_where_it_was_set() {
        let clock = Clock::default();
        let midnight = UNIX_EPOCH + Duration::from_secs(1_796_515_200 - 10);
        clock.set(midnight);
        let shown = clock
            .now()
            .duration_since(midnight)
            .unwrap_or(Duration::MAX);
        assert!(shown < Duration::from_secs(1), "{shown:?}");
        let copy = clock.clone();
        copy.set(UNIX_EPOCH + Duration::from_secs(1_000_000_000));
        let secs = clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        assert!((1_000_000_000..1_000_000_002).contains(&secs));
    }
}
