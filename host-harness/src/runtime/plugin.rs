//! A loaded plugin: its code, its endpoints and tools, and the calls it is running.

use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use super::admission::{self, Admitted, Queue, Slots};
use super::config::PluginConfig;
use super::epoch::Ticker;
use super::instance::{Code, Declared, Job, RoutedRequest};
use super::workers::Workers;
use crate::endpoint::{EndpointRequest, PluginFailure, RequestStats};
use crate::response::EndpointResponse;
use crate::response::{Message, Outbox};
use crate::tool::{ToolRequest, ToolResponse};
use dify_plugin_wire::router::{Route, Routed, Router};
use serde_json::{Map, Value};

/// A loaded plugin: its code, its endpoints, and the requests it is running.
struct Loaded {
    code: Code,
    router: Router,
    /// The names of its tools, as `tools()` gave them.
    tools: Vec<String>,
    /// Its slots: requests running now (their instance not yet dropped).
    slots: Arc<Slots>,
    /// The host's slots, shared by every plugin of the runtime.
    host_slots: Arc<Slots>,
    workers: Arc<Workers>,
    _ticker: Arc<Ticker>,
}

/// A loaded plugin, ready to serve requests. Cheap to clone; clones share the compiled code.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Loaded>,
}

impl Plugin {
    pub(super) fn new(
        code: Code,
        declared: Declared,
        host_slots: Arc<Slots>,
        workers: Arc<Workers>,
        ticker: Arc<Ticker>,
    ) -> Self {
        let limit = code.config.limits.in_flight;
        let slots = Slots::new(format!("plugin {}", code.name), limit);
        Plugin {
            inner: Arc::new(Loaded {
                code,
                router: declared.router,
                tools: declared.tools,
                slots,
                host_slots,
                workers,
                _ticker: ticker,
            }),
        }
    }

    fn queue(&self) -> Queue {
        let limits = &self.config().limits;
        Queue {
            length: limits.queue_length,
            wait: limits.queue_wait,
        }
    }

    /// Take the slots a request needs, waiting in the queue on this thread.
    pub(crate) fn admit_blocking(&self) -> Result<Admitted, PluginFailure> {
        admission::admit_blocking(&self.inner.slots, &self.inner.host_slots, self.queue())
    }

