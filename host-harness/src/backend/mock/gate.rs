//! Gates: hold a mock stream after its n-th event until a test lets it go.
//!
//! They make streaming and cancellation tests deterministic without sleeping: a test can
//! read what the plugin sent while the app is provably still running, or disconnect at a
//! known point, then open the gate.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Default)]
struct State {
    open: bool,
    waiting: usize,
}

#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Block until the gate opens. The wait stands for a slow Dify: it is not the plugin's
    /// time (`crate::budget`).
    pub(crate) fn pass(&self) {
        crate::budget::waiting(|_| {
            let mut state = self.lock();
            state.waiting += 1;
            self.changed.notify_all();
            while !state.open {
                state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            state.waiting -= 1;
        });
    }
}

/// The test's handle on a gate. Dropping it opens the gate, so a failing test never leaves a
/// plugin thread blocked behind it.
pub struct Gate {
    pub(crate) shared: Arc<Shared>,
}

impl Gate {
    /// Let every held stream, and every later one, go on.
    pub fn open(&self) {
        self.shared.lock().open = true;
        self.shared.changed.notify_all();
    }

    /// Wait until `n` streams are held at the gate, at most `timeout`. Returns whether they
    /// are.
    pub fn wait_for_held(&self, n: usize, timeout: Duration) -> bool {
        let state = self.shared.lock();
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, timeout, |s| s.waiting < n)
            .unwrap_or_else(|p| p.into_inner());
        state.waiting >= n
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
    }
}
