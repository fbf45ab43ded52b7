//! The epoch clock that request deadlines are counted in: one thread advances the engine's
//! epoch every tick while any runtime or plugin is alive; a store's deadline is a number of
//! ticks (see `instance.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use wasmtime::Engine;

use super::config::HostError;

/// How often the epoch advances: the granularity of request deadlines.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Epoch ticks in `time`, at least one.
pub(super) fn ticks(time: Duration) -> u64 {
    (time.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// Advances the engine's epoch while any runtime or plugin needs deadlines.
pub(super) struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    pub(super) fn start(engine: Engine) -> Result<Arc<Self>, HostError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        thread::Builder::new()
            .name("dify-plugin-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| HostError::Engine(format!("cannot start the epoch thread: {e}")))?;
        Ok(Arc::new(Ticker { stop }))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
