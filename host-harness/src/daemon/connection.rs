//! One connection to the daemon, after registration: the same protocol over TCP (remote
//! debugging) and over stdin/stdout (the daemon's local runtime).
//!
//! The reading thread reads the daemon's lines (`lines.rs`), or, while it sleeps, a call
//! waiting for its answer does, so that the answer reaches the plugin without a thread
//! hand-off (a wake-up costs 25 to 30 µs on a virtual machine, more than the rest of the
//! round trip). Either way the lines are handled in the order they came, under one lock.
//! A `request` starts a session: an endpoint's raw HTTP request is parsed and routed, a
//! tool's parameters checked against its YAML, and the call admitted and run in a fresh
//! instance like any other (same limits, same isolation), its answer written back as `stream`
//! chunks (an endpoint's head and body, a tool's messages), and its app calls sent as
//! backwards invocations of that session (`backend/daemon.rs`). A `backwards_response` is
//! handed to the call waiting for its id. A line that is not JSON or lacks a field is logged
//! and skipped: the connection survives it. Heartbeats come from a
//! timer thread of their own, whatever the plugins are doing.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::declaration::ToolProvider;
use super::lines::{self, Lines, Next, Source};
use super::protocol::{self, BackwardsResponse, Inbound};
use super::raw_http;
use crate::backend::daemon::{DaemonBackend, Link, Mailbox};
use crate::budget::waiting;
use crate::endpoint::PluginFailure;
use crate::response::{Message, Outbox};
use crate::runtime::{Job, Plugin, spin_briefly};
use crate::tool::ToolRequest;

/// How often a heartbeat is sent (the Python SDK's interval; the daemon's limit is 60 s).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// The most body bytes in one `result` chunk: 2 MiB of hex, well below the 5 MiB line limit
/// of the daemon's local runtime.
const MAX_RESULT: usize = 1 << 20;
/// How long lines may wait unread after the last call reading them got its answer, while its
/// plugin runs on (it may call again at once; a session that ends wakes the reading thread).
const HANDOFF: Duration = Duration::from_micros(100);
/// How long the daemon may stay silent on one backwards invocation (the Python SDK's 250 s).
const INVOCATION_IDLE: Duration = Duration::from_secs(250);

/// Writes whole messages to the daemon, one at a time, from any thread.
pub(crate) struct Writer {
    out: Mutex<Box<dyn Write + Send>>,
    closed: AtomicBool,
}

impl Writer {
    pub(crate) fn new(out: Box<dyn Write + Send>) -> Arc<Self> {
        Arc::new(Writer {
            out: Mutex::new(out),
            closed: AtomicBool::new(false),
        })
    }

    /// Write one message and flush it.
    pub(crate) fn send(&self, message: &Value) -> std::io::Result<()> {
        self.send_line(&protocol::line(message))
    }

    /// Write one framed line and flush it.
    pub(crate) fn send_line(&self, line: &[u8]) -> std::io::Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let written = out.write_all(line).and_then(|()| out.flush());
        if written.is_err() {
            self.closed.store(true, Ordering::Relaxed);
        }
        written
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

/// A connection's state shared by its sessions.
pub(crate) struct Shared {
    writer: Arc<Writer>,
    /// Backwards invocations waiting for answers, by id.
    waiting: Mutex<HashMap<String, Arc<Mailbox>>>,
    /// The daemon's lines. Whoever holds them reads and handles them, in order: the reading
    /// thread, or a call waiting for its answer ([`Link::pump`]).
    lines: Mutex<Lines>,
    /// What the connection serves, for whichever thread handles a line.
    plugin: Plugin,
    tools: Option<ToolProvider>,
    /// This, for the sessions' backends.
    me: Weak<Shared>,
    /// The reading thread waits for the connection to be readable: a waiting call reads.
    reader_asleep: AtomicBool,
    /// How many calls are polling for their answers, reading the lines themselves
    /// meanwhile ([`Link::start_reading`]); the reading thread sleeps while any do.
    calls_reading: AtomicUsize,
    /// The reading thread, to wake when the last of them stops.
    reader: std::thread::Thread,
}

impl Shared {
    fn waiting(&self) -> MutexGuard<'_, HashMap<String, Arc<Mailbox>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn served(&self) -> Served<'_> {
        Served {
            plugin: &self.plugin,
            tools: self.tools.as_ref(),
        }
    }

