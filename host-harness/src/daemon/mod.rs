//! The Dify plugin daemon's protocol: how a plugin lives inside a real Dify.
//!
//! Dify reaches a plugin only through its plugin daemon: during development by remote
//! debugging (the plugin connects to the daemon's debug port, [`remote`]), once installed
//! through the daemon's local runtime (the daemon starts the plugin and talks to it over
//! stdin/stdout, [`stdio`]). Both carry the same messages (`connection.rs`): endpoint requests
//! in, responses out, and the plugin's app calls as backwards invocations answered by the
//! daemon (`backend/daemon.rs`). Every request runs as any other: routed, admitted, in a fresh
//! instance with the plugin's limits.
//!
//! - [`declaration`]: the plugin's Dify files (`manifest.yaml`, the endpoint group, the tool
//!   provider and its tools, `_assets/`) read and checked with the daemon's own rules before
//!   anything connects;
//! - `protocol.rs`: the messages; `lines.rs`: the daemon's lines, read without blocking;
//!   `raw_http.rs`: the HTTP request inside an endpoint request.

mod connection;
pub mod declaration;
mod lines;
mod protocol;
mod raw_http;
pub mod remote;
pub mod stdio;

pub use connection::HEARTBEAT_INTERVAL;

use crate::mock::MockDify;
use crate::runtime::{Limits, PluginConfig};

/// What a plugin served through the daemon runs with. Its app calls go to the daemon, each
/// session bound to the workspace the daemon names, so the configuration's own backend and
/// workspace are never used.
pub fn plugin_config(limits: Limits) -> PluginConfig {
    let mut config = PluginConfig::new(MockDify::new(), "");
    config.limits = limits;
    config
}
