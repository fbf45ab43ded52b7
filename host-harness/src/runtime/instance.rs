//! One request in a fresh instance: its `Store` (the sandbox, the limits, the deadline), the
//! call into the plugin (an endpoint's `handle`, a tool's `invoke`, the provider's
//! `validate-credentials`), and what a trap means for the caller.
//!
//! A plugin may export `endpoint`, `tool` or both (a component built against WIT 0.1.1 has
//! no `tool`): each export is looked up on its own, and a missing one is a plugin without
//! endpoints or without tools, not a link error.
//!
//! The guest gets no ambient authority: its WASI context has no environment, no arguments,
//! no preopened directories and no sockets; what it prints goes to the host's log.

use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use serde_json::{Map, Value};
use wasmtime::component::InstancePre;
use wasmtime::{Engine, Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtxBuilder};

use super::config::{Limits, PluginConfig};
use crate::backend::{Backend, CallContext};
use crate::budget::{Budget, OutOfTime, Spent, ticks};
use crate::endpoint::{EndpointRequest, PluginFailure};
use crate::guest::ResponseSink;
use crate::guest::{
    HostMessageWriter, HostResponseWriter, PluginState, RequestClock, endpoint,
    endpoint::HandlerError, http, tool, tool::ToolError,
};
use crate::response::{Message, Outbox};
use crate::tool::ToolRequest;
use dify_plugin_wire::router::Router;

/// How much of a plugin's stdout/stderr is kept per request.
const OUTPUT_CAPTURE: usize = 64 * 1024;
/// How long `routes()` and `tools()` may take at load, sleeps included.
const LOAD_DEADLINE: Duration = Duration::from_secs(2);

/// A request matched to one of the plugin's endpoints.
pub(crate) struct RoutedRequest {
    pub(super) route: String,
    pub(super) values: Vec<(String, String)>,
    pub(super) request: EndpointRequest,
    /// Where this request's app calls go, if not the plugin's backend: the daemon front end
    /// answers them through the session the request came in.
    pub(super) backend: Option<Arc<dyn Backend>>,
}

impl RoutedRequest {
    #[cfg(feature = "server")]
    /// The request, for a front end that fills in its body after routing.
    pub(crate) fn request_mut(&mut self) -> &mut EndpointRequest {
        &mut self.request
    }

    /// Send this request's app calls to `backend`.
    pub(crate) fn set_backend(&mut self, backend: Arc<dyn Backend>) {
        self.backend = Some(backend);
    }
}

/// One call into a plugin, and where its app calls go.
pub(crate) enum Job {
    Endpoint(RoutedRequest),
    Tool(ToolRequest, Option<Arc<dyn Backend>>),
    Credentials(Map<String, Value>, Option<Arc<dyn Backend>>),
}

impl From<RoutedRequest> for Job {
    fn from(routed: RoutedRequest) -> Self {
        Job::Endpoint(routed)
    }
}

impl Job {
    /// The backend the front end chose for this call's app calls, taken out.
    fn take_backend(&mut self) -> Option<Arc<dyn Backend>> {
        match self {
            Job::Endpoint(routed) => routed.backend.take(),
            Job::Tool(_, backend) | Job::Credentials(_, backend) => backend.take(),
        }
    }
}

/// Where the plugin's exports are, each `None` if the component lacks it.
pub(super) struct Exports {
    pub(super) endpoint: Option<endpoint::GuestIndices>,
    pub(super) tool: Option<tool::GuestIndices>,
}

/// What the plugin's exports declare: its endpoints and its tools.
pub(super) struct Declared {
    pub(super) router: Router,
    pub(super) tools: Vec<String>,
}

fn millis(time: Duration) -> u64 {
    u64::try_from(time.as_millis()).unwrap_or(u64::MAX)
}