    /// Handle every line that can be had without waiting, with the lines held (`lines`), so
    /// that they are handled in the order they came whichever thread reads them.
    fn handle_ready(&self, lines: &mut Lines) -> std::io::Result<Ready> {
        let mut handled = false;
        loop {
            match lines.next()? {
                Next::Line(line) => {
                    handled = true;
                    on_line(self.served(), self, line);
                }
                Next::Empty if handled => return Ok(Ready::Handled),
                Next::Empty => return Ok(Ready::Nothing),
                Next::Ended => return Ok(Ready::Ended),
            }
        }
    }
}

/// What [`Shared::handle_ready`] found.
enum Ready {
    Handled,
    Nothing,
    Ended,
}

impl Link for Shared {
    fn listen(&self, id: &str) -> Arc<Mailbox> {
        let mailbox = Arc::new(Mailbox::default());
        self.waiting().insert(id.to_owned(), mailbox.clone());
        mailbox
    }

    fn forget(&self, id: &str) {
        self.waiting().remove(id);
    }

    fn invoke(&self, session_id: &str, message: &[u8]) -> Result<(), String> {
        let line = protocol::session_line(session_id, "invoke", message);
        waiting(|_| self.writer.send_line(&line)).map_err(|e| e.to_string())
    }

    fn start_reading(&self) {
        self.calls_reading.fetch_add(1, Ordering::AcqRel);
    }

    fn stop_reading(&self, answered: bool) {
        let last = self.calls_reading.fetch_sub(1, Ordering::AcqRel) == 1;
        if last && !answered {
            self.reader.unpark();
        }
    }

    fn wake_reader(&self) {
        if self.calls_reading.load(Ordering::Acquire) == 0 {
            self.reader.unpark();
        }
    }

    fn pump(&self) {
        // While the reading thread is at work (a stream's lines keep coming), it delivers
        // them, and the plugin's thread runs the plugin meanwhile: two threads in step. Only
        // while it sleeps does this thread read, rather than wait for it to wake.
        if !self.reader_asleep.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut lines) = self.lines.try_lock() else {
            return;
        };
        if let Err(e) = self.handle_ready(&mut lines) {
            // The reading thread meets the same error on its next read, and ends the
            // connection.
            log::debug!(target: "dify_plugin_host::daemon", "reading the daemon's lines: {e}");
        }
    }
}

/// What a connection serves: the plugin, and its tool provider's declaration (the tools'
/// parameters are checked against it).
#[derive(Clone, Copy)]
pub(crate) struct Served<'a> {
    pub plugin: &'a Plugin,
    pub tools: Option<&'a ToolProvider>,
}

/// Serve a plugin on a registered connection: read the daemon's lines from `source` until it
/// ends, answering through `writer`. Returns when the daemon closes the connection (or it
/// breaks); every session still open then sees its calls fail and its writes refused.
///
/// The reading thread waits for the connection to be readable without holding its lines,
/// then handles what came. While a call polls for its answer, it reads the lines itself
/// ([`Link::pump`]) and this thread sleeps, not on the connection: one thread, not two,
/// between the daemon's answer and the plugin, and no wake-up on the way. A call that has its
/// answer does not wake it (its plugin may call again at once); it comes back within
/// [`HANDOFF`], or at once when a call goes to sleep or a session ends. Otherwise it polls
/// for up to 50 µs ([`spin_briefly`]) before it sleeps: on a virtual machine, waking a
/// thread asleep costs 25 to 30 µs, and a plugin's next request or call usually comes
/// sooner. An idle connection costs those 50 µs once, after its last line.
pub(crate) fn serve(
    served: Served<'_>,
    source: impl Source + 'static,
    writer: Arc<Writer>,
) -> std::io::Result<()> {
    let lines = Lines::new(Box::new(source));
    let fd = lines.source_fd()?;
    let shared = Arc::new_cyclic(|me| Shared {
        writer: writer.clone(),
        waiting: Mutex::new(HashMap::new()),
        lines: Mutex::new(lines),
        plugin: served.plugin.clone(),
        tools: served.tools.cloned(),
        me: me.clone(),
        reader_asleep: AtomicBool::new(false),
        calls_reading: AtomicUsize::new(0),
        reader: std::thread::current(),
    });
    let heartbeat = start_heartbeat(writer.clone());
    let ended = loop {
        let ready = {
            let mut lines = shared.lines.lock().unwrap_or_else(|p| p.into_inner());
            shared.handle_ready(&mut lines)
        };
        match ready {
            Ok(Ready::Ended) => break Ok(()),
            Err(e) => break Err(e),
            Ok(Ready::Handled) => {}
            Ok(Ready::Nothing) => {
                let calls_read = || shared.calls_reading.load(Ordering::Acquire) > 0;
                spin_briefly(|| {
                    (lines::readable(&fd, Some(&lines::NOW)) || calls_read()).then_some(())
                });
                shared.reader_asleep.store(true, Ordering::Release);
                if calls_read() {
                    // Not asleep on the connection, which would wake this thread at every
                    // line, nor woken when the call has its answer, which costs the call more
                    // than the rest of its round trip: back within HANDOFF, or when a call
                    // must sleep or a session ends ([`Link::wake_reader`]).
                    while calls_read() {
                        std::thread::park_timeout(HANDOFF);
                    }
                } else {
                    lines::readable(&fd, None);
                }
                shared.reader_asleep.store(false, Ordering::Release);
            }
        }
    };
    writer.close();
    heartbeat.store(true, Ordering::Relaxed);
    shared
        .lines
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .close();
    // Every call still waiting sees the connection close.
    for (_, mailbox) in shared.waiting().drain() {
        mailbox.close();
    }
    ended
}

