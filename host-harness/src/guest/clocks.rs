//! `wasi:clocks/monotonic-clock`'s sleeps, bounded by the request's budget.
//!
//! A WASI sleep is a poll on a pollable from `subscribe-duration` or `subscribe-instant`; it
//! blocks the thread in the host, where epoch interruption cannot reach it. So the host
//! defines those two functions itself (shadowing wasmtime-wasi's), making each pollable ready
//! at the requested time or when the request's budget runs out, whichever comes first. A
//! plugin that sleeps past its deadline wakes at the deadline, and the next epoch check stops
//! it. Sleeping is the plugin's own time (`crate::budget`).
//!
//! The monotonic clock is one of the request's own, started with it, so that an instant the
//! plugin computes and the instant the host caps agree.

use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::HostMonotonicClock;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use super::state::PluginState;
use crate::budget::{OutOfTime, ticks};

/// The interface and version wasmtime-wasi 48 defines; guests importing any earlier 0.2.x
/// are linked to it.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// A request's monotonic clock: nanoseconds since the request started.
pub(crate) struct RequestClock(pub(crate) Instant);

impl HostMonotonicClock for RequestClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A sleep that ends at `until`.
struct Sleep {
    until: tokio::time::Instant,
}

#[wasmtime_wasi::async_trait]
impl Pollable for Sleep {
    async fn ready(&mut self) {
        tokio::time::sleep_until(self.until).await;
    }
}

/// Define the bounded `subscribe-duration` and `subscribe-instant` over wasmtime-wasi's.
pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap("subscribe-duration", |mut store, (nanos,): (u64,)| {
        Ok((sleep(&mut store, Duration::from_nanos(nanos))?,))
    })?;
    clock.func_wrap("subscribe-instant", |mut store, (when,): (u64,)| {
        let now = RequestClock(store.data().budget.started()).now();
        let nanos = when.saturating_sub(now);
        Ok((sleep(&mut store, Duration::from_nanos(nanos))?,))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A pollable ready after `wanted`, or when the request's budget runs out if that is sooner.
/// A sleep cut short also moves the epoch deadline to its end, so the plugin is stopped at its
/// next instruction after waking.
fn sleep(
    store: &mut StoreContextMut<'_, PluginState>,
    wanted: Duration,
) -> wasmtime::Result<Resource<DynPollable>> {
    let allowed = store.data().budget.left().map_err(OutOfTime)?;
    if wanted >= allowed {
        store.set_epoch_deadline(ticks(allowed));
    }
    let now = tokio::time::Instant::now();
    let until = now.checked_add(wanted.min(allowed)).unwrap_or(now);
    let state = store.data_mut();
    let sleep = state.table.push(Sleep { until })?;
    subscribe(&mut state.table, sleep)
}
