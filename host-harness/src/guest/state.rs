//! The store data of one request's instance: what every import needs.

use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::sink::ResponseSink;
use crate::backend::{Backend, CallContext};
use crate::budget::Budget;

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
    /// The request's two clocks (`crate::budget`).
    pub budget: Arc<Budget>,
}

impl PluginState {
    /// Fail the host call, and so the request, once a clock of its budget has run out: a
    /// plugin woken at its deadline is stopped at its next host call if not before.
    pub(crate) fn within_budget(&self) -> wasmtime::Result<()> {
        Ok(self.budget.check()?)
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
