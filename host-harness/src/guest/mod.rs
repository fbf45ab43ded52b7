//! The guest side of the host: the bindings generated from the WIT, the per-request store
//! data, and the host's answer to each import, one module per capability.
//!
//! - `apps.rs`: `invoke-*` / `stream-*` and the `chunk-stream` resource: app calls validated
//!   once (inputs and files JSON objects, the open-stream cap), then handed to the plugin's
//!   [`Backend`]; the same code serves every backend;
//! - `writer.rs`: the `response-writer` resource, handing what the plugin writes to `sink.rs`
//!   (head before body, the size limit), which sends it into the request's response channel;
//! - `messages.rs`: a tool's `message-writer`, turning each message into the daemon's JSON
//!   (a file into pieces) and handing it to `sink.rs` whole;
//! - `logging.rs`: `log`, capped per request;
//! - `clocks.rs`: WASI's sleeps, bounded by the request's budget (`crate::budget`);
//! - `bindings.rs` (generated from the WIT), `resources.rs` (the host's types for the WIT
//!   resources) and `state.rs` (the per-request store data, [`PluginState`]) serve them all.
//!
//! Every import is `trappable`: an expected failure (an unknown app, a closed writer) is a
//! WIT `error` value (`Ok(Err(..))`), while a host bug or a broken invariant (a resource the
//! table does not hold) becomes a trap that fails only the current request.

mod apps;
mod bindings;
mod clocks;
mod logging;
mod messages;
mod resources;
mod sink;
mod state;
mod writer;

pub(crate) use bindings::{Plugin, endpoint, http, tool};
pub(crate) use clocks::{RequestClock, add_to_linker as add_clocks_to_linker};
pub(crate) use resources::{HostMessageWriter, HostResponseWriter};
pub(crate) use sink::ResponseSink;
pub(crate) use state::PluginState;
