//! A test double of Dify's plugin daemon 0.6.10, as daemon-protocol.md §2.2-2.8 and
//! dify-wire.md §2 and §5.3-5.6 derive it: the remote-debug port (registration checked with the
//! daemon's rules and refused with its words, heartbeats, sessions) and the local runtime (a
//! plugin process spoken to on stdin and stdout). Endpoint requests go in as the daemon writes
//! them; the plugin's chunks come back per session and are assembled into the HTTP answer as
//! the daemon relays it; `app` backwards invocations are answered from a [`MockDify`].
//! Every line to the plugin is encoded as Go's `encoding/json` does ([`go_json`]).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use dify_plugin_host::backend::Reply;
use dify_plugin_host::mock::{AppMode, MockDify};
use dify_plugin_host::{
    AppError, AppKind, AppRequest, Backend, CallContext, DifyError, ResponseMode,
};
use serde_json::{Value, json};

/// The daemon closes a connection that has not sent its handshake within this.
const HANDSHAKE_WINDOW: Duration = Duration::from_secs(10);
/// The daemon's cap on the assets of one registration.
const MAX_ASSETS: usize = 50 << 20;
/// The hook id of every request (the endpoint's id in Dify's URL `/e/<hook_id>/...`).
pub const HOOK_ID: &str = "hook1";
/// The `endpoint_id` of every request line.
pub const ENDPOINT_ID: &str = "ep-1";

// ---------------------------------------------------------------------------------------------
// Go's encoding/json

/// `v` as Go's `encoding/json` writes a decoded `interface{}`: object keys sorted (byte order),
/// numbers through `float64` (integral values without `.0`, `e` notation outside
/// [1e-6, 1e21)), `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u…`.
pub fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go(v, &mut out);
    out
}

fn write_go(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(key, out);
                out.push(':');
                write_go(&map[key], out);
            }
            out.push('}');
        }
    }
}

fn go_number(f: f64) -> String {
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return format!("{f}");
    }
    // strconv's 'e' format, as encoding/json cleans it: 1e+21, 1e-7.
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').expect("an exponent");
    let exp: i32 = exp.parse().expect("a number");
    format!(
        "{mantissa}e{}{}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A daemon → plugin line (`pluginInStreamMessage`, its struct order), `data` already encoded.
fn daemon_line(session_id: &str, event: &str, data: &str) -> String {
    format!(
        "{{\"session_id\":{},\"conversation_id\":null,\"message_id\":null,\"app_id\":null,\
         \"endpoint_id\":{},\"context\":null,\"event\":{},\"data\":{data}}}",
        go_json(&json!(session_id)),
        go_json(&json!(ENDPOINT_ID)),
        go_json(&json!(event)),
    )
}

/// A `backwards_response` line (`BackwardsInvocationResponseEvent`, its struct order).
fn backwards_line(session_id: &str, id: &str, event: &str, message: &str, data: &Value) -> String {
    let data = format!(
        "{{\"backwards_request_id\":{},\"event\":{},\"message\":{},\"data\":{}}}",
        go_json(&json!(id)),
        go_json(&json!(event)),
        go_json(&json!(message)),
        go_json(data)
    );
    daemon_line(session_id, "backwards_response", &data)
}

// ---------------------------------------------------------------------------------------------
// The raw HTTP request

/// Go's `CanonicalMIMEHeaderKey`: `content-type` → `Content-Type`.
pub fn canonical(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let c = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            c
        })
        .collect()
}

/// The request as the daemon serializes it for the plugin (dify-wire.md §5.3, Go's
/// `Request.Write` after `copyRequest`), for hook [`HOOK_ID`].
pub fn raw_request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    raw_request_for(HOOK_ID, method, target, headers, body)
}

