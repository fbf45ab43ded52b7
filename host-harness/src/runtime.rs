//! Loading plugin components and running one request in a fresh instance.
//!
//! One [`Runtime`] holds the wasmtime `Engine`, the `Linker` with the host's imports and the
//! backend. [`Runtime::load`] compiles a component once and pre-links it (`InstancePre`); each
//! request then gets a fresh `Store` and instance, so nothing leaks from one request to the
//! next, and a plugin that traps takes only its own request down.
//!
//! The guest gets no ambient authority: its WASI context has no environment, no arguments,
//! no preopened directories and no sockets; what it prints goes to the host's log.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtxBuilder};

use crate::backend::{Backend, CallContext};
use crate::bindings::{self, endpoint::HandlerError, http};
use crate::endpoint::{EndpointRequest, EndpointResponse, PluginFailure, ResponseSink};
use crate::imports::{HostResponseWriter, PluginState};

/// How often the epoch advances: the granularity of request deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// How much of a plugin's stdout/stderr is kept per request.
const OUTPUT_CAPTURE: usize = 64 * 1024;

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
        }
    }
}

/// Where a plugin runs: its workspace and user, its endpoint settings and its limits.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
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
    /// A plugin bound to this workspace, with default limits and no settings.
    pub fn new(tenant_id: &str) -> Self {
        PluginConfig {
            tenant_id: tenant_id.to_owned(),
            user_id: String::new(),
            settings: Value::Object(Default::default()),
            limits: Limits::default(),
        }
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
    /// The engine could not be set up.
    #[error("cannot start the wasm engine: {0}")]
    Engine(String),
}

/// Advances the engine's epoch while any runtime or plugin needs deadlines.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: Engine) -> Result<Arc<Self>, HostError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        thread::Builder::new()
            .name("dify-plugin-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| HostError::Engine(format!("cannot start the epoch thread: {e}")))?;
        Ok(Arc::new(Ticker { stop }))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The wasm engine, the host's imports and the backend plugins call.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PluginState>,
    backend: Arc<dyn Backend>,
    ticker: Arc<Ticker>,
}

impl Runtime {
    /// A runtime whose plugins invoke apps on `backend`.
    pub fn new(backend: impl Backend) -> Result<Self, HostError> {
        Self::with_backend(Arc::new(backend))
    }

