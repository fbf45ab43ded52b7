//! What can go wrong, with enough context to act on it.
//!
//! An app call that fails says which app (kind and id), what happened, and what Dify said,
//! verbatim: `chat app 'a1b2…': not found: app not found (Dify: HTTP 400, invalid_param)`.
//! Match on [`Error::App`] and [`AppErrorKind`] to react to a specific failure.

use std::fmt;

use crate::wit::dify::plugin::types as wit;
use crate::wit::exports::dify::plugin::endpoint::HandlerError;
use crate::wit::exports::dify::plugin::tool::ToolError;

use self::app::AppRef;

/// `AppKind` and `AppRef`, public at `dify_plugin::apps`. They live here, in
/// a private module, so that errors can name an app without this module importing `apps`.
pub(crate) mod app {
    use std::fmt;

    /// Which interface a call used.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum AppKind {
        /// `session().app().chat()`.
        Chat,
        /// `session().app().workflow()`.
        Workflow,
        /// `session().app().completion()`.
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

    /// Names the app a call went to, for error messages.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AppRef {
        kind: AppKind,
        id: String,
        conversation_id: Option<String>,
    }

    impl AppRef {
        pub(crate) fn new(kind: AppKind, id: String, conversation_id: Option<String>) -> Self {
            AppRef {
                kind,
                id,
                conversation_id,
            }
        }

        /// The interface used.
        pub fn kind(&self) -> AppKind {
            self.kind
        }

        /// The app's id.
        pub fn id(&self) -> &str {
            &self.id
        }

        /// The conversation the call tried to continue, if any.
        pub fn conversation_id(&self) -> Option<&str> {
            self.conversation_id.as_deref()
        }
    }

    impl fmt::Display for AppRef {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} app '{}'", self.kind, self.id)
        }
    }
}

/// What Dify reported: HTTP status, code and message, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DifyError {
    /// The HTTP status Dify answered with.
    pub status: u16,
    /// Dify's machine-readable code, such as `invalid_param`.
    pub code: String,
    /// Dify's message, such as `app not found`. Can be empty.
    pub message: String,
}

impl From<wit::DifyError> for DifyError {
    fn from(e: wit::DifyError) -> Self {
        DifyError {
            status: e.status,
            code: e.code,
            message: e.message,
        }
    }
}

impl fmt::Display for DifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Status 200 is an answer that began well: the run failed while it streamed.
        let when = match self.status {
            200 => "during the stream".to_owned(),
            status => format!("HTTP {status}"),
        };
        if self.code.is_empty() {
            write!(f, "Dify: {when}")
        } else {
            write!(f, "Dify: {when}, {}", self.code)
        }
    }
}

/// Why an app invocation failed. Mirrors the WIT `error` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppErrorKind {
    /// Dify rejected the request before the app ran (missing query, bad inputs, a response
    /// mode the app does not support).
    InvalidRequest(DifyError),
    /// No such app in this workspace (apps of other workspaces look the same), or no such
    /// conversation.
    NotFound(DifyError),
    /// The host does not let this plugin invoke apps.
    PermissionDenied(String),
    /// Refused for now; try again later.
    RateLimited(DifyError),
    /// No answer in time; the text names the limit.
    Timeout(String),
    /// Cancelled by the host.
    Cancelled,
    /// The app ran and failed.
    AppFailed(DifyError),
    /// The host or Dify failed in a way the plugin cannot fix.
    Internal(String),
}

impl From<wit::Error> for AppErrorKind {
    fn from(e: wit::Error) -> Self {
        match e {
            wit::Error::InvalidRequest(d) => AppErrorKind::InvalidRequest(d.into()),
            wit::Error::NotFound(d) => AppErrorKind::NotFound(d.into()),
            wit::Error::PermissionDenied(s) => AppErrorKind::PermissionDenied(s),
            wit::Error::RateLimited(d) => AppErrorKind::RateLimited(d.into()),
            wit::Error::Timeout(s) => AppErrorKind::Timeout(s),
            wit::Error::Cancelled => AppErrorKind::Cancelled,
            wit::Error::AppFailed(d) => AppErrorKind::AppFailed(d.into()),
            wit::Error::Internal(s) => AppErrorKind::Internal(s),
        }
    }
}

