//! HTTP requests into a plugin's endpoint and the streamed responses out of it: the types of
//! the library's request API.
//!
//! The plugin runs on its own thread and writes its response into a `ResponseSink`; the
//! caller reads an [`EndpointResponse`] on the other side of a bounded channel (`response.rs`). The bound is
//! the backpressure: a slow reader blocks the plugin's `write`, and the host never holds more
//! than a few chunks of the body. A reader that goes away closes the channel, the plugin's
//! next `write` answers `closed`, and its app streams are dropped, which cancels them.

use std::fmt;
use std::sync::mpsc::Receiver;

use serde_json::Value;

use crate::response::{self, Body, Message, Start};

/// One HTTP request to a plugin endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, starting with `/`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The endpoint's settings, a JSON object.
    pub settings: Value,
    /// The body.
    pub body: Vec<u8>,
}

impl EndpointRequest {
    /// A request; `target` may carry a query (`/duck/x?query=hi`).
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        EndpointRequest {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            settings: Value::Object(Default::default()),
            body: Vec::new(),
        }
    }

    /// A `GET`.
    pub fn get(target: &str) -> Self {
        Self::new("GET", target)
    }

    /// A `POST` with a body.
    pub fn post(target: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new("POST", target).body(body)
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Set the endpoint's settings.
    pub fn settings(mut self, settings: Value) -> Self {
        self.settings = settings;
        self
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// Why a plugin failed a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginFailure {
    /// The handler returned `bad-request`.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The handler returned `internal`.
    #[error("the plugin failed: {0}")]
    Handler(String),
    /// The plugin trapped (a panic, an `unreachable`, a limit it hit). The text includes the
    /// panic message when the plugin printed one.
    #[error("the plugin crashed: {0}")]
    Trap(String),
    /// The plugin tried to grow its memory past the limit.
    #[error("the plugin exceeded its memory limit of {} MiB", .0 >> 20)]
    MemoryLimit(usize),
    /// The plugin printed more to stdout and stderr than the host keeps.
    #[error(
        "the plugin printed more than {0} bytes to stdout and stderr; log with the log crate instead"
    )]
    OutputLimit(usize),
    /// The plugin ran past the request deadline.
    #[error("the plugin ran past its deadline of {0} ms")]
    Deadline(u64),
    /// The host could not start the plugin.
    #[error("the host could not run the plugin: {0}")]
    Host(String),
}

impl PluginFailure {
    /// The status a failure gets when no head was sent yet.
    pub fn status(&self) -> u16 {
        match self {
            PluginFailure::BadRequest(_) => 400,
            PluginFailure::Deadline(_) => 504,
            _ => 500,
        }
    }
}

/// What one request did, for the log line and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// App invocations the plugin made.
    pub app_calls: u32,
    /// App events it read.
    pub events: u64,
    /// Body pieces it wrote.
    pub chunks: u64,
    /// Body bytes it wrote.
    pub bytes: u64,
}

/// A plugin's response, its body streamed as the plugin writes it.
///
/// Iterate it for the body pieces. A plugin that fails after its head was sent yields one
/// `Err` as the last item: the body is cut, and must not be taken for complete.
pub struct EndpointResponse {
    status: u16,
    headers: Vec<(String, String)>,
    rx: Option<Receiver<Message>>,
    failure_body: Option<Vec<u8>>,
    stats: Option<RequestStats>,
}

impl fmt::Debug for EndpointResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl EndpointResponse {
    /// Wait for the head (or an early end) and build the response.
    pub(crate) fn from_channel(rx: Receiver<Message>) -> Self {
        match response::first(rx.recv().ok()) {
            Start::Head(status, headers) => EndpointResponse {
                status,
                headers,
                rx: Some(rx),
                failure_body: None,
                stats: None,
            },
            Start::Ended(result, stats) => {
                let mut response = match result {
                    Ok(()) => EndpointResponse::complete(200, Vec::new()),
                    Err(failure) => EndpointResponse::failed(&failure),
                };
                response.stats = stats;
                response
            }
        }
    }

    fn complete(status: u16, body: Vec<u8>) -> Self {
        EndpointResponse {
            status,
            headers: Vec::new(),
            rx: None,
            failure_body: Some(body),
            stats: None,
        }
    }

    /// A plain-text answer from the host itself (a routing error, a failure to start).
    pub(crate) fn host_text(status: u16, text: String, extra: Option<(&str, String)>) -> Self {
        let mut response = EndpointResponse::complete(status, text.into_bytes());
        response.headers = vec![("content-type".into(), "text/plain; charset=utf-8".into())];
        if let Some((name, value)) = extra {
            response.headers.push((name.to_owned(), value));
        }
        response
    }

    /// The answer for a plugin that failed before sending its head.
    pub(crate) fn failed(failure: &PluginFailure) -> Self {
        EndpointResponse::host_text(failure.status(), failure.to_string(), None)
    }

    /// What the request did, once the plugin has finished (after the body was read).
    pub fn stats(&self) -> Option<RequestStats> {
        self.stats
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers, as the plugin sent them.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Read the whole body as UTF-8 text; `Err` if the plugin failed midway.
    pub fn text(mut self) -> Result<String, PluginFailure> {
        let bytes = self.read_all()?;
        String::from_utf8(bytes)
            .map_err(|e| PluginFailure::Handler(format!("the body is not UTF-8: {e}")))
    }

    /// Read the whole body; `Err` if the plugin failed midway.
    pub fn bytes(mut self) -> Result<Vec<u8>, PluginFailure> {
        self.read_all()
    }

    /// Read the rest of the body, keeping the response (and its stats) around.
    pub fn read_all(&mut self) -> Result<Vec<u8>, PluginFailure> {
        let mut body = Vec::new();
        for chunk in self.by_ref() {
            body.extend_from_slice(&chunk?);
        }
        Ok(body)
    }
}

impl Iterator for EndpointResponse {
    type Item = Result<Vec<u8>, PluginFailure>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(body) = self.failure_body.take() {
            return (!body.is_empty()).then_some(Ok(body));
        }
        let rx = self.rx.as_ref()?;
        let item = match response::next(rx.recv().ok()) {
            Body::Chunk(bytes) => return Some(Ok(bytes)),
            Body::End(result, stats) => {
                self.stats = stats.or(self.stats);
                result.err().map(Err)
            }
        };
        self.rx = None;
        item
    }
}
