//! HTTP requests into a plugin's endpoint and the streamed responses out of it: the types of
//! the library's request API.
//!
//! The plugin runs on its own thread and writes its response into a `ResponseSink`; the
//! caller reads an [`EndpointResponse`](crate::EndpointResponse) on the other side
//! of a bounded channel (`response.rs`). The bound is
//! the backpressure: a slow reader blocks the plugin's `write`, and the host never holds more
//! than a few chunks of the body. A reader that goes away closes the channel, the plugin's
//! next `write` answers `closed`, and its app streams are dropped, which cancels them.

use serde_json::Value;

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
    /// A tool's parameters are not what it takes: refused by the host's check against the
    /// tool's YAML, or by the tool (`invalid-parameters`).
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
    /// The plugin has no tool of that name; the text says which it has.
    #[error("no such tool: {0}")]
    UnknownTool(String),
    /// A tool provider's credentials were refused (`invalid-credentials`).
    #[error("invalid credentials: {0}")]
    InvalidCredentials(String),
    /// The handler returned `internal` (a tool, `failed`).
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
    /// The plugin ran past the request deadline (its own time, `Limits::deadline`).
    #[error("the plugin ran past its deadline of {0} ms")]
    Deadline(u64),
    /// The request ran past its wall time (`Limits::wall_time`), waits included.
    #[error("the request ran past its wall-time limit of {0} ms")]
    WallTime(u64),
    /// The plugin's response head is not one the host sends (a status outside 200-599, too
    /// many or too large headers, an invalid header).
    #[error("the plugin's response head was refused: {0}")]
    BadHead(String),
    /// The host or the plugin has as many requests in flight as it takes; try again later.
    #[error("busy: {0}")]
    Busy(String),
    /// The host could not start the plugin.
    #[error("the host could not run the plugin: {0}")]
    Host(String),
}

impl PluginFailure {
    /// The status a failure gets when no head was sent yet.
    pub fn status(&self) -> u16 {
        match self {
            PluginFailure::BadRequest(_)
            | PluginFailure::InvalidParameters(_)
            | PluginFailure::InvalidCredentials(_) => 400,
            PluginFailure::UnknownTool(_) => 404,
            PluginFailure::Deadline(_) | PluginFailure::WallTime(_) => 504,
            PluginFailure::Busy(_) => 503,
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