/// A thread that sends a heartbeat every [`HEARTBEAT_INTERVAL`] until the returned flag is
/// set or the connection closes; the first one goes out at once (it marks a local runtime
/// ready).
fn start_heartbeat(writer: Arc<Writer>) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let _ = std::thread::Builder::new()
        .name("dify-daemon-heartbeat".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) && !writer.is_closed() {
                if writer.send(&protocol::heartbeat()).is_err() {
                    return;
                }
                let mut slept = Duration::ZERO;
                while slept < HEARTBEAT_INTERVAL && !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    slept += Duration::from_millis(100);
                }
            }
        });
    stop
}

fn on_line(served: Served<'_>, shared: &Shared, line: &[u8]) {
    let text = line.trim_ascii();
    if text.is_empty() {
        return;
    }
    // Checked as UTF-8 once, not string by string as `from_slice` would.
    let parsed = std::str::from_utf8(text)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str::<Inbound<'_>>(text).map_err(|e| e.to_string()));
    let inbound = match parsed {
        Ok(inbound) => inbound,
        Err(e) => {
            let excerpt: String = String::from_utf8_lossy(text).chars().take(200).collect();
            log::warn!(target: "dify_plugin_host::daemon", "skipping a daemon line that is not the protocol's JSON ({e}): {excerpt}");
            return;
        }
    };
    match &*inbound.event {
        "backwards_response" => on_backwards_response(shared, inbound.data),
        "request" => match serde_json::from_slice::<protocol::RequestLine<'_>>(text) {
            Ok(protocol::RequestLine {
                session_id: Some(session_id),
                data: Some(data),
            }) => {
                let request = serde_json::from_str(data.get());
                on_request(served, shared, session_id, request);
            }
            _ => {
                log::warn!(target: "dify_plugin_host::daemon", "skipping a request without a session_id or data")
            }
        },
        other => {
            log::warn!(target: "dify_plugin_host::daemon", "skipping a daemon line with event {other:?}")
        }
    }
}

fn on_backwards_response(shared: &Shared, response: BackwardsResponse<'_>) {
    if response.backwards_request_id.is_empty() {
        log::warn!(target: "dify_plugin_host::daemon", "skipping a backwards_response without a backwards_request_id");
        return;
    }
    if !matches!(&*response.event, "response" | "error" | "end") {
        log::warn!(target: "dify_plugin_host::daemon", "skipping a backwards_response with event {:?}", response.event);
        return;
    }
    let mut waiting = shared.waiting();
    let Some(mailbox) = waiting.get(&*response.backwards_request_id) else {
        // A dropped stream's answers: discarded, as documented.
        return;
    };
    match (&*response.event, response.data) {
        ("response", Some(data)) => mailbox.response(data.get()),
        ("error", _) => mailbox.error(response.message.into_owned()),
        // The end, or a `response` without data, which can only be one.
        _ => {
            mailbox.end();
            waiting.remove(&*response.backwards_request_id);
        }
    }
}