    /// A runtime on a shared backend.
    pub fn with_backend(backend: Arc<dyn Backend>) -> Result<Self, HostError> {
        let engine_error = |e: wasmtime::Error| HostError::Engine(format!("{e:?}"));
        let mut config = wasmtime::Config::new();
        // Deadlines: a plugin that loops forever is interrupted at its next epoch check.
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(engine_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_error)?;
        bindings::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(engine_error)?;
        let ticker = Ticker::start(engine.clone())?;
        Ok(Runtime {
            engine,
            linker,
            backend,
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
    pub fn load_bytes(&self, name: &str, wasm: &[u8], config: PluginConfig) -> Result<Plugin, HostError> {
        let component = Component::new(&self.engine, wasm).map_err(|e| HostError::Compile {
            plugin: name.to_owned(),
            reason: format!("{e:?}"),
        })?;
        let link_error = |e: wasmtime::Error| HostError::Link {
            plugin: name.to_owned(),
            reason: format!("{e:?}"),
        };
        let pre = self.linker.instantiate_pre(&component).map_err(link_error)?;
        let pre = bindings::PluginPre::new(pre).map_err(link_error)?;
        Ok(Plugin {
            inner: Arc::new(Loaded {
                name: name.into(),
                engine: self.engine.clone(),
                pre,
                backend: self.backend.clone(),
                config,
                _ticker: self.ticker.clone(),
            }),
        })
    }
}

struct Loaded {
    name: Arc<str>,
    engine: Engine,
    pre: bindings::PluginPre<PluginState>,
    backend: Arc<dyn Backend>,
    config: PluginConfig,
    _ticker: Arc<Ticker>,
}

/// A loaded plugin, ready to serve requests. Cheap to clone; clones share the compiled code.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Loaded>,
}

impl Plugin {
    /// The plugin's name (its file name without `.wasm`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &PluginConfig {
        &self.inner.config
    }

    /// Send one request. Returns once the plugin has sent its head (or failed); the body
    /// streams in as the plugin writes it.
    pub fn request(&self, req: EndpointRequest) -> EndpointResponse {
        let (tx, rx) = sync_channel(self.inner.config.limits.response_buffer.max(1));
        let loaded = self.inner.clone();
        let spawned = thread::Builder::new()
            .name(format!("plugin-{}", self.inner.name))
            .spawn(move || loaded.run(req, tx));
        match spawned {
            Ok(_) => EndpointResponse::from_channel(rx),
            Err(e) => EndpointResponse::failed(&PluginFailure::Host(format!(
                "cannot start a thread for the request: {e}"
            ))),
        }
    }
}

impl Loaded {
    /// Run one request in a fresh instance, on the current thread.
    fn run(&self, req: EndpointRequest, tx: std::sync::mpsc::SyncSender<crate::endpoint::Message>) {
        let limits = &self.config.limits;
        let output = MemoryOutputPipe::new(OUTPUT_CAPTURE);
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .build();
        let state = PluginState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            backend: self.backend.clone(),
            ctx: CallContext {
                tenant_id: self.config.tenant_id.clone(),
                user_id: self.config.user_id.clone(),
            },
            plugin: self.name.clone(),
            open_streams: 0,
            max_open_streams: limits.open_streams,
            log_lines: 0,
            max_log_lines: limits.log_lines,
            sink: ResponseSink::new(tx, limits.response_bytes),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        let ticks = (limits.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);

        let result = self.call(&mut store, req);
        let result = result.map_err(|trap| self.explain_trap(&trap, &output, limits));
        self.forward_output(&output);
        if let Err(failure) = &result {
            log::warn!(target: "dify_plugin_host::plugin", "[{}] {failure}", self.name);
        }
        // Drop the instance and every resource it still holds (open app streams are
        // cancelled here) before the reader learns that the response has ended.
        let PluginState { sink, .. } = store.into_data();
        sink.end(result.and_then(|handled| handled));
    }

    /// Instantiate and call `handle`; the outer `Err` is a trap.
    fn call(
        &self,
        store: &mut Store<PluginState>,
        req: EndpointRequest,
    ) -> wasmtime::Result<Result<(), PluginFailure>> {
        let instance = self.pre.instantiate(&mut *store)?;
        let writer = store.data_mut().table.push(HostResponseWriter)?;
        let settings = if req.settings.as_object().is_some_and(|m| !m.is_empty()) {
            req.settings
        } else {
            self.config.settings.clone()
        };
        let request = http::Request {
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            values: req.values,
            settings: settings.to_string(),
            body: req.body,
        };
        let handled = instance
            .dify_plugin_endpoint()
            .call_handle(&mut *store, &request, writer)?;
        Ok(match handled {
            Ok(()) => Ok(()),
            Err(HandlerError::BadRequest(m)) => Err(PluginFailure::BadRequest(m)),
            Err(HandlerError::Internal(m)) => Err(PluginFailure::Handler(m)),
        })
    }

    fn explain_trap(&self, trap: &wasmtime::Error, output: &MemoryOutputPipe, limits: &Limits) -> PluginFailure {
        if let Some(wasmtime::Trap::Interrupt) = trap.downcast_ref::<wasmtime::Trap>() {
            return PluginFailure::Deadline(limits.deadline.as_millis() as u64);
        }
        let printed = String::from_utf8_lossy(&output.contents()).into_owned();
        let panic = printed
            .lines()
            .skip_while(|l| !l.contains("panicked at"))
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let cause = trap
            .downcast_ref::<wasmtime::Trap>()
            .map_or_else(|| format!("{trap}"), |t| t.to_string());
        if panic.is_empty() {
            PluginFailure::Trap(cause)
        } else {
            PluginFailure::Trap(format!("{panic} ({cause})"))
        }
    }

    fn forward_output(&self, output: &MemoryOutputPipe) {
        let printed = output.contents();
        for line in String::from_utf8_lossy(&printed).lines().filter(|l| !l.is_empty()) {
            log::info!(target: "dify_plugin_host::plugin", "[{}] stdout/stderr: {line}", self.name);
        }
    }
}