/// What it takes to run the plugin: the pre-linked component and its configuration.
pub(super) struct Code {
    pub(super) name: Arc<str>,
    pub(super) engine: Engine,
    pub(super) pre: InstancePre<PluginState>,
    pub(super) exports: Exports,
    pub(super) config: PluginConfig,
}

impl Code {
    /// Ask a fresh instance for its endpoints and its tools.
    pub(super) fn read_exports(&self) -> Result<Declared, String> {
        let (tx, _rx) = sync_channel::<Message>(1);
        let budget = Budget::new(LOAD_DEADLINE, LOAD_DEADLINE);
        let mut store = self.store(Box::new(tx), budget, None);
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| format!("it failed to start: {e:?}"))?;
        let explain = |store: &Store<PluginState>, function: &str, e: wasmtime::Error| match store
            .data()
            .budget
            .left()
        {
            Err(_) => format!(
                "its {function}() took longer than {} s",
                LOAD_DEADLINE.as_secs_f64()
            ),
            Ok(_) => format!("its {function}() trapped: {e:?}"),
        };
        let routes = match &self.exports.endpoint {
            Some(indices) => indices
                .load(&mut store, &instance)
                .and_then(|guest| guest.call_routes(&mut store))
                .and_then(|routes| Ok(store.data().budget.check().map(|()| routes)?))
                .map_err(|e| explain(&store, "routes", e))?,
            None => Vec::new(),
        };
        let tools = match &self.exports.tool {
            Some(indices) => indices
                .load(&mut store, &instance)
                .and_then(|guest| guest.call_tools(&mut store))
                .and_then(|tools| Ok(store.data().budget.check().map(|()| tools)?))
                .map_err(|e| explain(&store, "tools", e))?,
            None => Vec::new(),
        };
        if routes.is_empty() && tools.is_empty() {
            return Err("it declares no endpoints and no tools".into());
        }
        let router = Router::new(routes.into_iter().map(|r| (r.method, r.path)))?;
        Ok(Declared { router, tools })
    }

    /// A fresh store with the plugin's limits and `budget`, its response going to `outbox`.
    fn store(
        &self,
        outbox: Box<dyn Outbox>,
        budget: Arc<Budget>,
        backend: Option<Arc<dyn Backend>>,
    ) -> Store<PluginState> {
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
            .monotonic_clock(RequestClock(budget.started()))
            .build();
        let state = PluginState {
            wasi,
            output,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            backend: backend.unwrap_or_else(|| self.config.backend.clone()),
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
            budget,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        // When the epoch reaches the deadline, the budget says how much is really left (waits
        // on Dify and on the client were given back), or that a clock ran out.
        let first = store.data().budget.left().unwrap_or(Duration::ZERO);
        store.set_epoch_deadline(ticks(first));
        store.epoch_deadline_callback(|store| {
            Ok(match store.data().budget.left() {
                Ok(left) => UpdateDeadline::Continue(ticks(left)),
                Err(_) => UpdateDeadline::Interrupt,
            })
        });
        store
    }

    /// Run one call in a fresh instance, on the current thread.
    pub(super) fn run(&self, mut job: Job, outbox: Box<dyn Outbox>) {
        let limits = &self.config.limits;
        let budget = Budget::new(limits.deadline, limits.wall_time);
        // The waits this thread reports while the request runs are the request's.
        let _entered = budget.enter();
        let backend = job.take_backend();
        let mut store = self.store(outbox, budget, backend);
        let output = store.data().output.clone();
        let result = self.call(&mut store, job);
        let budget = store.data().budget.clone();
        let result = result.map_err(|trap| self.explain_trap(&trap, &output, limits, &budget));
        self.forward_output(&output);
        if let Err(failure) = &result {
            log::warn!(target: "dify_plugin_host::plugin", "[{}] {failure}", self.name);
        }
        // Every resource the instance still holds is dropped (open app streams are cancelled
        // here), and so is the request's own backend (a daemon session's wakes the
        // connection's reading thread), before the reader learns that the response has ended;
        // the instance itself is dropped after, so that the reader sends the response while
        // the pool resets the instance's memory for the next one.
        let state = store.data_mut();
        drop(std::mem::take(&mut state.table));
        state.backend = self.config.backend.clone();
        let (app_calls, events) = (state.app_calls, state.events);
        state
            .sink
            .end(result.and_then(|handled| handled), app_calls, events);
        drop(store);
    }

    /// Instantiate and make the call; the outer `Err` is a trap.
    fn call(
        &self,
        store: &mut Store<PluginState>,
        job: Job,
    ) -> wasmtime::Result<Result<(), PluginFailure>> {
        let instance = self.pre.instantiate(&mut *store)?;
        let routed = match job {
            Job::Endpoint(routed) => routed,
            Job::Tool(request, _) => {
                let Some(indices) = &self.exports.tool else {
                    return Ok(Err(no_tools()));
                };
                let guest = indices.load(&mut *store, &instance)?;
                let writer = store.data_mut().table.push(HostMessageWriter)?;
                let call = tool::Call {
                    tool: request.tool,
                    parameters: Value::Object(request.parameters).to_string(),
                    credentials: Value::Object(request.credentials).to_string(),
                    credential_type: request.credential_type,
                    user_id: request.user_id,
                };
                return Ok(guest
                    .call_invoke(&mut *store, &call, writer)?
                    .map_err(tool_failure));
            }
            Job::Credentials(credentials, _) => {
                let Some(indices) = &self.exports.tool else {
                    return Ok(Err(no_tools()));
                };
                let guest = indices.load(&mut *store, &instance)?;
                let credentials = Value::Object(credentials).to_string();
                return Ok(guest
                    .call_validate_credentials(&mut *store, &credentials)?
                    .map_err(tool_failure));
            }
        };
        let Some(indices) = &self.exports.endpoint else {
            return Ok(Err(PluginFailure::Host(
                "the plugin exports no endpoints".into(),
            )));
        };
        let guest = indices.load(&mut *store, &instance)?;
        let req = routed.request;
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
        let handled = guest.call_handle(&mut *store, &request, writer)?;
        Ok(match handled {
            Ok(()) => Ok(()),
            Err(HandlerError::BadRequest(m)) => Err(PluginFailure::BadRequest(m)),
            Err(HandlerError::Internal(m)) => Err(PluginFailure::Handler(m)),
        })
    }
}