fn on_request(
    served: Served<'_>,
    shared: &Shared,
    session_id: String,
    request: serde_json::Result<protocol::Request>,
) {
    let request = match request {
        Ok(request) if request.kind == "tool" => {
            return on_tool_request(served, shared, session_id, request);
        }
        Ok(request) if request.kind != "endpoint" && !request.kind.is_empty() => {
            let mut outbox =
                ToolOutbox::new(session_id, shared.writer.clone(), ToolAnswer::Messages);
            outbox.fail(
                "NotSupportedError",
                &format!(
                    "this plugin answers endpoint and tool requests; the daemon asked for {}/{}",
                    request.kind, request.action
                ),
            );
            return;
        }
        other => other,
    };
    let plugin = served.plugin;
    let mut outbox = SessionOutbox::new(session_id.clone(), shared.writer.clone());
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            log::warn!(target: "dify_plugin_host::daemon", "session {session_id}: a request that does not parse: {e}");
            outbox.refuse(
                400,
                &format!("the daemon's request does not parse: {e}"),
                None,
            );
            return;
        }
    };
    if request.action != "invoke_endpoint" {
        outbox.fail_before_head(&PluginFailure::Host(format!(
            "this plugin's endpoints answer invoke_endpoint; the daemon asked for {:?}",
            request.action
        )));
        return;
    }
    let limits = &plugin.config().limits;
    let mut endpoint_request =
        match raw_http::parse(&request.raw_http_request, limits.request_bytes) {
            Ok(parsed) => parsed,
            Err(refused) => return outbox.refuse(refused.status, &refused.text, None),
        };
    if request.settings.is_object() {
        endpoint_request.settings = request.settings;
    }
    let mut routed = match plugin.route(endpoint_request) {
        Ok(routed) => routed,
        Err(refusal) => {
            let allow = refusal.allow.as_deref().map(|a| ("Allow", a));
            return outbox.refuse(refusal.status, &refusal.text, allow);
        }
    };
    routed.set_backend(session_backend(shared, &session_id));
    // Admission may wait in the queue: not on the reading thread, which must go on reading
    // (the backwards responses of the sessions already running).
    plugin.dispatch(routed, Box::new(outbox));
}

/// Where the app calls of session `session_id` go: backwards invocations on this connection.
fn session_backend(shared: &Shared, session_id: &str) -> Arc<DaemonBackend> {
    // `shared` is alive (it is handling this line), so the upgrade cannot fail.
    let link: Arc<dyn Link> = shared.me.upgrade().expect("the connection is alive");
    Arc::new(DaemonBackend::new(link, session_id, INVOCATION_IDLE))
}

/// A `tool` request: `invoke_tool` or `validate_tool_credentials`, for this plugin's provider.
/// A tool's parameters are checked against its YAML first, as Dify's Python SDK leaves to
/// Dify: a missing or mistyped one is an error naming it, and the plugin is not run.
fn on_tool_request(
    served: Served<'_>,
    shared: &Shared,
    session_id: String,
    request: protocol::Request,
) {
    let answer = match request.action.as_str() {
        "validate_tool_credentials" => ToolAnswer::Validation,
        _ => ToolAnswer::Messages,
    };
    let mut outbox = ToolOutbox::new(session_id.clone(), shared.writer.clone(), answer);
    let Some(provider) = served.tools else {
        return outbox.fail(
            "NotSupportedError",
            "this plugin has no tools (its manifest.yaml lists no plugins.tools)",
        );
    };
    if request.provider != provider.name {
        return outbox.fail(
            "ValueError",
            &format!(
                "Provider `{}` not found: this plugin's provider is `{}`",
                request.provider, provider.name
            ),
        );
    }
    let backend = Some(session_backend(shared, &session_id) as Arc<dyn crate::backend::Backend>);
    let credentials = request.credentials.unwrap_or_default();
    let job = match request.action.as_str() {
        "validate_tool_credentials" => Job::Credentials(credentials, backend),
        "invoke_tool" => {
            let checked = match provider.tool(&request.tool) {
                Some(tool) => tool.check_parameters(&request.tool_parameters.unwrap_or_default()),
                None => {
                    // `check_tools` at load made the declared tools the plugin's own.
                    let failure = served.plugin.known_tool(&request.tool).err();
                    let failure = failure.unwrap_or_else(|| {
                        PluginFailure::UnknownTool(format!("'{}' is not declared", request.tool))
                    });
                    return outbox.fail(error_type(&failure), &error_message(&failure));
                }
            };
            let parameters = match checked {
                Ok(parameters) => parameters,
                Err(problems) => {
                    let failure = PluginFailure::InvalidParameters(problems.join("; "));
                    return outbox.fail(error_type(&failure), &error_message(&failure));
                }
            };
            let call = ToolRequest {
                tool: request.tool,
                parameters,
                credentials,
                credential_type: request.credential_type.unwrap_or_else(|| "api-key".into()),
                user_id: request.user_id.unwrap_or_default(),
            };
            Job::Tool(call, backend)
        }
        other => {
            return outbox.fail(
                "NotSupportedError",
                &format!(
                    "this host answers the tool actions invoke_tool and validate_tool_credentials; \
                     the daemon asked for {other}"
                ),
            );
        }
    };
    served.plugin.dispatch(job, Box::new(outbox));
}