/// An error from this crate, or from a plugin's own handler.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An app invocation failed.
    App {
        /// Which app was called, and how.
        app: AppRef,
        /// What went wrong.
        kind: AppErrorKind,
    },
    /// The HTTP request to the endpoint is not what it expects (a missing path value, a body
    /// that does not parse), or a tool's parameters are values it cannot use. The HTTP caller
    /// gets a 400 with this text; Dify, a tool's invalid-parameters error.
    BadRequest(String),
    /// JSON that should have parsed did not: `what` names the document.
    Json {
        /// What was being parsed, for example `reply of workflow app 'x'`.
        what: String,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// The SDK was used in a way that cannot work; the text says how to fix it.
    Usage(String),
    /// A tool's credentials are wrong ([`Error::invalid_credentials`]): Dify tells the user to
    /// fix the provider's settings.
    InvalidCredentials(String),
    /// Dify stopped reading a tool's messages (the run was stopped, the connection dropped).
    /// Return it from [`Tool::invoke`](crate::Tool::invoke): the call ends quietly.
    Closed,
    /// A failure of the plugin's own, made with [`Error::msg`]. The caller gets a 500.
    Other(String),
}

impl Error {
    /// An error with the plugin's own message. The HTTP caller gets a 500 with this text.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error::Other(message.to_string())
    }

    /// An error that answers the HTTP caller with 400 and this text; from a tool, an
    /// invalid-parameters error with it.
    pub fn bad_request(message: impl fmt::Display) -> Self {
        Error::BadRequest(message.to_string())
    }

    /// An error that refuses a tool provider's credentials with this text: from
    /// [`Provider::validate_credentials`](crate::tool::Provider::validate_credentials), or
    /// from a tool that finds them wrong.
    pub fn invalid_credentials(message: impl fmt::Display) -> Self {
        Error::InvalidCredentials(message.to_string())
    }

    /// The app error's kind, if this is an app error.
    pub fn app_error(&self) -> Option<&AppErrorKind> {
        match self {
            Error::App { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// What the host answered a call to `app` with, as this crate's error.
    pub(crate) fn app(app: AppRef, e: wit::Error) -> Self {
        Error::App {
            app,
            kind: e.into(),
        }
    }

    /// The error the export glue hands the host: 400 for [`Error::BadRequest`], 500 otherwise.
    pub(crate) fn into_handler_error(self) -> HandlerError {
        match self {
            Error::BadRequest(m) => HandlerError::BadRequest(m),
            other => HandlerError::Internal(other.to_string()),
        }
    }

    /// The error the tool glue hands the host: [`Error::BadRequest`] means parameters the
    /// tool cannot use, [`Error::InvalidCredentials`] wrong credentials; anything else failed.
    pub(crate) fn into_tool_error(self) -> ToolError {
        match self {
            Error::BadRequest(m) => ToolError::InvalidParameters(m),
            Error::InvalidCredentials(m) => ToolError::InvalidCredentials(m),
            other => ToolError::Failed(other.to_string()),
        }
    }

    pub(crate) fn json(what: impl fmt::Display, source: serde_json::Error) -> Self {
        Error::Json {
            what: what.to_string(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::App { app, kind } => {
                write!(f, "{app}: ")?;
                fmt_app_error(f, app, kind)
            }
            Error::BadRequest(m) => write!(f, "bad request: {m}"),
            Error::Json { what, source } => write!(f, "{what} is not the JSON expected: {source}"),
            Error::Usage(m) => f.write_str(m),
            Error::InvalidCredentials(m) => write!(f, "invalid credentials: {m}"),
            Error::Closed => f.write_str("Dify stopped reading this tool's messages"),
            Error::Other(m) => f.write_str(m),
        }
    }
}

fn fmt_app_error(f: &mut fmt::Formatter<'_>, app: &AppRef, kind: &AppErrorKind) -> fmt::Result {
    match kind {
        AppErrorKind::InvalidRequest(d) => write!(f, "invalid request: {} ({d})", d.message),
        AppErrorKind::NotFound(d) if d.message.is_empty() => match app.conversation_id() {
            Some(c) => write!(
                f,
                "not found: conversation '{c}' does not exist for this app and user ({d}, empty message)"
            ),
            None => write!(f, "not found ({d}, empty message)"),
        },
        AppErrorKind::NotFound(d) => write!(f, "not found: {} ({d})", d.message),
        AppErrorKind::PermissionDenied(m) => write!(f, "permission denied: {m}"),
        AppErrorKind::RateLimited(d) => write!(f, "rate limited: {} ({d})", d.message),
        AppErrorKind::Timeout(m) => write!(f, "timed out: {m}"),
        AppErrorKind::Cancelled => f.write_str("cancelled by the host"),
        AppErrorKind::AppFailed(d) => write!(f, "the app failed: {} ({d})", d.message),
        AppErrorKind::Internal(m) => write!(f, "internal error: {m}"),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Json { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(source: serde_json::Error) -> Self {
        Error::json("a JSON document", source)
    }
}
