//! Host bindings generated from `wit/` by wasmtime's `bindgen!`.
//!
//! Every import is `trappable`: an expected failure (an unknown app, a closed writer) is a
//! WIT `error` value (`Ok(Err(..))`), while a host bug or a broken invariant (a resource the
//! table does not hold) becomes a trap that fails only the current request.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: trappable },
    with: {
        "dify:plugin/apps.chunk-stream": crate::imports::HostChunkStream,
        "dify:plugin/http.response-writer": crate::imports::HostResponseWriter,
    },
});

pub use dify::plugin::{apps, http, logging, types};
pub use exports::dify::plugin::endpoint;
