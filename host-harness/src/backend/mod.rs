//! Where a plugin's app calls go: the [`Backend`] trait, the types it speaks, and every
//! implementation.
//!
//! The host turns each app call a plugin makes into an [`AppRequest`] (in `guest/apps.rs`) and
//! hands it to the plugin's backend. Backends answer in Dify's own terms (JSON text, events,
//! Dify's error codes), and [`AppError::from_dify`] maps Dify's answers onto the WIT error
//! variants, the same way for every backend.
//!
//! - [`mock`]: the embedded mock Dify, faithful to recorded Dify 1.13.2 behaviour;
//! - [`InnerBackend`] (`inner.rs`): a real Dify's inner API, `POST /inner/api/invoke/app`, the
//!   one Dify's own plugin daemon calls. It needs the operator's inner API key and answers in
//!   length-prefixed frames (`dify_plugin_wire::frames`). For self-hosted Dify;
//! - [`ServiceBackend`] (`service.rs`): the public Service API (`/v1/chat-messages`,
//!   `/v1/workflows/run`, `/v1/completion-messages`) with one `app-…` key per app, answering in
//!   Server-Sent Events (`dify_plugin_wire::sse`). Any Dify, cloud included;
//! - [`record::RecordingBackend`]: wraps a real backend and saves its answers as a mock apps
//!   file;
//! - [`select`]: builds one of these from an operator's options.
//!
//! The real backends share `http.rs` (requests on a runtime of their own, an idle timeout on
//! every read) and `dify_errors.rs` (the answers only a real Dify gives); they decode as bytes
//! arrive, so the plugin sees the first event before Dify has finished, and dropping a stream
//! closes the upstream connection.
//!
//! The real backends are the `dify-http` feature (on by default); the daemon's backend
//! (`daemon.rs`, the plugin's app calls as backwards invocations) is always there.
//!
//! A new kind of reverse invocation (say, LLM invoke) becomes a new method of [`Backend`] with
//! a default body that refuses it, so that every existing backend keeps compiling and answers
//! "not supported" until it implements it.

pub(crate) mod daemon;
mod dify_config;
mod dify_errors;
#[cfg(feature = "dify-http")]
mod http;
#[cfg(feature = "dify-http")]
mod inner;
pub mod mock;
#[cfg(feature = "dify-http")]
pub mod record;
#[cfg(feature = "dify-http")]
pub mod select;
#[cfg(feature = "dify-http")]
mod service;

pub use crate::budget::waiting;
pub use dify_config::{DifyConfig, Secret};
#[cfg(feature = "dify-http")]
pub use inner::InnerBackend;
#[cfg(feature = "dify-http")]
pub use service::ServiceBackend;

use std::fmt;

use serde_json::{Map, Value};

/// Which app interface the plugin called. Dify itself routes on the app's mode, so this
/// decides only which request keys are sent (chat sends `query` and `conversation_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppKind {
    /// `invoke-chat` / `stream-chat`.
    Chat,
    /// `invoke-workflow` / `stream-workflow`.
    Workflow,
    /// `invoke-completion` / `stream-completion`.
    Completion,
}

impl fmt::Display for AppKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AppKind::Chat => "chat",
            AppKind::Workflow => "workflow",
            AppKind::Completion => "completion",
        })
    }
}

/// Blocking (one JSON object) or streaming (events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseMode {
    /// One JSON object when the run ends.
    Blocking,
    /// Events as the run goes.
    Streaming,
}

impl ResponseMode {
    /// Dify's spelling: `blocking` or `streaming`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Blocking => "blocking",
            ResponseMode::Streaming => "streaming",
        }
    }
}

/// Who is calling: the workspace and user the host bound the plugin to. Never taken from
/// the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The workspace (Dify tenant) id.
    pub tenant_id: String,
    /// The Dify user the call runs as; empty for endpoint calls, as in Dify's daemon, where
    /// Dify then uses the workspace's `DEFAULT-USER` end user.
    pub user_id: String,
}

/// One app invocation, as the plugin asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppRequest {
    /// The interface used.
    pub kind: AppKind,
    /// The app id.
    pub app_id: String,
    /// The query (chat only; `None` for workflow and completion calls).
    pub query: Option<String>,
    /// The input form values.
    pub inputs: Map<String, Value>,
    /// The conversation to continue (chat only).
    pub conversation_id: Option<String>,
    /// File mappings.
    pub files: Vec<Value>,
    /// The opaque end-user id the plugin passed, if any.
    pub user: Option<String>,
    /// Blocking or streaming.
    pub response_mode: ResponseMode,
}

/// One event of a streaming run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The value of the `event` key.
    pub name: String,
    /// The whole event object, as JSON text.
    pub json: String,
}

impl Event {
    /// An event from the JSON text Dify sent, its name read from the `event` key; the text is
    /// kept as it is.
    pub fn from_json(json: String) -> Result<Event, AppError> {
        #[derive(serde::Deserialize)]
        struct Named {
            event: Option<String>,
        }
        let excerpt = || json.chars().take(200).collect::<String>();
        let name = serde_json::from_str::<Named>(&json)
            .map_err(|e| AppError::Internal(format!("an event is not JSON ({e}): {}", excerpt())))?
            .event
            .ok_or_else(|| {
                AppError::Internal(format!("an event has no \"event\" name: {}", excerpt()))
            })?;
        Ok(Event { name, json })
    }
}

