//! The bindings wasmtime's `bindgen!` generates from the WIT (`host-harness/wit`, a copy of
//! the repository's `wit/`), with the host's own types for the WIT resources.

wasmtime::component::bindgen!({
    path: "wit",
    world: "plugin",
    imports: { default: trappable },
    with: {
        "dify:plugin/apps.chunk-stream": crate::guest::resources::HostChunkStream,
        "dify:plugin/http.response-writer": crate::guest::resources::HostResponseWriter,
        "dify:plugin/tool-messages.message-writer": crate::guest::resources::HostMessageWriter,
    },
});

pub(crate) use dify::plugin::{apps, http, logging, tool_messages, types};
pub(crate) use exports::dify::plugin::{endpoint, tool};