/// [`raw_request`] for another hook id. The query keeps its escaping; its pairs are sorted by
/// key (`url.Values.Encode` would also re-escape the values).
pub fn raw_request_for(
    hook: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    const DROPPED: [&str; 8] = [
        "X-Forwarded-For",
        "X-Real-Ip",
        "X-Forwarded",
        "X-Original-Forwarded-For",
        "X-Original-Url",
        "X-Original-Host",
        "Content-Length",
        "Transfer-Encoding",
    ];
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_by_key(|p| p.split('=').next().unwrap_or(""));
    let target = if pairs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", pairs.join("&"))
    };
    let mut host = "localhost".to_owned();
    let mut agent = "Go-http-client/1.1".to_owned();
    let mut rest: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = canonical(name);
        match name.as_str() {
            "Host" => host = (*value).to_owned(),
            "User-Agent" => agent = (*value).to_owned(),
            n if DROPPED.contains(&n) => {}
            _ => rest.push((name, (*value).to_owned())),
        }
    }
    if !rest.iter().any(|(n, _)| n == "Dify-Hook-Url") {
        rest.push((
            "Dify-Hook-Url".into(),
            format!("http://{host}/e/{hook}{path}"),
        ));
    }
    rest.push(("Dify-Hook-Id".into(), hook.to_owned()));
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\n");
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in rest {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

// ---------------------------------------------------------------------------------------------
// Registration rules (daemon-protocol.md §2.3, §2.4)

fn charset_ok(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$`, the suffix only if `suffix`.
fn version_ok(s: &str, suffix: bool) -> bool {
    let (numbers, tail) = match s.split_once('-') {
        Some((n, t)) if suffix => (n, Some(t)),
        Some(_) => return false,
        None => (s, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && tail.is_none_or(|t| {
            (1..=16).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// RFC 3339: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn rfc3339_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !(digits(0..4) && digits(5..7) && digits(8..10) && digits(11..13))
        || !(digits(14..16) && digits(17..19))
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    path.split('.')
        .fold(v, |v, key| &v[key])
        .as_str()
        .unwrap_or("")
}

/// The manifest rules; `Err` names the field and the rule.
pub fn check_manifest(m: &Value) -> Result<(), String> {
    let fail =
        |field: &str, rule: &str, value: &Value| Err(format!("{field}: {rule} (got {value})"));
    let at = |path: &str| path.split('.').fold(m, |v, key| &v[key]).clone();
    if !version_ok(text(m, "version"), true) {
        return fail(
            "version",
            r"must match ^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$",
            &at("version"),
        );
    }
    if text(m, "type") != "plugin" {
        return fail("type", "must be plugin", &at("type"));
    }
    if !charset_ok(text(m, "author"), 64) {
        return fail("author", "must match ^[a-z0-9_-]{1,64}$", &at("author"));
    }
    if !charset_ok(text(m, "name"), 128) {
        return fail("name", "must match ^[a-z0-9_-]{1,128}$", &at("name"));
    }
    for field in ["label.en_US", "description.en_US"] {
        if !(1..1024).contains(&text(m, field).len()) {
            return fail(field, "required, fewer than 1024 characters", &at(field));
        }
    }
    if !(1..=128).contains(&text(m, "icon").len()) {
        return fail("icon", "required, at most 128 characters", &at("icon"));
    }
    if !m["icon_dark"].is_null() && !(1..=128).contains(&text(m, "icon_dark").len()) {
        return fail("icon_dark", "at most 128 characters", &at("icon_dark"));
    }
    if m["resource"]["memory"].as_i64().unwrap_or(0) == 0 {
        return fail(
            "resource.memory",
            "required, a non-zero integer",
            &at("resource.memory"),
        );
    }
    if !version_ok(text(m, "meta.version"), false) {
        return fail("meta.version", "required, x.y.z", &at("meta.version"));
    }
    let arch_ok = m["meta"]["arch"].as_array().is_some_and(|a| {
        a.iter()
            .all(|x| matches!(x.as_str(), Some("amd64" | "arm64")))
    });
    if !arch_ok {
        return fail("meta.arch", "a list of amd64, arm64", &at("meta.arch"));
    }
    if text(m, "meta.runner.language") != "python" {
        return fail(
            "meta.runner.language",
            "is_available_language: only python",
            &at("meta.runner.language"),
        );
    }
    for (field, max) in [
        ("meta.runner.version", 128),
        ("meta.runner.entrypoint", 256),
    ] {
        if !(1..=max).contains(&text(m, field).len()) {
            return fail(field, "required", &at(field));
        }
    }
    let created = text(m, "created_at");
    if !rfc3339_ok(created) || created.starts_with("0001-01-01T00:00:00") {
        return fail(
            "created_at",
            "required, an RFC 3339 time",
            &at("created_at"),
        );
    }
    Ok(())
}

/// The endpoint group rules (one element of `endpoint_declaration` data).
pub fn check_endpoint_group(group: &Value) -> Result<(), String> {
    const TYPES: [&str; 7] = [
        "secret-input",
        "text-input",
        "select",
        "boolean",
        "app-selector",
        "model-selector",
        "array[tools]",
    ];
    if !group.is_object() {
        return Err("the group is not an object".into());
    }
    for setting in group["settings"].as_array().into_iter().flatten() {
        if !TYPES.contains(&text(setting, "type")) {
            return Err(format!(
                "settings: type {} is not accepted",
                setting["type"]
            ));
        }
        if text(setting, "label.en_US").is_empty() {
            return Err(format!("settings: label.en_US is required ({setting})"));
        }
    }
    for endpoint in group["endpoints"].as_array().into_iter().flatten() {
        if !endpoint.is_object() {
            // The daemon keeps such an element as a file name.
            continue;
        }
        if text(endpoint, "path").is_empty() {
            return Err(format!("endpoints: path is required ({endpoint})"));
        }
        let method = text(endpoint, "method");
        if !["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS"].contains(&method) {
            return Err(format!(
                "endpoints: method {method:?} is not one of HEAD GET POST PUT DELETE OPTIONS"
            ));
        }
    }
    Ok(())
}

/// `^[a-zA-Z0-9_-]+$`: the daemon's tool and provider names (`tool_declaration.go`).
fn tool_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The tool parameter types and forms the daemon accepts (`tool_declaration.go` L35-99).
const PARAMETER_TYPES: [&str; 16] = [
    "string",
    "number",
    "boolean",
    "select",
    "secret-input",
    "file",
    "files",
    "app-selector",
    "model-selector",
    "any",
    "dynamic-select",
    "array",
    "object",
    "checkbox",
    "date",
    "date-range",
];

/// The JSON types of a tool object's fields: a mismatch is a decode error, and the daemon then
/// drops the tool without a word (`tool_declaration.go` L357-365).
fn tool_decodes(tool: &Value) -> bool {
    let is = |v: &Value, ok: fn(&Value) -> bool| v.is_null() || ok(v);
    tool.is_object()
        && is(&tool["parameters"], Value::is_array)
        && is(&tool["output_schema"], Value::is_object)
        && is(&tool["has_runtime_parameters"], Value::is_boolean)
        && tool["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|p| {
                is(&p["min"], Value::is_number)
                    && is(&p["max"], Value::is_number)
                    && is(&p["required"], Value::is_boolean)
                    && is(&p["options"], Value::is_array)
            })
}

/// The tool provider rules (one element of `tool_declaration` data), as the daemon's
/// validator applies them in remote mode; the provider as the daemon keeps it (tools that do
/// not decode dropped).
pub fn check_tool_provider(provider: &Value) -> Result<Value, String> {
    if !provider.is_object() {
        return Err("the provider is not an object".into());
    }
    if provider.get("credentials_schema").is_none()
        && provider.get("credentials_for_provider").is_none()
    {
        return Err(
            "failed to unmarshal credentials_schema as array: unexpected end of JSON input".into(),
        );
    }
    for path in [
        "identity.author",
        "identity.icon",
        "identity.label.en_US",
        "identity.description.en_US",
    ] {
        if text(provider, path).is_empty() {
            return Err(format!("{path}: required"));
        }
    }
    if !tool_name_ok(text(provider, "identity.name")) {
        return Err(format!(
            "identity.name {}: tool_provider_identity_name",
            provider["identity"]["name"]
        ));
    }
    for config in provider["credentials_schema"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if text(config, "label.en_US").is_empty() {
            return Err(format!(
                "credentials_schema: label.en_US is required ({config})"
            ));
        }
    }
    let mut kept = provider.clone();
    let tools: Vec<Value> = provider["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| tool_decodes(t))
        .cloned()
        .collect();
    for tool in &tools {
        if text(tool, "identity.author").is_empty() || text(tool, "identity.label.en_US").is_empty()
        {
            return Err(format!(
                "tool identity: author and label.en_US are required ({})",
                tool["identity"]
            ));
        }
        if !tool_name_ok(text(tool, "identity.name")) {
            return Err(format!(
                "tool identity.name {}: tool_identity_name",
                tool["identity"]["name"]
            ));
        }
        if text(tool, "description.human.en_US").is_empty()
            || text(tool, "description.llm").is_empty()
        {
            return Err("tool description: human.en_US and llm are required".into());
        }
        for parameter in tool["parameters"].as_array().into_iter().flatten() {
            let name = text(parameter, "name");
            if name.is_empty()
                || text(parameter, "label.en_US").is_empty()
                || text(parameter, "human_description.en_US").is_empty()
            {
                return Err(format!(
                    "parameter {name:?}: name, label.en_US and human_description.en_US are required"
                ));
            }
            if !PARAMETER_TYPES.contains(&text(parameter, "type")) {
                return Err(format!(
                    "parameter {name}: type {} is not a tool_parameter_type",
                    parameter["type"]
                ));
            }
            if !["schema", "form", "llm"].contains(&text(parameter, "form")) {
                return Err(format!(
                    "parameter {name}: form {} is not a tool_parameter_form",
                    parameter["form"]
                ));
            }
        }
    }
    kept["tools"] = Value::Array(tools);
    Ok(kept)
}

/// The types of `ToolResponseChunk` (`tool_entities/tool.go` L12-23).
const CHUNK_TYPES: [&str; 12] = [
    "text",
    "file",
    "blob",
    "blob_chunk",
    "json",
    "link",
    "image",
    "image_link",
    "binary_link",
    "variable",
    "log",
    "retriever_resources",
];

/// Whether the daemon takes a tool's `stream` data: a known `type`, `message` and `meta`
/// objects or null; otherwise the request ends with `unmarshal_error`.
pub fn check_tool_chunk(chunk: &Value) -> Result<(), String> {
    if !CHUNK_TYPES.contains(&text(chunk, "type")) {
        return Err(format!(
            "is_valid_tool_response_chunk_type: {}",
            chunk["type"]
        ));
    }
    for field in ["message", "meta"] {
        if !(chunk[field].is_null() || chunk[field].is_object()) {
            return Err(format!("{field} is not an object: {}", chunk[field]));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// What tests see

/// An accepted registration.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub key: String,
    pub manifest: Value,
    /// `data[0]` of `endpoint_declaration`.
    pub endpoint_group: Value,
    /// `data[0]` of `tool_declaration`, as the daemon keeps it.
    pub tool_provider: Value,
    /// The assets by file name, chunks appended.
    pub assets: HashMap<String, Vec<u8>>,
    /// Every registration message, parsed, in order.
    pub messages: Vec<Value>,
}

/// What one session's message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stream,
    Invoke,
    Error,
    End,
}

/// One message of a session, in arrival order. `by_daemon` marks what the daemon itself ended
/// the session with (a malformed invoke, a closed connection).
#[derive(Debug, Clone)]
pub struct SessionMessage {
    pub kind: Kind,
    pub data: Value,
    pub at: Instant,
    pub by_daemon: bool,
}

/// A tool session's answer: its `stream` data in order, and its error, if any.
#[derive(Debug, Clone, Default)]
pub struct ToolAnswer {
    pub stream: Vec<Value>,
    pub error: Option<Value>,
}

/// The HTTP answer the daemon gives its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was cut: an error after it began, or a chunk the daemon cannot relay.
    pub cut: bool,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a test answers an invocation instead of the mock.
pub enum Backward {
    /// A `response` whose data is this.
    Response(Value),
    /// An `error` with this message.
    Error(String),
}

type InvokeAnswer = Arc<dyn Fn(&Value) -> Option<Vec<Backward>> + Send + Sync>;
type Out = Arc<Mutex<Box<dyn Write + Send>>>;

#[derive(Default)]
struct State {
    registrations: Vec<Registration>,
    refusals: Vec<String>,
    /// The declaration the running plugin registered with (its permissions).
    manifest: Value,
    out: Option<Out>,
    socket: Option<TcpStream>,
    heartbeats: Vec<Instant>,
    sessions: HashMap<String, (Sender<SessionMessage>, Out)>,
    invokes: Vec<Value>,
    logs: Vec<Value>,
    /// Plugin lines the daemon does not route: `error` events, unknown sessions, non-JSON.
    unrouted: Vec<String>,
    invoke_answer: Option<InvokeAnswer>,
    stderr: Vec<u8>,
}

struct Inner {
    keys: Vec<String>,
    mock: MockDify,
    tenant: String,
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
    ids: AtomicU64,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait until `done` holds, at most `timeout`; returns whether it does.
    fn wait(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let state = self.lock();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, |s| !done(s))
            .unwrap_or_else(|p| p.into_inner());
        done(&state)
    }

    fn new_id(&self) -> String {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        format!("{nanos:016x}{n:016x}")
    }

    fn session_open(&self, id: &str) -> bool {
        self.lock().sessions.contains_key(id)
    }

    /// End a session on the daemon's side: an error for its caller, then the end.
    fn fail_session(&self, id: &str, error: Value) {
        let Some((tx, _)) = self.lock().sessions.remove(id) else {
            return;
        };
        let at = Instant::now();
        for (kind, data) in [(Kind::Error, error), (Kind::End, json!({}))] {
            let _ = tx.send(SessionMessage {
                kind,
                data,
                at,
                by_daemon: true,
            });
        }
    }

    /// The plugin's connection ended: every session still open on it fails as the daemon's do.
    fn connection_closed(&self, out: &Out) {
        let open: Vec<String> = {
            let mut state = self.lock();
            if state.out.as_ref().is_some_and(|o| Arc::ptr_eq(o, out)) {
                state.out = None;
                state.socket = None;
            }
            state
                .sessions
                .iter()
                .filter(|(_, (_, o))| Arc::ptr_eq(o, out))
                .map(|(id, _)| id.clone())
                .collect()
        };
        for id in open {
            self.fail_session(
                &id,
                json!({"error_type": "ConnectionClosedError", "message": "Connection closed unexpectedly"}),
            );
        }
        self.changed.notify_all();
    }
}

fn write_line(out: &Out, line: &str) -> std::io::Result<()> {
    let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
    let mut bytes = line.as_bytes().to_vec();
    bytes.push(b'\n');
    out.write_all(&bytes).and_then(|()| out.flush())
}

/// The fake daemon: a remote-debug port, or a local runtime's plugin process.
pub struct FakeDaemon {
    inner: Arc<Inner>,
    addr: Option<SocketAddr>,
    child: Option<Mutex<Child>>,
}

impl FakeDaemon {
    fn new_inner(keys: &[&str], mock: MockDify, tenant: &str) -> Arc<Inner> {
        Arc::new(Inner {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            mock,
            tenant: tenant.to_owned(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            ids: AtomicU64::new(0),
        })
    }

    /// A remote-debug port on 127.0.0.1 taking `keys`, bound to workspace `tenant`, its app
    /// invocations answered by `mock`.
    pub fn start(keys: &[&str], mock: MockDify, tenant: &str) -> FakeDaemon {
        let inner = Self::new_inner(keys, mock, tenant);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        listener.set_nonblocking(true).expect("nonblocking");
        let accepting = inner.clone();
        std::thread::spawn(move || {
            while !accepting.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let inner = accepting.clone();
                        std::thread::spawn(move || serve_tcp(&inner, stream));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeDaemon {
            inner,
            addr: Some(addr),
            child: None,
        }
    }

    /// The daemon's local runtime: launch `command` with piped stdin, stdout and stderr and
    /// `INSTALL_METHOD=local`, and speak the protocol with it. The installed package is taken
    /// to grant app access (the permission check reads `resource.permission.app.enabled`).
    pub fn spawn_stdio(mut command: Command, mock: MockDify, tenant: &str) -> FakeDaemon {
        let inner = Self::new_inner(&[], mock, tenant);
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("INSTALL_METHOD", "local")
            .spawn()
            .unwrap_or_else(|e| panic!("cannot launch {command:?}: {e}"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let out: Out = Arc::new(Mutex::new(Box::new(stdin)));
        {
            let mut state = inner.lock();
            state.manifest = json!({"resource": {"permission": {"app": {"enabled": true}}}});
            state.out = Some(out.clone());
        }
        let reading = inner.clone();
        std::thread::spawn(move || {
            events(&reading, &mut BufReader::new(stdout), &out);
            reading.connection_closed(&out);
        });
        let collecting = inner.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collecting.lock().stderr.extend_from_slice(&buf[..n]);
            }
        });
        FakeDaemon {
            inner,
            addr: None,
            child: Some(Mutex::new(child)),
        }
    }

    /// The remote-debug address.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("a remote-debug daemon")
    }

    pub fn registrations(&self) -> Vec<Registration> {
        self.inner.lock().registrations.clone()
    }

    /// The refusal lines written so far (a silent close is listed in parentheses).
    pub fn refusals(&self) -> Vec<String> {
        self.inner.lock().refusals.clone()
    }

    /// Wait for `n` accepted registrations in all.
    pub fn wait_registrations(&self, n: usize, timeout: Duration) -> bool {
        self.inner
            .wait(timeout, |s| s.registrations.len() >= n && s.out.is_some())
    }

    /// Wait for `n` heartbeats in all (those after `end`).
    pub fn wait_heartbeats(&self, n: usize, timeout: Duration) -> bool {
        self.inner.wait(timeout, |s| s.heartbeats.len() >= n)
    }

    pub fn heartbeats(&self) -> Vec<Instant> {
        self.inner.lock().heartbeats.clone()
    }

    /// Stdio: ready at the first heartbeat.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        self.wait_heartbeats(1, timeout)
    }

    /// The `request` of every `invoke` received, in order (the whole invoke `data`).
    pub fn invokes(&self) -> Vec<Value> {
        self.inner.lock().invokes.clone()
    }

    /// The `data` of every `log` event.
    pub fn logs(&self) -> Vec<Value> {
        self.inner.lock().logs.clone()
    }

    pub fn wait_logs(&self, n: usize, timeout: Duration) -> Vec<Value> {
        self.inner.wait(timeout, |s| s.logs.len() >= n);
        self.logs()
    }

    /// Plugin lines that went nowhere.
    pub fn unrouted(&self) -> Vec<String> {
        self.inner.lock().unrouted.clone()
    }

    /// What the plugin process wrote on stderr (stdio).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.inner.lock().stderr).into_owned()
    }

    /// Answer invocations with `answer` (an `end` follows) where it returns `Some`, instead of
    /// the mock.
    pub fn answer_invokes_with(
        &self,
        answer: impl Fn(&Value) -> Option<Vec<Backward>> + Send + Sync + 'static,
    ) {
        self.inner.lock().invoke_answer = Some(Arc::new(answer));
    }

    fn current_out(&self) -> Out {
        self.inner
            .wait(Duration::from_secs(30), |s| s.out.is_some());
        self.inner
            .lock()
            .out
            .clone()
            .expect("no plugin connected within 30 s")
    }

    /// Write `line` and `\n` to the plugin as it is.
    pub fn send_raw_line(&self, line: &str) {
        write_line(&self.current_out(), line).expect("write to the plugin");
    }

    /// Close the plugin's socket, as the daemon does when it stops a runtime.
    pub fn drop_connection(&self) {
        if let Some(socket) = self.inner.lock().socket.take() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Send an endpoint request: `raw_http` as [`raw_request`] makes it, with the endpoint's
    /// `settings`. Waits up to 30 s for a registered plugin.
    pub fn request(&self, raw_http: Vec<u8>, settings: Value) -> Session {
        let out = self.current_out();
        let id = self.inner.new_id();
        let (tx, rx) = channel();
        self.inner
            .lock()
            .sessions
            .insert(id.clone(), (tx, out.clone()));
        let data = json!({
            "action": "invoke_endpoint",
            "raw_http_request": hex::encode(raw_http),
            "settings": settings,
            "type": "endpoint",
            "user_id": "",
        });
        write_line(&out, &daemon_line(&id, "request", &go_json(&data))).expect("write the request");
        Session { id, rx }
    }

    /// Send a tool request (`type: tool`): `action` (`invoke_tool`, `validate_tool_credentials`)
    /// with its fields, as the daemon flattens `InvokeToolRequest` into `data`.
    pub fn tool_request(&self, action: &str, fields: Value) -> Session {
        let out = self.current_out();
        let id = self.inner.new_id();
        let (tx, rx) = channel();
        self.inner
            .lock()
            .sessions
            .insert(id.clone(), (tx, out.clone()));
        let mut data = json!({"type": "tool", "action": action, "user_id": "bench-user"});
        for (k, v) in fields.as_object().into_iter().flatten() {
            data[k] = v.clone();
        }
        write_line(&out, &daemon_line(&id, "request", &go_json(&data))).expect("write the request");
        Session { id, rx }
    }

    /// Stdio: kill the plugin's process, as an out-of-memory killer would.
    pub fn kill(&self) {
        let child = self.child.as_ref().expect("a stdio daemon");
        let mut child = child.lock().unwrap_or_else(|p| p.into_inner());
        child.kill().expect("kill the plugin");
        let _ = child.wait();
    }

    /// Stdio: close the plugin's stdin and wait for it to exit (killed after `timeout`).
    pub fn exit_status(&self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_ref().expect("a stdio daemon");
        if let Some(out) = self.inner.lock().out.clone() {
            *out.lock().unwrap_or_else(|p| p.into_inner()) = Box::new(std::io::sink());
        }
        let deadline = Instant::now() + timeout;
        let mut child = child.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        self.drop_connection();
        if let Some(child) = &self.child {
            let mut child = child.lock().unwrap_or_else(|p| p.into_inner());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One endpoint request's session.
pub struct Session {
    pub id: String,
    rx: Receiver<SessionMessage>,
}

impl Session {
    /// The next message of the session, waiting at most `timeout`.
    pub fn next_message(&self, timeout: Duration) -> Option<SessionMessage> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The next message before `deadline` (`timeout` after the wait began); panics without one.
    fn before(&self, deadline: Instant, timeout: Duration) -> SessionMessage {
        let left = deadline.saturating_duration_since(Instant::now());
        self.next_message(left)
            .unwrap_or_else(|| panic!("session {}: no end within {timeout:?}", self.id))
    }

    /// A tool session's answer as the daemon relays it to Dify: each `stream` chunk checked
    /// as a `ToolResponseChunk` (a bad one ends it with `unmarshal_error`), then the end or the
    /// error. Panics if the session does not end within `timeout`.
    pub fn tool_answer(&self, timeout: Duration) -> ToolAnswer {
        let deadline = Instant::now() + timeout;
        let mut answer = ToolAnswer::default();
        loop {
            let message = self.before(deadline, timeout);
            match message.kind {
                Kind::Invoke => {}
                Kind::End => return answer,
                Kind::Error => answer.error = Some(message.data),
                Kind::Stream => {
                    if let Err(e) = check_tool_chunk(&message.data) {
                        let message = format!("unmarshal json failed: {e}");
                        answer.error =
                            Some(json!({"error_type": "unmarshal_error", "message": message}));
                        return answer;
                    }
                    answer.stream.push(message.data);
                }
            }
        }
    }

    /// A `validate_tool_credentials` answer as Dify reads it: the first `stream`'s `result`
    /// (`false` without one), or the session's error.
    pub fn validation_answer(&self, timeout: Duration) -> Result<bool, Value> {
        let deadline = Instant::now() + timeout;
        let mut result = None;
        loop {
            let message = self.before(deadline, timeout);
            match message.kind {
                Kind::Invoke => {}
                Kind::End => return Ok(result.unwrap_or(false)),
                Kind::Error => return Err(message.data),
                Kind::Stream => {
                    let Some(ok) = message.data["result"].as_bool() else {
                        return Err(
                            json!({"error_type": "unmarshal_error", "message": message.data.to_string()}),
                        );
                    };
                    result.get_or_insert(ok);
                }
            }
        }
    }

    /// The HTTP answer, assembled as the daemon relays it (daemon-protocol.md §2.6,
    /// dify-wire.md §5.6). Panics if the session does not end within `timeout`.
    pub fn answer(&self, timeout: Duration) -> HttpAnswer {
        let deadline = Instant::now() + timeout;
        let mut status: u16 = 100;
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut body = Vec::new();
        let mut started = false;
        let failed = |message: String| HttpAnswer {
            status: 500,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: format!(
                "{{\"code\":-500,\"message\":{},\"data\":null}}",
                go_json(&json!(message))
            )
            .into_bytes(),
            cut: false,
        };
        loop {
            let message = self.before(deadline, timeout);
            let data = &message.data;
            match message.kind {
                Kind::Invoke => {}
                Kind::End => break,
                Kind::Error => {
                    let text = format!("{}: {}", text(data, "error_type"), text(data, "message"));
                    if !started {
                        return failed(text);
                    }
                    body.extend_from_slice(text.as_bytes());
                    return HttpAnswer {
                        status,
                        headers,
                        body,
                        cut: true,
                    };
                }
                Kind::Stream if !started => {
                    if let Some(s) = data.get("status").filter(|s| !s.is_null()) {
                        match s.as_u64().and_then(|s| u16::try_from(s).ok()) {
                            Some(s) => status = s,
                            None => return failed(format!("unmarshal_error: status {s}")),
                        }
                    }
                    if let Some(map) = data.get("headers").and_then(Value::as_object) {
                        for (name, value) in map {
                            let Some(value) = value.as_str() else {
                                return failed(format!(
                                    "unmarshal_error: header {name} is not a string: {value}"
                                ));
                            };
                            let name = canonical(name);
                            if !headers.iter().any(|(n, _)| *n == name) {
                                headers.push((name, value.to_owned()));
                            }
                        }
                    }
                    if let Some(result) = data.get("result").and_then(Value::as_str) {
                        started = true;
                        match hex::decode(result) {
                            Ok(bytes) => body.extend(bytes),
                            Err(_) => {
                                return HttpAnswer {
                                    status,
                                    headers,
                                    body,
                                    cut: true,
                                };
                            }
                        }
                    }
                }
                Kind::Stream => {
                    // Every chunk after the first body chunk must carry a hex `result`.
                    match data
                        .get("result")
                        .and_then(Value::as_str)
                        .and_then(|r| hex::decode(r).ok())
                    {
                        Some(bytes) => body.extend(bytes),
                        None => {
                            return HttpAnswer {
                                status,
                                headers,
                                body,
                                cut: true,
                            };
                        }
                    }
                }
            }
        }
        HttpAnswer {
            status,
            headers,
            body,
            cut: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Remote debugging: registration

enum Refusal {
    /// A text line, then the close.
    Said(String),
    /// A close without a word (no handshake in time, the plugin hung up).
    Silent(String),
}

fn serve_tcp(inner: &Arc<Inner>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let registration = match register(inner, &stream, &mut reader) {
        Ok(registration) => registration,
        Err(refusal) => {
            let line = match refusal {
                Refusal::Said(line) => line,
                Refusal::Silent(why) => {
                    inner.lock().refusals.push(format!("({why})"));
                    inner.changed.notify_all();
                    return;
                }
            };
            inner.lock().refusals.push(line.clone());
            inner.changed.notify_all();
            let mut writing = &stream;
            let _ = writing.write_all(format!("{line}\n").as_bytes());
            let _ = stream.shutdown(Shutdown::Write);
            // Read what the plugin still sends, so that the close is not a reset that could
            // destroy the line before it is read.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
            return;
        }
    };
    let out: Out = Arc::new(Mutex::new(Box::new(
        stream.try_clone().expect("a socket clone"),
    )));
    {
        let mut state = inner.lock();
        state.manifest = registration.manifest.clone();
        state.registrations.push(registration);
        state.out = Some(out.clone());
        state.socket = stream.try_clone().ok();
    }
    inner.changed.notify_all();
    events(inner, &mut reader, &out);
    inner.connection_closed(&out);
}

fn register(
    inner: &Inner,
    stream: &TcpStream,
    reader: &mut BufReader<TcpStream>,
) -> Result<Registration, Refusal> {
    const INVALID: &str = "handshake failed, invalid handshake message";
    let said = |s: &str| Err(Refusal::Said(s.to_owned()));
    let declaration = |e: String| {
        Err(Refusal::Said(format!(
            "handshake failed, invalid plugin declaration: {e}"
        )))
    };
    let _ = stream.set_read_timeout(Some(HANDSHAKE_WINDOW));
    let mut reg = Registration::default();
    let mut handshaken = false;
    let mut declared = false;
    let mut asset_bytes = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => {
                return Err(Refusal::Silent(
                    "the plugin hung up during registration".into(),
                ));
            }
            Ok(_) => {}
            Err(e) if !handshaken => {
                return Err(Refusal::Silent(format!("no handshake within 10 s: {e}")));
            }
            Err(e) => return Err(Refusal::Silent(format!("read failed: {e}"))),
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let Ok(message) = serde_json::from_slice::<Value>(text) else {
            return said(INVALID);
        };
        let kind = message["type"].as_str().unwrap_or("");
        let data = &message["data"];
        if kind.is_empty() || data.is_null() {
            return said(INVALID);
        }
        reg.messages.push(message.clone());
        if !handshaken {
            if kind != "handshake" {
                return said(INVALID);
            }
            let key = data["key"].as_str().unwrap_or("");
            if !inner.keys.iter().any(|k| k == key) {
                return said("handshake failed, invalid key");
            }
            reg.key = key.to_owned();
            handshaken = true;
            let _ = stream.set_read_timeout(None);
            continue;
        }
        match kind {
            "handshake" => return said("handshake already completed"),
            "manifest_declaration" => {
                if !reg.manifest.is_null() {
                    return said("declaration already registered");
                }
                if let Err(e) = check_manifest(data) {
                    return declaration(e);
                }
                reg.manifest = data.clone();
                declared = true;
            }
            "endpoint_declaration" => {
                let Some(groups) = data.as_array() else {
                    return declaration("endpoint_declaration data is not a list".into());
                };
                for group in groups {
                    if let Err(e) = check_endpoint_group(group) {
                        return declaration(e);
                    }
                }
                reg.endpoint_group = groups.first().cloned().unwrap_or(Value::Null);
                declared = true;
            }
            "tool_declaration" => {
                let Some(providers) = data.as_array() else {
                    return declaration("tool_declaration data is not a list".into());
                };
                let mut kept = Vec::new();
                for provider in providers {
                    match check_tool_provider(provider) {
                        Ok(provider) => kept.push(provider),
                        Err(e) => return declaration(e),
                    }
                }
                reg.tool_provider = kept.into_iter().next().unwrap_or(Value::Null);
                declared = true;
            }
            "model_declaration"
            | "agent_strategy_declaration"
            | "datasource_declaration"
            | "trigger_declaration" => declared = true,
            "asset_chunk" => {
                let name = data["filename"].as_str().unwrap_or("");
                let encoded = data["data"].as_str().unwrap_or("");
                if name.is_empty() || encoded.is_empty() {
                    return said(INVALID);
                }
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
                    return said("handshake failed, invalid asset chunk: not base64");
                };
                asset_bytes += bytes.len();
                if asset_bytes > MAX_ASSETS {
                    return said("assets too large, max 50MB");
                }
                reg.assets.entry(name.to_owned()).or_default().extend(bytes);
            }
            "end" => {
                if !declared {
                    return said("no registration transferred, cannot initialize");
                }
                for field in ["icon", "icon_dark"] {
                    if let Some(icon) = reg.manifest[field].as_str()
                        && !reg.assets.contains_key(icon)
                    {
                        return Err(Refusal::Said(format!(
                            "assets remap failed, invalid assets data, cannot remap: file not found: {icon}"
                        )));
                    }
                }
                if reg.manifest.is_null() {
                    return declaration("manifest: required".into());
                }
                if let Some(icon) = reg.tool_provider["identity"]["icon"].as_str()
                    && !reg.assets.contains_key(icon)
                {
                    return Err(Refusal::Said(format!(
                        "assets remap failed, invalid assets data, cannot remap: file not found: {icon}"
                    )));
                }
                if reg.endpoint_group.is_null() && reg.tool_provider.is_null() {
                    return declaration(
                        "at least one of endpoint, model, tool, agent_strategy, datasource, trigger must be declared"
                            .into(),
                    );
                }
                return Ok(reg);
            }
            // The daemon's switch has no default: unknown types are ignored.
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// After registration: the plugin's events

fn events(inner: &Arc<Inner>, reader: &mut dyn BufRead, out: &Out) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(text) {
            Ok(message) => on_event(inner, out, message),
            Err(_) => inner
                .lock()
                .unrouted
                .push(String::from_utf8_lossy(text).into_owned()),
        }
    }
}

fn on_event(inner: &Arc<Inner>, out: &Out, message: Value) {
    let at = Instant::now();
    match message["event"].as_str() {
        Some("heartbeat") => inner.lock().heartbeats.push(at),
        Some("log") => inner.lock().logs.push(message["data"].clone()),
        Some("session") => {
            let id = message["session_id"].as_str().unwrap_or("").to_owned();
            let data = message["data"]["data"].clone();
            let kind = match message["data"]["type"].as_str() {
                Some("stream") => Kind::Stream,
                Some("invoke") => Kind::Invoke,
                Some("error") => Kind::Error,
                Some("end") => Kind::End,
                _ => {
                    // `unknown stream message type`: the daemon logs it.
                    inner.lock().unrouted.push(message.to_string());
                    return;
                }
            };
            let sender = {
                let mut state = inner.lock();
                let sender = state.sessions.get(&id).map(|(tx, _)| tx.clone());
                if sender.is_none() {
                    state.unrouted.push(message.to_string());
                } else if kind == Kind::End {
                    state.sessions.remove(&id);
                }
                sender
            };
            let Some(sender) = sender else {
                return;
            };
            let _ = sender.send(SessionMessage {
                kind,
                data: data.clone(),
                at,
                by_daemon: false,
            });
            if kind == Kind::Invoke {
                on_invoke(inner, &id, data, out.clone());
            }
        }
        _ => inner.lock().unrouted.push(message.to_string()),
    }
    inner.changed.notify_all();
}

// ---------------------------------------------------------------------------------------------
// Backwards invocations

fn on_invoke(inner: &Arc<Inner>, session: &str, data: Value, out: Out) {
    inner.lock().invokes.push(data.clone());
    let missing = ["type", "backwards_request_id"]
        .into_iter()
        .find(|k| data[*k].as_str().is_none_or(str::is_empty))
        .or_else(|| (!data["request"].is_object()).then_some("request"));
    if let Some(missing) = missing {
        inner.fail_session(
            session,
            json!({"error_type": "invoke_dify_error", "message": format!("invoke dify failed: invoke request missing {missing}")}),
        );
        return;
    }
    let inner = inner.clone();
    let session = session.to_owned();
    std::thread::spawn(move || {
        let id = data["backwards_request_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let send = |event: &str, message: &str, data: &Value| {
            // A session that has ended takes no more answers (the daemon deletes it).
            inner.session_open(&session)
                && write_line(&out, &backwards_line(&session, &id, event, message, data)).is_ok()
        };
        let (permitted, custom) = {
            let state = inner.lock();
            (
                state.manifest["resource"]["permission"]["app"]["enabled"] == json!(true),
                state.invoke_answer.clone(),
            )
        };
        if !permitted {
            send(
                "error",
                "permission denied, you need to enable app access in plugin manifest",
                &Value::Null,
            );
        } else if data["type"] != "app" {
            send(
                "error",
                &format!(
                    "the fake daemon answers app invocations only, not {}",
                    data["type"]
                ),
                &Value::Null,
            );
        } else if let Some(answers) = custom.and_then(|f| f(&data)) {
            for answer in answers {
                let sent = match answer {
                    Backward::Response(value) => send("response", "stream", &value),
                    Backward::Error(message) => send("error", &message, &Value::Null),
                };
                if !sent {
                    break;
                }
            }
        } else {
            answer_app(&inner, &data["request"], &send);
        }
        send("end", "", &Value::Null);
    });
}

/// The request as the daemon relays it to Dify, answered by the mock.
fn answer_app(inner: &Inner, request: &Value, send: &dyn Fn(&str, &str, &Value) -> bool) {
    let app_id = request["app_id"].as_str().unwrap_or("").to_owned();
    // Dify routes on the app's mode, whatever was sent.
    let mode = inner
        .mock
        .apps()
        .into_iter()
        .find(|a| a.id == app_id)
        .map(|a| a.mode);
    let kind = match mode {
        Some(AppMode::Workflow) => AppKind::Workflow,
        Some(AppMode::Completion) => AppKind::Completion,
        Some(_) => AppKind::Chat,
        None if request.get("query").is_some() => AppKind::Chat,
        None => AppKind::Workflow,
    };
    let string = |key: &str| {
        request[key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let req = AppRequest {
        kind,
        query: (kind == AppKind::Chat).then(|| request["query"].as_str().unwrap_or("").to_owned()),
        app_id,
        inputs: request["inputs"].as_object().cloned().unwrap_or_default(),
        conversation_id: string("conversation_id"),
        files: Vec::new(),
        user: string("user"),
        response_mode: if request["response_mode"] == "blocking" {
            ResponseMode::Blocking
        } else {
            ResponseMode::Streaming
        },
    };
    let ctx = CallContext {
        tenant_id: inner.tenant.clone(),
        user_id: String::new(),
    };
    let parse = |json: &str| serde_json::from_str::<Value>(json).unwrap_or(Value::Null);
    match Backend::invoke(&inner.mock, &ctx, req) {
        Ok(Reply::Blocking(json)) => {
            send("response", "stream", &parse(&json));
        }
        Ok(Reply::Streaming(mut events)) => loop {
            match events.next_event() {
                Ok(Some(event)) => {
                    if !send("response", "stream", &parse(&event.json)) {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    send(
                        "error",
                        &format!("read app failed: request failed: {e}"),
                        &Value::Null,
                    );
                    return;
                }
            }
        },
        Err(e) => {
            send("error", &invoke_failed(&e), &Value::Null);
        }
    }
}

/// The daemon's text for a Dify error answer, from the typed error the mock gave.
fn invoke_failed(e: &AppError) -> String {
    let dify = match e {
        AppError::NotFound(d)
        | AppError::InvalidRequest(d)
        | AppError::RateLimited(d)
        | AppError::AppFailed(d) => d.clone(),
        AppError::PermissionDenied(m) => DifyError::new(403, "forbidden", m.clone()),
        AppError::Timeout(m) => DifyError::new(504, "timeout", m.clone()),
        AppError::Cancelled => DifyError::new(500, "unknown", "cancelled"),
        AppError::Internal(m) => DifyError::new(500, "unknown", m.clone()),
    };
    daemon_error_text(dify.status, &dify.to_json())
}

/// `invoke app failed: request failed with status code: <status> and respond with: <body>`,
/// the body as Flask writes it (`/` as `\/`, one `\n`).
pub fn daemon_error_text(status: u16, body: &str) -> String {
    let body = body.trim_end().replace('/', "\\/").replace("\\\\/", "\\/");
    format!(
        "invoke app failed: request failed with status code: {status} and respond with: {body}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_sorts_keys_escapes_html_and_prints_numbers_as_float64() {
        let v: Value = serde_json::from_str(
            r#"{"z":1,"a":{"y":[1.0,2.5,-0.0],"b":"<a&b>"},"n":12345678901234567890,"e":1e21,"s":1e-7,"t":0.000001,"c":"\u0001\b\f\n\u2028","m":"é/"}"#,
        )
        .unwrap();
        assert_eq!(
            go_json(&v),
            r#"{"a":{"b":"\u003ca\u0026b\u003e","y":[1,2.5,-0]},"c":"\u0001\b\f\n\u2028","e":1e+21,"m":"é/","n":12345678901234567000,"s":1e-7,"t":0.000001,"z":1}"#
        );
        assert_eq!(go_number(123.0), "123");
        assert_eq!(go_number(1e20), "100000000000000000000");
        assert_eq!(go_number(1.5e-10), "1.5e-10");
    }

    #[test]
    fn raw_requests_are_serialized_as_the_daemon_does() {
        // dify-wire.md §5.3's example.
        let raw = raw_request_for(
            "3f9c0e5d2a7b4c1e",
            "POST",
            "/chat?x=1",
            &[
                ("Host", "dify.example.com"),
                ("content-type", "application/json"),
                ("User-Agent", "curl/8.5.0"),
                ("Accept", "*/*"),
                ("X-Forwarded-For", "10.0.0.1"),
            ],
            br#"{"query":"hello"}"#,
        );
        assert_eq!(
            hex::encode(raw),
            "504f5354202f636861743f783d3120485454502f312e310d0a486f73743a20646966792e6578616d706c652e636f6d0d0a557365722d4167656e743a206375726c2f382e352e300d0a436f6e74656e742d4c656e6774683a2031370d0a4163636570743a202a2f2a0d0a436f6e74656e742d547970653a206170706c69636174696f6e2f6a736f6e0d0a446966792d486f6f6b2d49643a20336639633065356432613762346331650d0a446966792d486f6f6b2d55726c3a20687474703a2f2f646966792e6578616d706c652e636f6d2f652f336639633065356432613762346331652f636861740d0a0d0a7b227175657279223a2268656c6c6f227d"
        );
        let get = String::from_utf8(raw_request("GET", "/ping?b=2&a=1", &[], b"")).unwrap();
        assert_eq!(
            get,
            "GET /ping?a=1&b=2 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Go-http-client/1.1\r\nDify-Hook-Id: hook1\r\nDify-Hook-Url: http://localhost/e/hook1/ping\r\n\r\n"
        );
    }

    #[test]
    fn manifest_rules() {
        let good = json!({
            "version": "0.1.0", "type": "plugin", "author": "a-b_c", "name": "n",
            "label": {"en_US": "L"}, "description": {"en_US": "D"}, "icon": "icon.svg",
            "icon_dark": null, "created_at": "2026-01-01T00:00:00Z",
            "resource": {"memory": 1}, "meta": {"version": "0.0.1", "arch": ["amd64"],
            "runner": {"language": "python", "version": "3.12", "entrypoint": "main"}},
        });
        assert_eq!(check_manifest(&good), Ok(()));
        for (path, bad, field) in [
            ("author", json!("Duck"), "author"),
            ("name", json!("a b"), "name"),
            ("version", json!("1.0"), "version"),
            ("created_at", json!("2026-01-01"), "created_at"),
            ("icon", json!(""), "icon"),
        ] {
            let mut m = good.clone();
            m[path] = bad;
            let e = check_manifest(&m).unwrap_err();
            assert!(e.starts_with(field), "{e}");
        }
        let mut m = good.clone();
        m["meta"]["runner"]["language"] = json!("rust");
        assert!(
            check_manifest(&m)
                .unwrap_err()
                .contains("meta.runner.language")
        );
        m = good;
        m["resource"]["memory"] = json!(0);
        assert!(check_manifest(&m).unwrap_err().contains("resource.memory"));
        assert!(version_ok("1.2.3-beta_1", true) && !version_ok("1.2.3-", true));
        assert!(rfc3339_ok("2026-01-01T00:00:00.5+01:00") && !rfc3339_ok("2026-01-01T00:00:00"));
    }

    /// The registration errors only a hand-made client can provoke.
    #[test]
    fn the_fake_refuses_what_the_daemon_refuses() {
        let daemon = FakeDaemon::start(&["k"], MockDify::new(), "t");
        let exchange = |lines: &[&str]| {
            let mut s = TcpStream::connect(daemon.addr()).unwrap();
            for line in lines {
                let _ = s.write_all(format!("{line}\n").as_bytes());
            }
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut answer = String::new();
            let _ = BufReader::new(s).read_line(&mut answer);
            answer
        };
        let handshake = r#"{"type":"handshake","data":{"key":"k"}}"#;
        assert_eq!(
            exchange(&[r#"{"type":"handshake","data":{"key":"nope"}}"#]),
            "handshake failed, invalid key\n"
        );
        assert_eq!(
            exchange(&["not json"]),
            "handshake failed, invalid handshake message\n"
        );
        assert_eq!(
            exchange(&[
                handshake,
                r#"{"event":"heartbeat","session_id":null,"data":{}}"#
            ]),
            "handshake failed, invalid handshake message\n"
        );
        assert_eq!(
            exchange(&[handshake, r#"{"type":"end","data":{}}"#]),
            "no registration transferred, cannot initialize\n"
        );
        assert_eq!(
            exchange(&[handshake, handshake]),
            "handshake already completed\n"
        );
        assert_eq!(daemon.refusals().len(), 5);
        assert!(daemon.registrations().is_empty());
    }
}