/// The `error_type` the daemon gets for a failure (Dify shows it as "error type: …"): the
/// Python SDK's exception names where it has one.
fn error_type(failure: &PluginFailure) -> &'static str {
    match failure {
        PluginFailure::InvalidParameters(_) => "ToolParameterValidationError",
        PluginFailure::UnknownTool(_) => "ValueError",
        PluginFailure::InvalidCredentials(_) => "ToolProviderCredentialValidationError",
        PluginFailure::Handler(_) => "ToolInvokeError",
        _ => "PluginFailure",
    }
}

/// The `message` of a tool's failure: the plugin's own text where it gave one (its kind is
/// the `error_type`), as a Python tool's exception text is; the host's description otherwise.
fn error_message(failure: &PluginFailure) -> String {
    match failure {
        PluginFailure::InvalidParameters(text)
        | PluginFailure::InvalidCredentials(text)
        | PluginFailure::UnknownTool(text)
        | PluginFailure::Handler(text) => text.clone(),
        other => other.to_string(),
    }
}

/// What a tool session answers with.
#[derive(Clone, Copy, PartialEq)]
enum ToolAnswer {
    /// The tool's messages, each one `stream`.
    Messages,
    /// One `stream` of `{"result": true}` when the provider accepts the credentials.
    Validation,
}

/// Where a tool session's answer goes: each message as a `stream`, then `end`; a failure as
/// `error` then `end`, the Python SDK's shapes (`{"error_type", "message", "args"}`). Dropped
/// without an end (a host failure), it ends the session with an error.
struct ToolOutbox {
    session_id: String,
    writer: Arc<Writer>,
    answer: ToolAnswer,
    ended: bool,
}

impl ToolOutbox {
    fn new(session_id: String, writer: Arc<Writer>, answer: ToolAnswer) -> Self {
        ToolOutbox {
            session_id,
            writer,
            answer,
            ended: false,
        }
    }

    fn write(&self, kind: &str, data: Value) -> Result<(), ()> {
        let message = protocol::session(&self.session_id, kind, data);
        waiting(|_| self.writer.send(&message)).map_err(drop)
    }

    fn fail(&mut self, error_type: &str, message: &str) {
        self.ended = true;
        let error = json!({"error_type": error_type, "message": message, "args": {}});
        let _ = self.write("error", error);
        let _ = self.write("end", json!({}));
    }
}

impl Outbox for ToolOutbox {
    fn send(&mut self, message: Message) -> Result<(), ()> {
        if self.ended {
            return Err(());
        }
        match message {
            // A tool call has no head.
            Message::Head(..) => Ok(()),
            // One message, JSON `guest/messages.rs` wrote.
            Message::Chunk(bytes) => {
                let line = protocol::session_line(&self.session_id, "stream", &bytes);
                waiting(|_| self.writer.send_line(&line)).map_err(drop)
            }
            Message::End(Ok(()), _) => {
                if self.answer == ToolAnswer::Validation {
                    self.write("stream", json!({"result": true}))?;
                }
                self.ended = true;
                self.write("end", json!({}))
            }
            Message::End(Err(failure), _) => {
                self.fail(error_type(&failure), &error_message(&failure));
                Ok(())
            }
        }
    }
}

impl Drop for ToolOutbox {
    fn drop(&mut self) {
        if !self.ended {
            self.fail(
                "PluginFailure",
                "the host dropped the request without an answer",
            );
        }
    }
}

/// Where a session's response goes: `stream` chunks, then `end` (or `error` and `end`), as the
/// daemon accepts them (daemon-protocol.md §2.6): the head as `status` and string-valued
/// `headers`, then the body as hex `result`s of at most [`MAX_RESULT`] bytes. Dropped without
/// an end (a host failure), it ends the session with an error rather than leave the daemon's
/// caller waiting.
///
/// The head is held until the first body bytes or the end, and goes out with them. The
/// daemon itself answers its caller only when a body chunk comes (a session error after a
/// bare head becomes its generic 500), so holding it costs nothing, and a plugin that fails
/// before writing any body (an app call refused after it set its head) reaches the caller
/// with the failure's own status and text, as under `serve`.
struct SessionOutbox {
    session_id: String,
    writer: Arc<Writer>,
    /// The plugin's head, not yet written.
    head: Option<Value>,
    /// Whether a head was written: after it, a failure can only cut the body.
    head_sent: bool,
    ended: bool,
}

