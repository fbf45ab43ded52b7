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
//! - `workers.rs`: the threads requests run on, kept for reuse;
//! - `epoch.rs`: the clock that deadlines are counted in.

mod admission;
mod config;
mod epoch;
mod instance;
mod plugin;
mod workers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

pub use config::{HostError, Limits, PluginConfig};
pub use plugin::Plugin;

use crate::guest::{self, PluginState};
use admission::Slots;
use epoch::Ticker;
use instance::Code;
use workers::Workers;

/// Instances that can be live at once, across all plugins of a runtime.
const MAX_LIVE_INSTANCES: u32 = 1000;
/// Requests that may run at once across the runtime: below the pool's size, so that loading a
/// plugin (which needs an instance for `routes()`) and a flood of requests never exhaust it.
const MAX_REQUESTS: usize = 900;
/// The most linear memory any instance may have; each plugin's own limit is lower.
const MAX_MEMORY: usize = 1 << 30;
/// The wasm engine, the host's imports, and the components compiled so far.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PluginState>,
    /// Compiled components by their bytes: loading the same plugin again costs no compile.
    compiled: Mutex<HashMap<Vec<u8>, Component>>,
    /// Where compiled components are kept across processes, if anywhere.
    cache_dir: Option<PathBuf>,
    workers: Arc<Workers>,
    /// The runtime's request slots, shared by its plugins.
    slots: Arc<Slots>,
    ticker: Arc<Ticker>,
}

impl Runtime {
    /// A runtime that also keeps compiled components in `dir`, so a later process loads a
    /// plugin it has seen without compiling it (about a millisecond instead of tens).
    ///
    /// The directory must be the host's own: a cached file is machine code that wasmtime
    /// loads as is. Files are named by the SHA-256 of the component and of the engine's
    /// settings, so a changed plugin, wasmtime or configuration never loads a stale one.
    pub fn with_cache_dir(dir: impl Into<PathBuf>) -> Result<Self, HostError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| HostError::CacheDir {
            path: dir.display().to_string(),
            source,
        })?;
        let mut runtime = Runtime::new()?;
        runtime.cache_dir = Some(dir);
        Ok(runtime)
    }

    /// A runtime with the host's imports linked.
    pub fn new() -> Result<Self, HostError> {
        let engine_error = |e: wasmtime::Error| HostError::Engine(format!("{e:?}"));
        let mut config = wasmtime::Config::new();
        // Deadlines: a plugin that loops forever is interrupted at its next epoch check.
        config.epoch_interruption(true);
        // Instances come from a pool of pre-reserved slots: a request's instance is set up
        // and torn down without mapping and unmapping memory (no TLB shootdowns), and the
        // pool's size caps how many instances can be live at once.
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(MAX_LIVE_INSTANCES)
            .total_core_instances(MAX_LIVE_INSTANCES * 8)
            .total_memories(MAX_LIVE_INSTANCES * 2)
            .total_tables(MAX_LIVE_INSTANCES * 8)
            .max_memory_size(MAX_MEMORY);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
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
            compiled: Mutex::new(HashMap::new()),
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
        let name = path
            .file_stem()
            .map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into_owned());
        self.load_bytes(&name, &wasm, config)
    }

    /// Load a plugin component from its bytes.
    pub fn load_bytes(
        &self,
        name: &str,
        wasm: &[u8],
        config: PluginConfig,
    ) -> Result<Plugin, HostError> {
        let component = self.compile(name, wasm)?;
        let link_error = |e: wasmtime::Error| HostError::Link {
            plugin: name.to_owned(),
            reason: format!("{e:?}"),
        };
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(link_error)?;
        let pre = guest::PluginPre::new(pre).map_err(link_error)?;
        let code = Code {
            name: name.into(),
            engine: self.engine.clone(),
            pre,
            config,
        };
        let router = code.read_routes().map_err(|reason| HostError::Routes {
            plugin: name.to_owned(),
            reason,
        })?;
        Ok(Plugin::new(
            code,
            router,
            self.slots.clone(),
            self.workers.clone(),
            self.ticker.clone(),
        ))
    }

    /// The compiled component for these bytes, compiling them on first use.
    fn compile(&self, name: &str, wasm: &[u8]) -> Result<Component, HostError> {
        let mut compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(component) = compiled.get(wasm) {
            return Ok(component.clone());
        }
        let cached = self
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(self.cache_name(wasm)));
        if let Some(path) = cached.as_ref().filter(|p| p.is_file()) {
            // SAFETY: the file was written by `Component::serialize` of an engine with these
            // exact settings (the name says so) into the host's own cache directory.
            match unsafe { Component::deserialize_file(&self.engine, path) } {
                Ok(component) => {
                    compiled.insert(wasm.to_vec(), component.clone());
                    return Ok(component);
                }
                Err(e) => log::warn!(
                    target: "dify_plugin_host::runtime",
                    "ignoring the cached {}: {e}", path.display()
                ),
            }
        }
        let component = Component::new(&self.engine, wasm).map_err(|e| HostError::Compile {
            plugin: name.to_owned(),
            reason: format!("{e:?}"),
        })?;
        if let Some(path) = cached {
            self.store_in_cache(&component, &path);
        }
        compiled.insert(wasm.to_vec(), component.clone());
        Ok(component)
    }

    /// The cache file name: SHA-256 of the engine's compatibility hash and the component.
    fn cache_name(&self, wasm: &[u8]) -> String {
        use sha2::{Digest, Sha256};
        use std::hash::{Hash, Hasher};
        let mut engine = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut engine);
        let mut hasher = Sha256::new();
        hasher.update(engine.finish().to_le_bytes());
        hasher.update(wasm);
        let digest = hasher.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{hex}.cwasm")
    }

    /// Write a compiled component to the cache, atomically; a failure only costs a compile
    /// next time.
    fn store_in_cache(&self, component: &Component, path: &Path) {
        let write = || -> Result<(), String> {
            let bytes = component.serialize().map_err(|e| format!("{e:?}"))?;
            let partial = path.with_extension(format!("partial-{}", std::process::id()));
            std::fs::write(&partial, bytes).map_err(|e| e.to_string())?;
            std::fs::rename(&partial, path).map_err(|e| e.to_string())
        };
        if let Err(e) = write() {
            log::warn!(target: "dify_plugin_host::runtime", "cannot cache {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
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
