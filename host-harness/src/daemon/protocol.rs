//! The messages of the daemon's protocol, in both directions (reference: dify-wire.md §2.1,
//! §2.2; daemon-protocol.md §2.2, §2.6).
//!
//! Plugin → daemon: one JSON object and `\n\n` per message, keys in the Python SDK's order:
//! `{"event":"session","session_id":…,"data":{"type":"stream"|"invoke"|"end"|"error",…}}`,
//! `{"event":"heartbeat",…}`, `{"event":"log",…}`. During remote registration, before `end`:
//! `{"type":…,"data":…}` lines. Daemon → plugin: one JSON object per line, `event` either
//! `request` or `backwards_response`. Lines that are not what they should be are reported to
//! the caller, which logs and skips them.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

/// A line the daemon sent, read in one pass: its `event`, and, for a `backwards_response`
/// (most lines: every event of every app call is one), the fields of its `data`. A
/// `request`'s `data` has other fields ([`Request`]); its line is read again for them
/// ([`RequestLine`]): there is one per session.
#[derive(Debug, Deserialize)]
pub(crate) struct Inbound<'a> {
    #[serde(borrow)]
    pub event: Cow<'a, str>,
    #[serde(borrow, default)]
    pub data: BackwardsResponse<'a>,
}

/// A `request` line: its session, and what it asks ([`Request`]).
#[derive(Debug, Deserialize)]
pub(crate) struct RequestLine<'a> {
    pub session_id: Option<String>,
    #[serde(borrow)]
    pub data: Option<&'a RawValue>,
}

/// The `data` of a `request` line: `type` and `action` say what it asks, the other fields
/// are those of its kind (daemon-protocol.md §2.5; DMN `pkg/entities/requests/tool.go`). The
/// daemon may send `null` for a tool's `tool_parameters` and `credentials`, and leaves out an
/// empty `credential_type`.
#[derive(Debug, Deserialize)]
pub(crate) struct Request {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub action: String,
    /// An endpoint's request, hex.
    #[serde(default)]
    pub raw_http_request: String,
    /// An endpoint's settings.
    #[serde(default)]
    pub settings: Value,
    /// A tool's provider (its name, without the plugin id).
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub tool: String,
    #[serde(default)]
    pub tool_parameters: Option<Map<String, Value>>,
    #[serde(default)]
    pub credentials: Option<Map<String, Value>>,
    #[serde(default)]
    pub credential_type: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
}

/// The `data` of a `backwards_response` line, borrowed from it (a text with escapes is
/// copied).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct BackwardsResponse<'a> {
    #[serde(borrow, default)]
    pub backwards_request_id: Cow<'a, str>,
    #[serde(borrow, default)]
    pub event: Cow<'a, str>,
    #[serde(borrow, default)]
    pub message: Cow<'a, str>,
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
}

/// One line to the daemon, framed as the Python SDK frames it.
pub(crate) fn line(message: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(message).unwrap_or_default();
    bytes.extend_from_slice(b"\n\n");
    bytes
}

/// A message of session `session_id`: `{"event":"session","session_id":…,"data":{"type":…,"data":…}}`.
pub(crate) fn session(session_id: &str, kind: &str, data: Value) -> Value {
    json!({"event": "session", "session_id": session_id, "data": {"type": kind, "data": data}})
}

/// The line of a session message of type `kind` (one of the protocol's words) whose data is
/// `data`, JSON the host wrote itself (a tool's message, an app call), embedded as it is: the
/// same bytes as [`session`] would give, without building a `Value` and serialising it again.
pub(crate) fn session_line(session_id: &str, kind: &str, data: &[u8]) -> Vec<u8> {
    let id = serde_json::to_string(session_id).unwrap_or_default();
    let mut bytes = Vec::with_capacity(data.len() + id.len() + kind.len() + 64);
    bytes.extend_from_slice(br#"{"event":"session","session_id":"#);
    bytes.extend_from_slice(id.as_bytes());
    bytes.extend_from_slice(br#","data":{"type":""#);
    bytes.extend_from_slice(kind.as_bytes());
    bytes.extend_from_slice(br#"","data":"#);
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(b"}}\n\n");
    bytes
}

/// The heartbeat, the only message that keeps a remote plugin alive.
pub(crate) fn heartbeat() -> Value {
    json!({"event": "heartbeat", "session_id": null, "data": {}})
}

/// A plugin log line (stdio mode; the daemon drops them in remote mode).
pub(crate) fn log(level: &str, message: &str, timestamp: f64) -> Value {
    json!({"event": "log", "session_id": null, "data": {"level": level, "message": message, "timestamp": timestamp}})
}

/// A registration message: `{"type":…,"data":…}`.
pub(crate) fn registration(kind: &str, data: Value) -> Value {
    json!({"type": kind, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_line_is_the_session_message_a_value_would_give() {
        let data = json!({"type": "text", "message": {"text": "a \"quoted\" ü"}, "meta": null});
        let bytes = serde_json::to_vec(&data).unwrap();
        let id = "3a96fb08\"odd";
        for kind in ["stream", "invoke"] {
            assert_eq!(
                session_line(id, kind, &bytes),
                line(&session(id, kind, data.clone()))
            );
        }
    }
}
