//! Loading plugin components and running their requests, each in a fresh instance.
//!
//! One [`Runtime`] holds the wasmtime `Engine` (epoch interruption, the pooling allocator),
//! the `Linker` with the WASI p2 imports and the host's own (`crate::guest`), and the
//! components compiled so far, in memory and optionally on disk. [`Runtime::load`] compiles a
//! component once and pre-links it (`InstancePre`), giving a [`Plugin`].
//!
//! - `config.rs`: what a plugin runs with ([`PluginConfig`], [`Limits`]) and why loading fails
//!   ([`HostError`]);
//! - `plugin.rs`: the loaded [`Plugin`]: routing, the request API, requests in flight;
//! - `instance.rs`: one request's `Store` and instance: the sandbox (no environment, files or
//!   sockets), the limits and the deadline, and what a trap means;
//! - `pool.rs`: the pool instances are made from, and how a used slot is reset for the next
//!   request;
//! - `workers.rs`: the threads requests run on, kept for reuse;
//! - `epoch.rs`: the clock that deadlines are counted in.

mod admission;
mod compile;
mod config;
mod epoch;
mod instance;
mod plugin;
mod pool;
mod workers;

#[cfg(feature = "compiler")]
use std::collections::HashMap;
use std::path::Path;
#[cfg(feature = "compiler")]
use std::path::PathBuf;
use std::sync::Arc;
#[cfg(feature = "compiler")]
use std::sync::Mutex;

use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

#[cfg(feature = "compiler")]
pub use compile::precompile;
pub use config::{HostError, Limits, PluginConfig};
pub(crate) use instance::Job;
pub use plugin::Plugin;
pub(crate) use workers::spin_briefly;

use crate::guest::{self, PluginState};
use admission::Slots;
use epoch::Ticker;
use instance::{Code, Exports};
use workers::Workers;

/// Requests that may run at once across the runtime: below the pool's size, so that loading a
/// plugin (which needs an instance for `routes()`) and a flood of requests never exhaust it.
const MAX_REQUESTS: usize = 900;
/// The wasm engine, the host's imports, and the components compiled so far.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PluginState>,
    /// Compiled components by their bytes: loading the same plugin again costs no compile.
    #[cfg(feature = "compiler")]
    compiled: Mutex<HashMap<Vec<u8>, Component>>,
    /// Where compiled components are kept across processes, if anywhere.
    #[cfg(feature = "compiler")]
    cache_dir: Option<PathBuf>,
    workers: Arc<Workers>,
    /// The runtime's request slots, shared by its plugins.
    slots: Arc<Slots>,
    ticker: Arc<Ticker>,
}

