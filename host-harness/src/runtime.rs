//! Loading plugin components and running one request in a fresh instance.
//!
//! One [`Runtime`] holds the wasmtime `Engine`, the `Linker` with the host's imports and the
//! backend. [`Runtime::load`] compiles a component once and pre-links it (`InstancePre`); each
//! request then gets a fresh `Store` and instance, so nothing leaks from one request to the
//! next, and a plugin that traps takes only its own request down.
//!
//! The guest gets no ambient authority: its WASI context has no environment, no arguments,
//! no preopened directories and no sockets; what it prints goes to the host's log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtxBuilder};

use crate::backend::{Backend, CallContext};
use crate::bindings::{self, endpoint::HandlerError, http};
use crate::endpoint::{
    EndpointRequest, EndpointResponse, Message, Outbox, PluginFailure, ResponseSink,
};
use crate::imports::{HostResponseWriter, PluginState};
use crate::router::{Route, Routed, Router};
use crate::workers::Workers;

/// How often the epoch advances: the granularity of request deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Instances that can be live at once, across all plugins of a runtime.
const MAX_LIVE_INSTANCES: u32 = 1000;
/// The most linear memory any instance may have; each plugin's own limit is lower.
const MAX_MEMORY: usize = 1 << 30;
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

/// Epoch ticks in `time`, at least one.
fn ticks(time: Duration) -> u64 {
    (time.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
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

/// The wasm engine, the host's imports, and the components compiled so far.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PluginState>,
    /// Compiled components by their bytes: loading the same plugin again costs no compile.
    compiled: Mutex<HashMap<Vec<u8>, Component>>,
    /// Where compiled components are kept across processes, if anywhere.
    cache_dir: Option<PathBuf>,
    workers: Arc<Workers>,
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
        bindings::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(engine_error)?;
        let ticker = Ticker::start(engine.clone())?;
        Ok(Runtime {
            engine,
            linker,
            compiled: Mutex::new(HashMap::new()),
            cache_dir: None,
            workers: Arc::default(),
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
        let pre = bindings::PluginPre::new(pre).map_err(link_error)?;
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
        Ok(Plugin {
            inner: Arc::new(Loaded {
                code,
                router,
                in_flight: InFlight::default(),
                workers: self.workers.clone(),
                _ticker: self.ticker.clone(),
            }),
        })
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

/// A loaded plugin: its code, its endpoints, and the requests it is running.
struct Loaded {
    code: Code,
    router: Router,
    in_flight: InFlight,
    workers: Arc<Workers>,
    _ticker: Arc<Ticker>,
}

/// What it takes to run the plugin: the pre-linked component and its configuration.
struct Code {
    name: Arc<str>,
    engine: Engine,
    pre: bindings::PluginPre<PluginState>,
    config: PluginConfig,
}

/// A loaded plugin, ready to serve requests. Cheap to clone; clones share the compiled code.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Loaded>,
}

impl Plugin {
    /// The plugin's name (its file name without `.wasm`).
    pub fn name(&self) -> &str {
        &self.inner.code.name
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &PluginConfig {
        &self.inner.code.config
    }

    /// How many requests are running now (their instance not yet dropped).
    pub fn in_flight(&self) -> usize {
        *self.inner.in_flight.lock()
    }

    /// Wait until no request is running, at most `timeout`. Returns whether it got there.
    /// A request whose reader went away keeps running until the plugin notices (its next
    /// write fails); this is how a caller waits for that without guessing a delay.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let guard = self.inner.in_flight.lock();
        let (guard, _) = self
            .inner
            .in_flight
            .idle
            .wait_timeout_while(guard, timeout, |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        *guard == 0
    }

    /// The endpoints the plugin declared.
    pub fn routes(&self) -> &[Route] {
        self.inner.router.routes()
    }

    /// Send one request. Returns once the plugin has sent its head (or failed); the body
    /// streams in as the plugin writes it. A request that matches none of the plugin's
    /// endpoints is answered by the host (404, 405, 400) without running the plugin.
    pub fn request(&self, req: EndpointRequest) -> EndpointResponse {
        let routed = match self.route(req) {
            Ok(routed) => routed,
            Err(refusal) => return refusal.into_response(),
        };
        let (tx, rx) = sync_channel(self.config().limits.response_buffer.max(1));
        match self.start(routed, Box::new(tx)) {
            Ok(()) => EndpointResponse::from_channel(rx),
            Err(failure) => EndpointResponse::failed(&failure),
        }
    }

    /// Run one request on the calling thread and buffer the whole response.
    ///
    /// For callers that already give each request a thread of their own and need no
    /// streaming (batch jobs, benchmarks): it skips the hand-off to a worker thread, and the
    /// body is complete when this returns. Limits apply as with [`Plugin::request`], except
    /// that the response buffer is unbounded.
    pub fn request_inline(&self, req: EndpointRequest) -> EndpointResponse {
        let routed = match self.route(req) {
            Ok(routed) => routed,
            Err(refusal) => return refusal.into_response(),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        *self.inner.in_flight.lock() += 1;
        self.inner.code.run(routed, Box::new(tx));
        self.inner.in_flight.finish();
        EndpointResponse::from_channel(rx)
    }

    /// Match a request against the plugin's endpoints.
    pub(crate) fn route(&self, req: EndpointRequest) -> Result<RoutedRequest, Refusal> {
        match self.inner.router.route(&req.method, &req.path) {
            Routed::Found { route, values } => Ok(RoutedRequest {
                route: route.path.clone(),
                values,
                request: req,
            }),
            Routed::NotFound => Err(Refusal {
                status: 404,
                text: format!(
                    "no endpoint of plugin {} matches {} {}; it serves: {}",
                    self.name(),
                    req.method,
                    req.path,
                    self.describe_routes()
                ),
                allow: None,
            }),
            Routed::MethodNotAllowed(allowed) => Err(Refusal {
                status: 405,
                text: format!(
                    "{} {} is not allowed; this endpoint accepts {}",
                    req.method,
                    req.path,
                    allowed.join(", ")
                ),
                allow: Some(allowed.join(", ")),
            }),
            Routed::BadPath(reason) => Err(Refusal {
                status: 400,
                text: reason,
                allow: None,
            }),
        }
    }

    fn describe_routes(&self) -> String {
        let routes: Vec<String> = self
            .routes()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        routes.join(", ")
    }

    /// Run a routed request on its own thread, sending the response into `outbox`.
    pub(crate) fn start(
        &self,
        req: RoutedRequest,
        outbox: Box<dyn Outbox>,
    ) -> Result<(), PluginFailure> {
        let loaded = self.inner.clone();
        *self.inner.in_flight.lock() += 1;
        let spawned = self.inner.workers.run(Box::new(move || {
            loaded.code.run(req, outbox);
            loaded.in_flight.finish();
        }));
        spawned.map_err(|e| {
            self.inner.in_flight.finish();
            PluginFailure::Host(format!("cannot start a thread for the request: {e}"))
        })
    }
}

/// A request matched to one of the plugin's endpoints.
pub(crate) struct RoutedRequest {
    route: String,
    values: Vec<(String, String)>,
    request: EndpointRequest,
}

/// The host's own answer to a request the plugin cannot take.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub status: u16,
    pub text: String,
    /// The `Allow` header of a 405.
    pub allow: Option<String>,
}

impl Refusal {
    fn into_response(self) -> EndpointResponse {
        EndpointResponse::host_text(self.status, self.text, self.allow.map(|a| ("allow", a)))
    }
}

/// Counts running requests, and wakes those waiting for none.
#[derive(Default)]
struct InFlight {
    count: Mutex<usize>,
    idle: Condvar,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish(&self) {
        let mut count = self.lock();
        *count -= 1;
        if *count == 0 {
            self.idle.notify_all();
        }
    }
}

impl Code {
    /// Ask a fresh instance for its endpoints.
    fn read_routes(&self) -> Result<Router, String> {
        let (tx, _rx) = sync_channel::<Message>(1);
        let mut store = self.store(Box::new(tx));
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| format!("it failed to start: {e:?}"))?;
        let routes = instance
            .dify_plugin_endpoint()
            .call_routes(&mut store)
            .map_err(|e| format!("its routes() trapped: {e:?}"))?;
        Router::new(routes.into_iter().map(|r| (r.method, r.path)))
    }

    /// A fresh store with the plugin's limits, its response going to `outbox`.
    fn store(&self, outbox: Box<dyn Outbox>) -> Store<PluginState> {
        let limits = &self.config.limits;
        let output = MemoryOutputPipe::new(OUTPUT_CAPTURE);
        // No environment, arguments, directories, sockets or name lookups: the builder grants
        // none by default, and sockets are switched off outright on top. Clocks and random
        // numbers are granted (timestamps, nonces); see SECURITY.md.
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = PluginState {
            wasi,
            output,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            backend: self.config.backend.clone(),
            ctx: CallContext {
                tenant_id: self.config.tenant_id.clone(),
                user_id: self.config.user_id.clone(),
            },
            plugin: self.name.clone(),
            open_streams: 0,
            max_open_streams: limits.open_streams,
            log_lines: 0,
            max_log_lines: limits.log_lines,
            app_calls: 0,
            events: 0,
            sink: ResponseSink::new(outbox, limits.response_bytes),
            started: Instant::now(),
            blocked: Duration::ZERO,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        // The deadline is for the plugin's own run time: when the epoch reaches it, time spent
        // blocked in host calls (waiting for Dify, for a slow client) is given back.
        let deadline = limits.deadline;
        store.set_epoch_deadline(ticks(deadline));
        store.epoch_deadline_callback(move |store| {
            let state = store.data();
            let own = state.started.elapsed().saturating_sub(state.blocked);
            Ok(match deadline.checked_sub(own) {
                Some(left) if !left.is_zero() => UpdateDeadline::Continue(ticks(left)),
                _ => UpdateDeadline::Interrupt,
            })
        });
        store
    }

    /// Run one request in a fresh instance, on the current thread.
    fn run(&self, req: RoutedRequest, outbox: Box<dyn Outbox>) {
        let limits = &self.config.limits;
        let mut store = self.store(outbox);
        let output = store.data().output.clone();
        let result = self.call(&mut store, req);
        let result = result.map_err(|trap| self.explain_trap(&trap, &output, limits));
        self.forward_output(&output);
        if let Err(failure) = &result {
            log::warn!(target: "dify_plugin_host::plugin", "[{}] {failure}", self.name);
        }
        // Drop the instance and every resource it still holds (open app streams are
        // cancelled here) before the reader learns that the response has ended.
        let PluginState {
            sink,
            app_calls,
            events,
            ..
        } = store.into_data();
        sink.end(result.and_then(|handled| handled), app_calls, events);
    }

    /// Instantiate and call `handle`; the outer `Err` is a trap.
    fn call(
        &self,
        store: &mut Store<PluginState>,
        routed: RoutedRequest,
    ) -> wasmtime::Result<Result<(), PluginFailure>> {
        let req = routed.request;
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
            route: routed.route,
            query: req.query,
            headers: req.headers,
            values: routed.values,
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

    fn explain_trap(
        &self,
        trap: &wasmtime::Error,
        output: &MemoryOutputPipe,
        limits: &Limits,
    ) -> PluginFailure {
        if let Some(wasmtime::Trap::Interrupt) = trap.downcast_ref::<wasmtime::Trap>() {
            return PluginFailure::Deadline(limits.deadline.as_millis() as u64);
        }
        // With `trap_on_grow_failure`, a refused `memory.grow` traps with this text.
        if format!("{trap:?}").contains("forcing trap when growing memory") {
            return PluginFailure::MemoryLimit(limits.memory_bytes);
        }
        // A full output buffer refuses the next write, and Rust's `print!` panics on that,
        // without a message (stderr is full too). WASI writes are at most 4 KiB, so a buffer
        // within 4 KiB of full means that is what happened.
        let printed = output.contents();
        if printed.len() + 4096 > OUTPUT_CAPTURE {
            return PluginFailure::OutputLimit(OUTPUT_CAPTURE);
        }
        let printed = String::from_utf8_lossy(&printed).into_owned();
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
        for line in String::from_utf8_lossy(&printed)
            .lines()
            .filter(|l| !l.is_empty())
        {
            log::info!(target: "dify_plugin_host::plugin", "[{}] stdout/stderr: {line}", self.name);
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
