//! Admission: how many requests may run at once, per plugin and for the whole host.
//!
//! Every running request holds a pooled instance and a thread. The pool has a fixed size, so
//! without a bound a flood of slow requests (sleeping plugins, clients that never read) would
//! exhaust it and every later request of every plugin would fail. Instead a request first
//! takes a slot of its plugin and one of the host, both below the pool's size. When none is
//! free it waits in a short queue, bounded in length and in time; past that it is refused
//! with `Busy` (503 with `Retry-After` over HTTP), and other plugins keep their own slots.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::endpoint::PluginFailure;

/// How many callers may wait for a slot, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Queue {
    pub length: usize,
    pub wait: Duration,
}

/// A counted set of slots.
pub(crate) struct Slots {
    /// What the slots are of, for the refusal text (`plugin duck`, `the host`).
    what: String,
    limit: usize,
    state: Mutex<State>,
    /// Wakes threads waiting for a slot, or for none to be taken.
    changed: Condvar,
    /// Wakes async tasks waiting for a slot.
    freed: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    taken: usize,
    waiting: usize,
}

impl Slots {
    pub(crate) fn new(what: impl Into<String>, limit: usize) -> Arc<Self> {
        Arc::new(Slots {
            what: what.into(),
            limit: limit.max(1),
            state: Mutex::default(),
            changed: Condvar::new(),
            freed: tokio::sync::Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many are taken now.
    pub(crate) fn taken(&self) -> usize {
        self.lock().taken
    }

    #[cfg(feature = "server")]
    fn try_take(&self) -> bool {
        let mut state = self.lock();
        if state.taken < self.limit {
            state.taken += 1;
            true
        } else {
            false
        }
    }

    fn busy(&self) -> PluginFailure {
        PluginFailure::Busy(format!(
            "{} is running {} requests, as many as it takes, and the queue is full; try again shortly",
            self.what, self.limit
        ))
    }

    /// Take a slot, waiting in the queue on this thread if need be.
    fn take_blocking(self: &Arc<Self>, queue: Queue) -> Result<Slot, PluginFailure> {
        let mut state = self.lock();
        if state.taken >= self.limit {
            if state.waiting >= queue.length {
                return Err(self.busy());
            }
            state.waiting += 1;
            let (mut guard, _) = self
                .changed
                .wait_timeout_while(state, queue.wait, |s| s.taken >= self.limit)
                .unwrap_or_else(|p| p.into_inner());
            guard.waiting -= 1;
            if guard.taken >= self.limit {
                return Err(self.busy());
            }
            state = guard;
        }
        state.taken += 1;
        Ok(Slot(self.clone()))
    }

    #[cfg(feature = "server")]
    /// Take a slot, waiting in the queue without blocking the async runtime.
    async fn take(self: &Arc<Self>, queue: Queue) -> Result<Slot, PluginFailure> {
        if self.try_take() {
            return Ok(Slot(self.clone()));
        }
        {
            let mut state = self.lock();
            if state.waiting >= queue.length {
                return Err(self.busy());
            }
            state.waiting += 1;
        }
        let until = tokio::time::Instant::now() + queue.wait;
        let taken = loop {
            let freed = self.freed.notified();
            if self.try_take() {
                break true;
            }
            if tokio::time::timeout_at(until, freed).await.is_err() {
                break self.try_take();
            }
        };
        self.lock().waiting -= 1;
        if taken {
            Ok(Slot(self.clone()))
        } else {
            Err(self.busy())
        }
    }

    fn release(&self) {
        let mut state = self.lock();
        state.taken -= 1;
        drop(state);
        self.changed.notify_all();
        self.freed.notify_one();
    }

    /// Wait until no slot is taken, at most `timeout`. Returns whether it got there.
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.taken > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

/// One taken slot, given back when dropped.
pub(crate) struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A request's slots: its plugin's and the host's.
pub(crate) struct Admitted {
    _plugin: Slot,
    _host: Slot,
}

/// Take a slot of `plugin` and one of `host`, waiting on this thread.
pub(crate) fn admit_blocking(
    plugin: &Arc<Slots>,
    host: &Arc<Slots>,
    queue: Queue,
) -> Result<Admitted, PluginFailure> {
    let plugin = plugin.take_blocking(queue)?;
    let host = host.take_blocking(queue)?;
    Ok(Admitted {
        _plugin: plugin,
        _host: host,
    })
}

#[cfg(feature = "server")]
/// Take a slot of `plugin` and one of `host`, waiting without blocking the async runtime.
pub(crate) async fn admit(
    plugin: &Arc<Slots>,
    host: &Arc<Slots>,
    queue: Queue,
) -> Result<Admitted, PluginFailure> {
    let plugin = plugin.take(queue).await?;
    let host = host.take(queue).await?;
    Ok(Admitted {
        _plugin: plugin,
        _host: host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_QUEUE: Queue = Queue {
        length: 0,
        wait: Duration::ZERO,
    };

    #[test]
    fn a_full_plugin_is_busy_while_another_plugin_is_served() {
        let host = Slots::new("the host", 3);
        let duck = Slots::new("plugin duck", 2);
        let other = Slots::new("plugin other", 2);
        let a = admit_blocking(&duck, &host, NO_QUEUE).unwrap();
        let _b = admit_blocking(&duck, &host, NO_QUEUE).unwrap();
        let refused = admit_blocking(&duck, &host, NO_QUEUE).err().unwrap();
        assert_eq!(refused.status(), 503);
        assert!(
            refused
                .to_string()
                .contains("plugin duck is running 2 requests")
        );
        let _c = admit_blocking(&other, &host, NO_QUEUE).unwrap();
        // The host is full now: the other plugin's next request is refused by the host, and
        // gives its own slot back.
        let refused = admit_blocking(&other, &host, NO_QUEUE).err().unwrap();
        assert!(refused.to_string().contains("the host is running 3"));
        assert_eq!(other.taken(), 1);
        drop(a);
        assert_eq!((duck.taken(), host.taken()), (1, 2));
        assert!(admit_blocking(&duck, &host, NO_QUEUE).is_ok());
    }

    #[test]
    fn a_queued_request_gets_the_slot_given_back() {
        let host = Slots::new("the host", 10);
        let duck = Slots::new("plugin duck", 1);
        let first = admit_blocking(&duck, &host, NO_QUEUE).unwrap();
        let queue = Queue {
            length: 1,
            wait: Duration::from_secs(30),
        };
        let waiter = {
            let (duck, host) = (duck.clone(), host.clone());
            std::thread::spawn(move || admit_blocking(&duck, &host, queue).is_ok())
        };
        while duck.lock().waiting == 0 {
            std::thread::yield_now();
        }
        // The queue (of one) is full: a third caller is refused at once.
        assert!(admit_blocking(&duck, &host, queue).is_err());
        drop(first);
        assert!(waiter.join().unwrap());
    }
}