impl SessionOutbox {
    fn new(session_id: String, writer: Arc<Writer>) -> Self {
        SessionOutbox {
            session_id,
            writer,
            head: None,
            head_sent: false,
            ended: false,
        }
    }

    fn write(&self, kind: &str, data: Value) -> Result<(), ()> {
        let message = protocol::session(&self.session_id, kind, data);
        // A daemon that reads slowly is a slow client: the wait is not the plugin's time.
        waiting(|_| self.writer.send(&message)).map_err(drop)
    }

    /// A `stream` chunk: the held head, if any, then `result` (hex) if not empty.
    fn write_stream(&mut self, result: &[u8]) -> Result<(), ()> {
        let mut data = self.head.take().unwrap_or_else(|| json!({}));
        if !result.is_empty() {
            data["result"] = json!(hex::encode(result));
        }
        self.head_sent = true;
        self.write("stream", data)
    }

    /// A whole answer from the host, before any head: status, text, then `end`.
    fn refuse(&mut self, status: u16, text: &str, extra: Option<(&str, &str)>) {
        let mut headers = Map::new();
        headers.insert("Content-Type".into(), json!("text/plain; charset=utf-8"));
        if let Some((name, value)) = extra {
            headers.insert(name.into(), json!(value));
        }
        self.head = Some(json!({"status": status, "headers": headers}));
        let _ = self.write_stream(text.as_bytes());
        self.ended = true;
        let _ = self.write("end", json!({}));
    }

    /// A failure before any of the plugin's head was written: the failure's status and text.
    fn fail_before_head(&mut self, failure: &PluginFailure) {
        self.head = None;
        let retry = matches!(failure, PluginFailure::Busy(_)).then_some(("Retry-After", "1"));
        self.refuse(failure.status(), &failure.to_string(), retry);
    }

    /// A failure after the head: the daemon's caller gets a cut body.
    fn fail_after_head(&mut self, failure: &PluginFailure) {
        self.ended = true;
        let error =
            json!({"error_type": "PluginFailure", "message": failure.to_string(), "args": {}});
        let _ = self.write("error", error);
        let _ = self.write("end", json!({}));
    }
}

/// The plugin's headers as the daemon takes them: one string per name (repeated names joined
/// with `, `, as HTTP allows for all but `Set-Cookie`, whose last value is kept).
fn headers(pairs: Vec<(String, String)>) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in pairs {
        let joined = match map.get(&name).and_then(Value::as_str) {
            Some(before) if !name.eq_ignore_ascii_case("set-cookie") => {
                format!("{before}, {value}")
            }
            _ => value,
        };
        map.insert(name, json!(joined));
    }
    map
}

impl Outbox for SessionOutbox {
    fn send(&mut self, message: Message) -> Result<(), ()> {
        if self.ended {
            return Err(());
        }
        match message {
            Message::Head(status, pairs) => {
                self.head = Some(json!({"status": status, "headers": headers(pairs)}));
                Ok(())
            }
            Message::Chunk(bytes) => {
                for piece in bytes.chunks(MAX_RESULT) {
                    self.write_stream(piece)?;
                }
                Ok(())
            }
            Message::End(Ok(()), _) if !self.head_sent && self.head.is_none() => {
                self.refuse(200, "", None);
                Ok(())
            }
            Message::End(Ok(()), _) => {
                if self.head.is_some() {
                    self.write_stream(&[])?;
                }
                self.ended = true;
                self.write("end", json!({}))
            }
            Message::End(Err(failure), _) if !self.head_sent => {
                self.fail_before_head(&failure);
                Ok(())
            }
            Message::End(Err(failure), _) => {
                self.fail_after_head(&failure);
                Ok(())
            }
        }
    }
}

impl Drop for SessionOutbox {
    fn drop(&mut self) {
        if !self.ended {
            let failure =
                PluginFailure::Host("the host dropped the request without an answer".into());
            if self.head_sent {
                self.fail_after_head(&failure);
            } else {
                self.fail_before_head(&failure);
            }
        }
    }
}
