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
    /// How long the plugin's own code may run for one request (time blocked in host calls,
    /// such as waiting for Dify or for a slow HTTP client, does not count).
    pub deadline: Duration,
    /// App streams one request may hold open at once.
    pub open_streams: usize,
    /// Largest response body, in bytes.
    pub response_bytes: usize,
    /// Response chunks buffered between the plugin and a slow reader.
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
            open_streams: 16,
            response_bytes: 64 << 20,
            response_buffer: 64,
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
    /// The plugin's declared endpoints could not be read or are not valid.
    #[error("plugin {plugin} has no usable endpoints: {reason}")]
    Routes {
        /// The plugin.
        plugin: String,
        /// What is wrong.
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
