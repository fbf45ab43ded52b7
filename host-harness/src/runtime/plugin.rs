//! A loaded plugin: its code, its endpoints, and the requests it is running.

use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::config::PluginConfig;
use super::epoch::Ticker;
use super::instance::{Code, RoutedRequest};
use super::workers::Workers;
use crate::endpoint::{EndpointRequest, PluginFailure};
use crate::response::EndpointResponse;
use crate::response::Outbox;
use dify_plugin_wire::router::{Route, Routed, Router};

/// A loaded plugin: its code, its endpoints, and the requests it is running.
struct Loaded {
    code: Code,
    router: Router,
    in_flight: InFlight,
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
        router: Router,
        workers: Arc<Workers>,
        ticker: Arc<Ticker>,
    ) -> Self {
        Plugin {
            inner: Arc::new(Loaded {
                code,
                router,
                in_flight: InFlight::default(),
                workers,
                _ticker: ticker,
            }),
        }
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
