//! The store data of one request's instance: what every import needs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::sink::ResponseSink;
use crate::backend::{Backend, CallContext};

/// The store data of one request's instance.
pub(crate) struct PluginState {
    pub wasi: WasiCtx,
    /// What the plugin prints to stdout and stderr, for the log and for panic messages.
    pub output: MemoryOutputPipe,
    pub table: ResourceTable,
    pub limits: StoreLimits,
    pub backend: Arc<dyn Backend>,
    pub ctx: CallContext,
    pub plugin: Arc<str>,
    pub open_streams: usize,
    pub max_open_streams: usize,
    pub log_lines: usize,
    pub max_log_lines: usize,
    pub app_calls: u32,
    pub events: u64,
    pub sink: ResponseSink,
    /// When the request started, and how long it has spent blocked in host calls (waiting
    /// for Dify, or for a slow client): the deadline counts only the rest.
    pub started: Instant,
    pub blocked: Duration,
}

impl PluginState {
    /// Run a host call that may wait, counting the wait as blocked time.
    pub(crate) fn blocking_call<R>(&mut self, call: impl FnOnce(&mut Self) -> R) -> R {
        let start = Instant::now();
        let result = call(self);
        self.blocked += start.elapsed();
        result
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
