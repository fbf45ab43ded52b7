//! The guest side of the host: the bindings generated from the WIT, the per-request store
//! data, and the host's answer to each import, one module per capability.
//!
//! - `apps.rs`: `invoke-*` / `stream-*` and the `chunk-stream` resource: app calls validated
//!   once (inputs and files JSON objects, the open-stream cap), then handed to the plugin's
//!   [`Backend`]; the same code serves every backend;
//! - `writer.rs`: the `response-writer` resource and the [`writer::ResponseSink`] behind it
//!   (head before body, the size limit), sending into the request's response channel;
//! - `logging.rs`: `log`, capped per request.
//!
//! Every import is `trappable`: an expected failure (an unknown app, a closed writer) is a
//! WIT `error` value (`Ok(Err(..))`), while a host bug or a broken invariant (a resource the
//! table does not hold) becomes a trap that fails only the current request.

mod apps;
mod logging;
pub(crate) mod writer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::backend::{Backend, CallContext};
use writer::ResponseSink;

wasmtime::component::bindgen!({
    path: "wit",
    world: "plugin",
    imports: { default: trappable },
    with: {
        "dify:plugin/apps.chunk-stream": crate::guest::apps::HostChunkStream,
        "dify:plugin/http.response-writer": crate::guest::writer::HostResponseWriter,
    },
});

pub(crate) use dify::plugin::{apps as wit_apps, http, logging as wit_logging, types};
pub(crate) use exports::dify::plugin::endpoint;
pub(crate) use writer::HostResponseWriter;

impl types::Host for PluginState {}

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