fn no_tools() -> PluginFailure {
    PluginFailure::Host("the plugin exports no tools (it was built against WIT 0.1.1)".into())
}

/// What a tool's error means for the caller.
fn tool_failure(error: ToolError) -> PluginFailure {
    match error {
        ToolError::InvalidParameters(m) => PluginFailure::InvalidParameters(m),
        ToolError::InvalidCredentials(m) => PluginFailure::InvalidCredentials(m),
        ToolError::Failed(m) => PluginFailure::Handler(m),
    }
}

impl Code {
    fn explain_trap(
        &self,
        trap: &wasmtime::Error,
        output: &MemoryOutputPipe,
        limits: &Limits,
        budget: &Budget,
    ) -> PluginFailure {
        let interrupted = matches!(
            trap.downcast_ref::<wasmtime::Trap>(),
            Some(wasmtime::Trap::Interrupt)
        );
        if interrupted || trap.is::<OutOfTime>() {
            return match budget.left() {
                Err(Spent::Wall(wall)) => PluginFailure::WallTime(millis(wall)),
                _ => PluginFailure::Deadline(millis(limits.deadline)),
            };
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
        // A trap says what it is; any other failure (a copy limit, a wrong handle, the handle
        // cap) is wrapped in wasmtime's backtrace context, so say its root cause.
        let cause = trap
            .downcast_ref::<wasmtime::Trap>()
            .map_or_else(|| trap.root_cause().to_string(), |t| t.to_string());
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
