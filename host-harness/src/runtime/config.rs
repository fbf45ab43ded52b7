//! What a plugin runs with, and why loading it can fail.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::backend::Backend;

/// Per-request limits of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// The plugin's time for one request: wall time less the time spent waiting on Dify and
    /// on a slow HTTP client. Its own code, its sleeps and polls, and host work done for it
    /// all count (`crate::budget`). Past it: 504, or a cut body after the head.
    pub deadline: Duration,
    /// All the time one request may take, waits included.
    pub wall_time: Duration,
    /// How long one write may wait for an HTTP client that does not read.
    pub write_timeout: Duration,
    /// Requests of this plugin that may run at once (each holds an instance and a thread).
    pub in_flight: usize,
    /// Requests that may wait for a free slot, beyond which a request is refused (503).
    pub queue_length: usize,
    /// How long a request may wait in that queue.
    pub queue_wait: Duration,
    /// App streams one request may hold open at once.
    pub open_streams: usize,
    /// Largest response body, in bytes.
    pub response_bytes: usize,
    /// Response pieces (each at most 64 KiB) buffered between the plugin and a slow reader:
    /// at most this many times 64 KiB of one response waits in the host.
    pub response_buffer: usize,
    /// Log lines one request may write.
    pub log_lines: usize,
    /// Largest request body the server accepts (Dify's daemon caps it at 10 MiB too).
    pub request_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            deadline: Duration::from_secs(30),
            // The daemon's own cap on a plugin call (PLUGIN_MAX_EXECUTION_TIMEOUT).
            wall_time: Duration::from_secs(600),
            write_timeout: Duration::from_secs(30),
            in_flight: 256,
            queue_length: 64,
            queue_wait: Duration::from_secs(1),
            open_streams: 16,
            response_bytes: 64 << 20,
            response_buffer: 16,
            log_lines: 1000,
            request_bytes: 10 << 20,
        }
    }
}

/// Where a plugin runs: the Dify it calls, its workspace and user, its endpoint settings and
/// its limits.
#[derive(Clone)]
pub struct PluginConfig {
    /// The Dify the plugin's app calls go to.
    pub backend: Arc<dyn Backend>,
    /// The workspace (Dify tenant) the plugin is bound to. It can reach no other.
    pub tenant_id: String,
    /// The Dify user its calls run as; empty for endpoints, as in Dify.
    pub user_id: String,
    /// Settings used when a request does not carry its own.
    pub settings: Value,
    /// Per-request limits.
    pub limits: Limits,
}

impl PluginConfig {
    /// A plugin calling `backend`, bound to this workspace, with default limits and no
    /// settings.
    pub fn new(backend: impl Backend, tenant_id: &str) -> Self {
        PluginConfig {
            backend: Arc::new(backend),
            tenant_id: tenant_id.to_owned(),
            user_id: String::new(),
            settings: Value::Object(Default::default()),
            limits: Limits::default(),
        }
    }
}

impl std::fmt::Debug for PluginConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginConfig")
            .field("tenant_id", &self.tenant_id)
            .field("user_id", &self.user_id)
            .field("settings", &self.settings)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid component.
    #[error("plugin {plugin} is not a valid wasm32-wasip2 component: {reason}")]
    Compile {
        /// The plugin.
        plugin: String,
        /// wasmtime's explanation.
        reason: String,
    },
    /// The component needs something this host does not provide, or does not export the
    /// endpoint handler.
    #[error("plugin {plugin} does not fit this host (dify:plugin@0.1.x): {reason}")]
    Link {
        /// The plugin.
        plugin: String,
        /// wasmtime's explanation.
        reason: String,
    },
    /// The plugin's declared endpoints or tools could not be read or are not valid.
    #[error("plugin {plugin} has no usable endpoints or tools: {reason}")]
    Routes {
        /// The plugin.
        plugin: String,
        /// What is wrong.
        reason: String,
    },
    /// The component is a `.wasm` and this host was built without the compiler.
    #[error(
        "plugin {plugin} is a .wasm component, and this host was built without the compiler \
         (the `compiler` feature): load one precompiled for this machine \
         (`dify-plugin-host package` makes them)"
    )]
    NoCompiler {
        /// The plugin.
        plugin: String,
    },
    /// A precompiled component that this host cannot run: made by another wasmtime, for
    /// another machine, or with other engine settings.
    #[error(
        "plugin {plugin}'s precompiled component does not fit this host: {reason}; \
         precompile it again with this host's version (`dify-plugin-host package`)"
    )]
    Precompiled {
        /// The plugin.
        plugin: String,
        /// wasmtime's explanation.
        reason: String,
    },
    /// The engine could not be set up.
    #[error("cannot start the wasm engine: {0}")]
    Engine(String),
    /// The cache directory could not be created.
    #[error("cannot create the compiled-plugin cache directory {path}: {source}")]
    CacheDir {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}
