//! The two clocks of one request, and the waits they give back.
//!
//! - **The plugin's time** ([`Limits::deadline`](crate::Limits)): wall time since the request
//!   started, minus the time spent waiting on Dify and on a slow HTTP client. Everything else
//!   counts: the plugin's own code, its sleeps and polls, and host work done for it (the mock
//!   answering an app call). A plugin cannot stretch it by sleeping or by calling in a loop.
//! - **Wall time** ([`Limits::wall_time`](crate::Limits)): all of it, waits included, so that
//!   not even a plugin waiting on a slow Dify holds its thread and instance for ever.
//!
//! Each wait is bounded on its own too (Dify's idle timeout, the client write timeout), and by
//! what is left of the wall time. When either clock runs out the instance is stopped: guest
//! code by epoch interruption (`runtime/instance.rs`), a sleep or poll because it was never
//! allowed to last longer (`guest/clocks.rs`), and a wait because [`waiting`] gave it no more.
//!
//! Waits are reported through a thread-local: a request runs on one thread, and the places
//! that wait (the real backends' HTTP reads, a full response channel) know nothing of the
//! request. A backend of one's own can report its waits with [`waiting`] too; a wait not
//! reported counts as the plugin's time, which is the safe side.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the engine's epoch advances (`runtime/epoch.rs`): the granularity of deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Epoch ticks in `time`, at least one, rounded down: a deadline set in ticks is reached no
/// later than `time`.
pub(crate) fn ticks(time: Duration) -> u64 {
    (time.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// One request's clocks.
#[derive(Debug)]
pub(crate) struct Budget {
    started: Instant,
    deadline: Duration,
    wall: Duration,
    /// Nanoseconds spent in reported waits.
    waited: AtomicU64,
}

/// Which clock ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spent {
    /// The plugin's time (`Limits::deadline`).
    Deadline(Duration),
    /// Wall time (`Limits::wall_time`).
    Wall(Duration),
}

/// The error a host call fails with when the request's time is up: the request then ends as
/// the epoch interruption would have ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request's time is up ({0:?})")]
pub(crate) struct OutOfTime(pub(crate) Spent);

impl Budget {
    /// `Err` once a clock has run out, for host calls to fail with.
    pub(crate) fn check(&self) -> Result<(), OutOfTime> {
        self.left().map(drop).map_err(OutOfTime)
    }

    pub(crate) fn new(deadline: Duration, wall: Duration) -> Arc<Self> {
        Arc::new(Budget {
            started: Instant::now(),
            deadline,
            wall,
            waited: AtomicU64::new(0),
        })
    }

    /// When the request started.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited.load(Ordering::Relaxed))
    }

    /// The time the plugin may still run (sleep, poll, compute), or which clock ran out.
    pub(crate) fn left(&self) -> Result<Duration, Spent> {
        self.left_at(Instant::now())
    }

    fn left_at(&self, now: Instant) -> Result<Duration, Spent> {
        let elapsed = now.saturating_duration_since(self.started);
        let own = elapsed.saturating_sub(self.waited());
        let own_left = self.deadline.checked_sub(own).filter(|d| !d.is_zero());
        let wall_left = self.wall.checked_sub(elapsed).filter(|d| !d.is_zero());
        match (own_left, wall_left) {
            (_, None) => Err(Spent::Wall(self.wall)),
            (None, _) => Err(Spent::Deadline(self.deadline)),
            (Some(own), Some(wall)) => Ok(own.min(wall)),
        }
    }

    /// How long a wait may last now: what is left of the wall time.
    fn wait_left(&self) -> Duration {
        self.wall.saturating_sub(self.started.elapsed())
    }
}

thread_local! {
    /// The budget of the request running on this thread, if any, and whether a wait is being
    /// counted already (nested waits count once).
    static CURRENT: RefCell<(Option<Arc<Budget>>, bool)> = const { RefCell::new((None, false)) };
}

/// Makes `budget` the current thread's until dropped.
pub(crate) struct Entered(Option<Arc<Budget>>);

impl Budget {
    pub(crate) fn enter(self: &Arc<Self>) -> Entered {
        Entered(CURRENT.with(|c| c.borrow_mut().0.replace(self.clone())))
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| c.borrow_mut().0 = previous);
    }
}

/// Run `wait`, a wait on Dify or on a reading client, counting its time as not the plugin's.
///
/// `wait` gets the longest it may wait, what is left of the request's wall time (`None`
/// outside a request, or inside another `waiting`): a wait must not outlast it.
pub fn waiting<T>(wait: impl FnOnce(Option<Duration>) -> T) -> T {
    let budget = CURRENT.with(|c| {
        let mut current = c.borrow_mut();
        if current.1 {
            return None;
        }
        let budget = current.0.clone()?;
        current.1 = true;
        Some(budget)
    });
    let Some(budget) = budget else {
        return wait(None);
    };
    let start = Instant::now();
    let result = wait(Some(budget.wait_left()));
    budget.record_wait(start.elapsed());
    CURRENT.with(|c| c.borrow_mut().1 = false);
    result
}

impl Budget {
    fn record_wait(&self, wait: Duration) {
        let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.waited.fetch_add(nanos, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn waits_are_given_back_to_the_plugin_but_not_to_the_wall_clock() {
        let budget = Budget::new(50 * MS, 200 * MS);
        let at = |ms: u32| budget.started() + ms * MS;
        assert_eq!(budget.left_at(at(20)), Ok(30 * MS));
        budget.record_wait(80 * MS);
        // 100 ms in, 80 of them waiting: 20 ms of the plugin's time used.
        assert_eq!(budget.left_at(at(100)), Ok(30 * MS));
        assert_eq!(budget.left_at(at(131)), Err(Spent::Deadline(50 * MS)));
        budget.record_wait(100 * MS);
        // Waits never stretch wall time.
        assert_eq!(budget.left_at(at(190)), Ok(10 * MS));
        assert_eq!(budget.left_at(at(200)), Err(Spent::Wall(200 * MS)));
    }

    #[test]
    fn a_wait_gets_the_wall_time_left_and_nested_waits_count_once() {
        let budget = Budget::new(50 * MS, Duration::from_secs(10));
        let entered = budget.enter();
        let (outer, inner) = waiting(|outer| (outer, waiting(|inner| inner)));
        assert!(outer.is_some_and(|l| l > Duration::from_secs(9) && l <= Duration::from_secs(10)));
        assert_eq!(inner, None, "a nested wait is counted by the outer one");
        drop(entered);
        assert_eq!(
            waiting(|limit| limit),
            None,
            "no request on this thread any more"
        );
    }
}