    #[cfg(feature = "server")]
    /// Take the slots a request needs, waiting in the queue without blocking async code.
    pub(crate) async fn admit(&self) -> Result<Admitted, PluginFailure> {
        admission::admit(&self.inner.slots, &self.inner.host_slots, self.queue()).await
    }

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
        self.inner.slots.taken()
    }

    /// Wait until no request is running, at most `timeout`. Returns whether it got there.
    /// A request whose reader went away keeps running until the plugin notices (its next
    /// write fails); this is how a caller waits for that without guessing a delay.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.inner.slots.wait_idle(timeout)
    }

    /// The endpoints the plugin declared.
    pub fn routes(&self) -> &[Route] {
        self.inner.router.routes()
    }

    /// Send one request. Returns once the plugin has sent its head (or failed); the body
    /// streams in as the plugin writes it. A request that matches none of the plugin's
    /// endpoints is answered by the host (404, 405, 400) without running the plugin.
    pub fn request(&self, req: EndpointRequest) -> EndpointResponse {
        let (routed, admitted) = match self.route_and_admit(req) {
            Ok(ready) => ready,
            Err(answer) => return answer,
        };
        let (tx, rx) = sync_channel(self.config().limits.response_buffer.max(1));
        match self.start(routed, Box::new(tx), admitted) {
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
        let (routed, admitted) = match self.route_and_admit(req) {
            Ok(ready) => ready,
            Err(answer) => return answer,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        self.inner.code.run(routed.into(), Box::new(tx));
        drop(admitted);
        EndpointResponse::from_channel(rx)
    }

    /// Route a request and take its slots, or the host's answer when either fails.
    fn route_and_admit(
        &self,
        req: EndpointRequest,
    ) -> Result<(RoutedRequest, Admitted), EndpointResponse> {
        let routed = self.route(req).map_err(Refusal::into_response)?;
        let admitted = self
            .admit_blocking()
            .map_err(|busy| EndpointResponse::failed(&busy))?;
        Ok((routed, admitted))
    }

    /// Match a request against the plugin's endpoints.
    pub(crate) fn route(&self, req: EndpointRequest) -> Result<RoutedRequest, Refusal> {
        match self.inner.router.route(&req.method, &req.path) {
            Routed::Found { route, values } => Ok(RoutedRequest {
                route: route.path.clone(),
                values,
                request: req,
                backend: None,
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

    /// The names of the plugin's tools (empty for a plugin without tools).
    pub fn tools(&self) -> &[String] {
        &self.inner.tools
    }

    /// Call one of the plugin's tools. Returns at once; the messages stream in as the tool
    /// writes them. The parameters go to the tool as they are (see [`crate::tool`] for the
    /// check the front ends make first); a tool the plugin does not have is refused without
    /// running it.
    pub fn invoke_tool(&self, req: ToolRequest) -> ToolResponse {
        if let Err(unknown) = self.known_tool(&req.tool) {
            return ToolResponse::failed(unknown);
        }
        let (tx, rx) = sync_channel(self.config().limits.response_buffer.max(1));
        self.dispatch(Job::Tool(req, None), Box::new(tx));
        ToolResponse::from_channel(rx)
    }

    /// Ask the plugin's provider whether it accepts these credentials (when a Dify user
    /// saves them): `Err(PluginFailure::InvalidCredentials)` if it refuses them.
    pub fn validate_credentials(
        &self,
        credentials: Map<String, Value>,
    ) -> Result<(), PluginFailure> {
        let (tx, rx) = sync_channel(1);
        self.dispatch(Job::Credentials(credentials, None), Box::new(tx));
        match ToolResponse::from_channel(rx).last() {
            Some(Err(failure)) => Err(failure),
            _ => Ok(()),
        }
    }

    /// `Ok` if the plugin has the tool `name`, or the failure that says which it has.
    pub(crate) fn known_tool(&self, name: &str) -> Result<(), PluginFailure> {
        if self.inner.tools.iter().any(|t| t == name) {
            return Ok(());
        }
        let has = if self.inner.tools.is_empty() {
            "it has no tools".to_owned()
        } else {
            format!("it has: {}", self.inner.tools.join(", "))
        };
        Err(PluginFailure::UnknownTool(format!(
            "plugin {} has no tool '{name}'; {has}",
            self.name()
        )))
    }

    /// Admit and run a call on a worker thread, for a front end whose own thread must not
    /// wait in the admission queue. A refusal (busy) is the response's end.
    pub(crate) fn dispatch(&self, job: impl Into<Job>, mut outbox: Box<dyn Outbox>) {
        let plugin = self.clone();
        let job = job.into();
        let job = Box::new(move || match plugin.admit_blocking() {
            Ok(admitted) => {
                plugin.inner.code.run(job, outbox);
                drop(admitted);
            }
            Err(busy) => {
                let _ = outbox.send(Message::End(Err(busy), RequestStats::default()));
            }
        });
        if let Err(e) = self.inner.workers.run(job) {
            // The job, and its outbox with it, is dropped: the outbox answers for itself.
            log::warn!(target: "dify_plugin_host::runtime", "cannot start a thread for a request: {e}");
        }
    }

    /// Run an admitted, routed request on its own thread, sending the response into
    /// `outbox`. Its slots are given back once its instance is dropped.
    pub(crate) fn start(
        &self,
        req: RoutedRequest,
        outbox: Box<dyn Outbox>,
        admitted: Admitted,
    ) -> Result<(), PluginFailure> {
        let loaded = self.inner.clone();
        let spawned = self.inner.workers.run(Box::new(move || {
            loaded.code.run(req.into(), outbox);
            drop(admitted);
        }));
        spawned
            .map_err(|e| PluginFailure::Host(format!("cannot start a thread for the request: {e}")))
    }
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