/// What a backend answers.
pub enum Reply {
    /// The JSON text of a blocking reply.
    Blocking(String),
    /// The events of a streaming run.
    Streaming(Box<dyn EventStream>),
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Blocking(json) => f.debug_tuple("Blocking").field(json).finish(),
            Reply::Streaming(_) => f.write_str("Streaming(..)"),
        }
    }
}

/// The events of one streaming run. Dropping it before the end cancels the run.
pub trait EventStream: Send {
    /// The next event, waiting for it if need be; `Ok(None)` at the end. After an `Err` the
    /// host never calls again.
    fn next_event(&mut self) -> Result<Option<Event>, AppError>;

    /// The next event if it can be had without waiting (already received, already decoded);
    /// `None` if it would wait. Lets the host hand a plugin several events per call. The
    /// default never has one ready.
    fn next_ready(&mut self) -> Option<Result<Option<Event>, AppError>> {
        None
    }
}

/// A Dify to invoke apps on.
pub trait Backend: Send + Sync + 'static {
    /// Run one app invocation for the plugin bound to `ctx`.
    fn invoke(&self, ctx: &CallContext, req: AppRequest) -> Result<Reply, AppError>;
}

/// Dify's own words for a failure: HTTP status, code and message, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DifyError {
    /// The HTTP status.
    pub status: u16,
    /// Dify's `code`, such as `invalid_param`.
    pub code: String,
    /// Dify's `message`; may be empty.
    pub message: String,
}

impl DifyError {
    /// A Dify error from its three parts.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        DifyError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// The 400 `invalid_param` that Dify's API returns for every `ValueError`.
    pub fn invalid_param(message: impl Into<String>) -> Self {
        DifyError::new(400, "invalid_param", message)
    }

    /// Dify's JSON error body: `{"code":…,"message":…,"status":…}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({"code": self.code, "message": self.message, "status": self.status})
            .to_string()
    }
}

impl fmt::Display for DifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {}: {:?}", self.status, self.code, self.message)
    }
}

/// Why an app invocation failed; the host-side mirror of the WIT `error` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// Rejected before the app ran.
    InvalidRequest(DifyError),
    /// No such app in the workspace, or no such conversation.
    NotFound(DifyError),
    /// The plugin may not invoke apps.
    PermissionDenied(String),
    /// Refused for now.
    RateLimited(DifyError),
    /// No answer in time.
    Timeout(String),
    /// Cancelled by the host.
    Cancelled,
    /// The app ran and failed.
    AppFailed(DifyError),
    /// Anything else.
    Internal(String),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::InvalidRequest(d) => write!(f, "invalid request ({d})"),
            AppError::NotFound(d) => write!(f, "not found ({d})"),
            AppError::PermissionDenied(m) => write!(f, "permission denied: {m}"),
            AppError::RateLimited(d) => write!(f, "rate limited ({d})"),
            AppError::Timeout(m) => write!(f, "timeout: {m}"),
            AppError::Cancelled => f.write_str("cancelled"),
            AppError::AppFailed(d) => write!(f, "app failed ({d})"),
            AppError::Internal(m) => write!(f, "internal: {m}"),
        }
    }
}

impl std::error::Error for AppError {}

impl AppError {
    /// Classify an error answer of Dify's app invocation into the WIT error variants,
    /// keeping Dify's words. Every backend, the mock included, goes through here, so the
    /// plugin sees the same variant for the same Dify answer whichever backend produced it.
    pub fn from_dify(err: DifyError) -> Self {
        match (err.status, err.code.as_str(), err.message.as_str()) {
            (400, "invalid_param", "app not found") => AppError::NotFound(err),
            // `ConversationNotExistsError()` carries no text on the inner API...
            (400, "invalid_param", "") => AppError::NotFound(err),
            // ...and reads `Conversation Not Exists.` on the Service API.
            (404, "not_found", _) => AppError::NotFound(err),
            (400, _, m) if m.starts_with("Run failed:") => AppError::AppFailed(err),
            (400, "completion_request_error", _) => AppError::AppFailed(err),
            (401 | 403, _, _) => {
                AppError::PermissionDenied(format!("Dify refused the credentials ({err})"))
            }
            (429, _, _) => AppError::RateLimited(err),
            (400..=499, _, _) => AppError::InvalidRequest(err),
            _ => AppError::Internal(format!("Dify failed ({err})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dify_answers_map_onto_the_wit_variants() {
        let cases = [
            (DifyError::invalid_param("app not found"), "not-found"),
            (DifyError::invalid_param(""), "not-found"),
            (DifyError::invalid_param("missing query"), "invalid-request"),
            (
                DifyError::invalid_param("name is required in input form"),
                "invalid-request",
            ),
            (DifyError::invalid_param("Run failed: boom"), "app-failed"),
            (
                DifyError::new(500, "unknown", "Internal Server Error"),
                "internal",
            ),
            (
                DifyError::new(429, "too_many_requests", "slow down"),
                "rate-limited",
            ),
        ];
        for (err, want) in cases {
            let got = match AppError::from_dify(err.clone()) {
                AppError::NotFound(_) => "not-found",
                AppError::InvalidRequest(_) => "invalid-request",
                AppError::AppFailed(_) => "app-failed",
                AppError::Internal(_) => "internal",
                AppError::RateLimited(_) => "rate-limited",
                other => panic!("{err}: unexpected {other}"),
            };
            assert_eq!(got, want, "{err}");
        }
    }
}