impl Runtime {
    /// A runtime with the host's imports linked.
    pub fn new() -> Result<Self, HostError> {
        let engine_error = |e: wasmtime::Error| HostError::Engine(format!("{e:?}"));
        let mut config = engine_config();
        // Instances come from a pool of pre-reserved slots: a request's instance is set up
        // and torn down without mapping and unmapping memory, and the pool's size caps how
        // many instances can be live at once (`pool.rs`).
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool::config()));
        let engine = Engine::new(&config).map_err(engine_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_error)?;
        guest::add_clocks_to_linker(&mut linker).map_err(engine_error)?;
        guest::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(engine_error)?;
        let ticker = Ticker::start(engine.clone())?;
        Ok(Runtime {
            engine,
            linker,
            #[cfg(feature = "compiler")]
            compiled: Mutex::new(HashMap::new()),
            #[cfg(feature = "compiler")]
            cache_dir: None,
            workers: Arc::default(),
            slots: Slots::new("the host", MAX_REQUESTS),
            ticker,
        })
    }

    /// Load a plugin component from a `.wasm` file.
    pub fn load(&self, path: impl AsRef<Path>, config: PluginConfig) -> Result<Plugin, HostError> {
        let path = path.as_ref();
        let wasm = std::fs::read(path).map_err(|source| HostError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.load_bytes(&plugin_name(path), &wasm, config)
    }

    /// Load a plugin component from its bytes.
    pub fn load_bytes(
        &self,
        name: &str,
        wasm: &[u8],
        config: PluginConfig,
    ) -> Result<Plugin, HostError> {
        let component = self.compile(name, wasm)?;
        self.link(name, &component, config)
    }

    /// Load a component precompiled for this machine (by [`precompile`], or wasmtime's
    /// `Component::serialize`), without compiling: what the runtime of a package does.
    /// wasmtime refuses one made by another wasmtime, for another machine or with other
    /// engine settings, with [`HostError::Precompiled`].
    ///
    /// # Safety
    ///
    /// The file is machine code that runs as is: it must be as trusted as the host binary
    /// itself (say, shipped beside it in the same package). A `.wasm` from anywhere is safe to
    /// [`load`](Runtime::load); this is not.
    pub unsafe fn load_precompiled(
        &self,
        path: impl AsRef<Path>,
        config: PluginConfig,
    ) -> Result<Plugin, HostError> {
        let path = path.as_ref();
        let name = plugin_name(path);
        std::fs::metadata(path).map_err(|source| HostError::Read {
            path: path.display().to_string(),
            source,
        })?;
        // SAFETY: the caller vouches for the file (this function's contract). It is mapped,
        // not copied: its pages are the page cache's, shared and never dirty.
        let component =
            unsafe { Component::deserialize_file(&self.engine, path) }.map_err(|e| {
                HostError::Precompiled {
                    plugin: name.clone(),
                    reason: format!("{e:#}"),
                }
            })?;
        self.link(&name, &component, config)
    }

    /// Pre-link a component with the host's imports and read its routes and tools.
    fn link(
        &self,
        name: &str,
        component: &Component,
        config: PluginConfig,
    ) -> Result<Plugin, HostError> {
        let link_error = |e: wasmtime::Error| HostError::Link {
            plugin: name.to_owned(),
            reason: format!("{e:?}"),
        };
        let pre = self.linker.instantiate_pre(component).map_err(link_error)?;
        let exports = Exports {
            endpoint: guest::endpoint::GuestIndices::new(&pre).ok(),
            tool: guest::tool::GuestIndices::new(&pre).ok(),
        };
        if exports.endpoint.is_none() && exports.tool.is_none() {
            return Err(link_error(wasmtime::format_err!(
                "the component exports neither dify:plugin/endpoint nor dify:plugin/tool: \
                 build it with the dify-plugin crate's export macros"
            )));
        }
        let code = Code {
            name: name.into(),
            engine: self.engine.clone(),
            pre,
            exports,
            config,
        };
        let declared = code.read_exports().map_err(|reason| HostError::Routes {
            plugin: name.to_owned(),
            reason,
        })?;
        Ok(Plugin::new(
            code,
            declared,
            self.slots.clone(),
            self.workers.clone(),
            self.ticker.clone(),
        ))
    }
}

/// A plugin's name: its file's, without the extension.
fn plugin_name(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into_owned())
}

/// The engine's settings, but for the instance allocator: shared by the runtime and by
/// [`precompile`], since a precompiled component loads only into an engine with the settings
/// it was compiled with.
fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    // Deadlines: a plugin that loops forever is interrupted at its next epoch check.
    config.epoch_interruption(true);
    config
}

#[cfg(all(test, feature = "compiler"))]
mod tests {
    use super::*;

    #[test]
    fn a_cache_directory_that_cannot_be_created_is_named_as_such() {
        let file = std::env::temp_dir().join(format!("dify-cache-file-{}", std::process::id()));
        std::fs::write(&file, b"not a directory").unwrap();
        let err = Runtime::with_cache_dir(file.join("cache"))
            .err()
            .expect("an error");
        std::fs::remove_file(&file).unwrap();
        let text = err.to_string();
        assert!(
            text.starts_with("cannot create the compiled-plugin cache directory ")
                && text.contains("dify-cache-file-"),
            "{text}"
        );
    }
}
