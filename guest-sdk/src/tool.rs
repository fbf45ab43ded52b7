//! Run tools: the [`Tool`] trait a plugin implements, the [`ToolCall`] it receives, and the
//! [`Message`]s it answers with through [`Messages`].
//!
//! A Dify tool plugin has one provider (a provider YAML, with the credentials a user enters
//! once) and one or more tools (a tool YAML each, with typed parameters), which Dify's agents
//! and workflow tool nodes call. The YAML files stay the declaration Dify shows; this module
//! is the code, as a Python plugin's `Tool` and `ToolProvider` classes are. A tool answers with
//! a stream of messages (text, JSON, links, images, files, variables), each sent to Dify as it
//! is written, and may invoke the apps of its workspace exactly as an endpoint does
//! ([`session`](crate::session)).
//!
//! The host checks the parameters against the tool's YAML before the call (required ones
//! present, each of its declared type); the tool's [`Tool::Parameters`] type then gets them
//! through serde, so a tool reads typed fields, not a map.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::body;
use crate::error::Error;
use crate::wit::dify::plugin::tool_messages as wit;
use crate::wit::exports::dify::plugin::tool::{Call as WitCall, ToolError};

/// One tool of the plugin. Export it with [`export_tools!`](crate::export_tools) or
/// [`export_plugin!`](crate::export_plugin).
///
/// Like a Python plugin's `Tool` class: `invoke` is its `_invoke`, the [`Messages`] it writes
/// into are what `_invoke` yields, and [`ToolCall`] holds what `self.runtime` does.
pub trait Tool {
    /// The tool's name, exactly as its tool YAML's `identity.name`. The host refuses a plugin
    /// whose tools and tool YAMLs do not name the same tools.
    const NAME: &'static str;

    /// The parameters, read with serde from Dify's JSON object: a struct whose fields are the
    /// parameter names of the tool YAML (`Option` for those that are not required), or
    /// [`serde_json::Value`] to read them by hand. An [`AppSelector`] field reads an
    /// `app-selector` parameter.
    type Parameters: DeserializeOwned;

    /// Run the tool: write its messages into `out`, in order, as they are ready.
    ///
    /// An `Err` ends the call with that error, after the messages already written; Dify shows
    /// its text to the user. [`Error::bad_request`] reports parameters the tool cannot use,
    /// [`Error::invalid_credentials`] credentials that turn out to be wrong.
    fn invoke(params: Self::Parameters, call: &ToolCall, out: &mut Messages) -> Result<(), Error>;
}

/// The plugin's tool provider: what checks the credentials a Dify user enters for the
/// provider (its YAML's `credentials_for_provider`), like a Python `ToolProvider`'s
/// `_validate_credentials`.
pub trait Provider {
    /// Check the credentials when a user saves them; `Err` refuses them with the error's
    /// text (use [`Error::invalid_credentials`]). The default accepts any, for a provider
    /// that declares none.
    fn validate_credentials(credentials: &Credentials) -> Result<(), Error> {
        let _ = credentials;
        Ok(())
    }
}

/// The provider of a plugin that names none: it accepts any credentials.
pub struct AnyCredentials;

impl Provider for AnyCredentials {}

/// The provider's credentials: a JSON object keyed by the names of the provider YAML's
/// `credentials_for_provider`, decrypted.
#[derive(Debug, Clone, Default)]
pub struct Credentials(Map<String, Value>);

impl Credentials {
    /// A credential by name, as JSON.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A string credential (a `secret-input` or `text-input`); an error naming it if it is
    /// absent or not a string.
    pub fn str(&self, name: &str) -> Result<&str, Error> {
        match self.0.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(Error::invalid_credentials(format!(
                "the credential '{name}' must be a string, got {other}"
            ))),
            None => Err(Error::invalid_credentials(format!(
                "the credential '{name}' is missing: enter it in the provider's settings"
            ))),
        }
    }

    /// All of them.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// What Dify says about one call, besides the parameters: Python's `self.runtime`.
#[derive(Debug, Clone)]
pub struct ToolCall {
    credentials: Credentials,
    credential_type: String,
    user_id: String,
}

impl ToolCall {
    /// The provider's credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// How Dify obtained them: `api-key`, `oauth2` or `unauthorized`.
    pub fn credential_type(&self) -> &str {
        &self.credential_type
    }

    /// The Dify user (or end user) the tool runs for; empty when Dify names none. Pass it to
    /// app calls (`.user(...)`) to run them as that user.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

/// The value of an `app-selector` parameter, as Dify's web UI stores it: the app, and the
/// inputs and files the Dify user set for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppSelector {
    /// The chosen app's id.
    pub app_id: String,
    /// Values for the app's input form, a JSON object (`{}` when none were set).
    #[serde(default = "empty_object")]
    pub inputs: Value,
    /// Files for the app, as Dify's file mappings.
    #[serde(default)]
    pub files: Vec<Value>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// One message of a tool's answer: Dify's `ToolInvokeMessage`. The constructors are the
/// Python SDK's `create_*_message` helpers.
#[derive(Debug, Clone)]
pub struct Message(wit::Message);

impl Message {
    /// Text for the user (`create_text_message`).
    pub fn text(text: impl Into<String>) -> Message {
        Message(wit::Message::Text(text.into()))
    }

    /// A JSON object or array (`create_json_message`); an error for any other JSON.
    pub fn json(value: &impl Serialize) -> Result<Message, Error> {
        match serde_json::to_value(value)? {
            value @ (Value::Object(_) | Value::Array(_)) => {
                Ok(Message(wit::Message::Json(value.to_string())))
            }
            other => Err(Error::Usage(format!(
                "a JSON message must be an object or an array, got {other}; \
                 wrap it, e.g. json!({{\"value\": ...}})"
            ))),
        }
    }

    /// A link, its URL (`create_link_message`).
    pub fn link(url: impl Into<String>) -> Message {
        Message(wit::Message::Link(url.into()))
    }

    /// An image, its URL (`create_image_message`).
    pub fn image(url: impl Into<String>) -> Message {
        Message(wit::Message::Image(url.into()))
    }

    /// A file, with its MIME type (`create_blob_message` with `meta={"mime_type": ...}`).
    pub fn blob(bytes: impl Into<Vec<u8>>, mime_type: &str) -> Message {
        let meta = serde_json::json!({ "mime_type": mime_type });
        Message::blob_with_meta(bytes, &meta)
    }

    /// A file, with any metadata object for Dify (`mime_type`, `filename`, ...).
    pub fn blob_with_meta(bytes: impl Into<Vec<u8>>, meta: &Value) -> Message {
        Message(wit::Message::Blob(wit::Blob {
            bytes: bytes.into(),
            meta: meta.to_string(),
        }))
    }

    /// A variable of the tool node's output, set whole (`create_variable_message`).
    pub fn variable(name: impl Into<String>, value: &impl Serialize) -> Result<Message, Error> {
        Ok(Message(wit::Message::Variable(wit::Variable {
            name: name.into(),
            value: serde_json::to_string(value)?,
        })))
    }

    /// The next piece of a streamed string variable (`create_stream_variable_message`): Dify
    /// appends the pieces in order.
    pub fn variable_piece(name: impl Into<String>, piece: impl Into<String>) -> Message {
        Message(wit::Message::VariablePiece(wit::VariablePiece {
            name: name.into(),
            piece: piece.into(),
        }))
    }
}

/// Where a tool writes its messages; each goes to Dify as it is written.
pub struct Messages<'a> {
    out: &'a wit::MessageWriter,
}

impl Messages<'_> {
    /// Send one message. [`Error::Closed`] means Dify stopped reading: return it (with `?`),
    /// and the call ends quietly.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        body::host_call(|| self.out.write(&message.0)).map_err(|e| match e {
            wit::MessageError::Closed => Error::Closed,
            wit::MessageError::Invalid(m) => Error::Usage(format!("Dify refused a message: {m}")),
            wit::MessageError::TooLarge(m) => Error::Usage(m),
        })
    }

    /// Send a text message.
    pub fn text(&mut self, text: impl Into<String>) -> Result<(), Error> {
        self.send(Message::text(text))
    }

    /// Send a JSON object or array.
    pub fn json(&mut self, value: &impl Serialize) -> Result<(), Error> {
        self.send(Message::json(value)?)
    }

    /// Set a variable of the tool node's output.
    pub fn variable(&mut self, name: &str, value: &impl Serialize) -> Result<(), Error> {
        self.send(Message::variable(name, value)?)
    }
}

/// The name the export macro declares for a tool type.
#[doc(hidden)]
pub fn __name<T: Tool>() -> String {
    T::NAME.to_owned()
}

/// Whether this call is for the tool type `T`.
#[doc(hidden)]
pub fn __is_call_of<T: Tool>(call: &WitCall) -> bool {
    call.tool == T::NAME
}

/// A call for a tool this plugin does not have: the host checks names first, so this is a
/// host bug, reported as such.
#[doc(hidden)]
pub fn __unknown(call: &WitCall) -> Result<(), ToolError> {
    Err(ToolError::Failed(format!(
        "the host called tool '{}', which this plugin does not have",
        call.tool
    )))
}

/// The glue behind the export macros: reads the call, runs the tool, maps its error.
#[doc(hidden)]
pub fn __invoke<T: Tool>(call: WitCall, out: &wit::MessageWriter) -> Result<(), ToolError> {
    crate::logging::install();
    let params: T::Parameters = serde_json::from_str(&call.parameters).map_err(|e| {
        ToolError::InvalidParameters(format!(
            "the parameters of tool '{}' do not fit its Parameters type: {e}",
            T::NAME
        ))
    })?;
    let context = ToolCall {
        credentials: credentials(&call.credentials)?,
        credential_type: call.credential_type,
        user_id: call.user_id,
    };
    match T::invoke(params, &context, &mut Messages { out }) {
        Ok(()) | Err(Error::Closed) => Ok(()),
        Err(e) => Err(e.into_tool_error()),
    }
}

/// The glue behind the export macros for `validate-credentials`.
#[doc(hidden)]
pub fn __validate<P: Provider>(credentials_json: String) -> Result<(), ToolError> {
    crate::logging::install();
    P::validate_credentials(&credentials(&credentials_json)?).map_err(Error::into_tool_error)
}

fn credentials(text: &str) -> Result<Credentials, ToolError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(Credentials(map)),
        Ok(Value::Null) => Ok(Credentials::default()),
        Ok(other) => Err(ToolError::Failed(format!(
            "the host sent credentials that are not a JSON object: {other}"
        ))),
        Err(e) => Err(ToolError::Failed(format!(
            "the host sent credentials that are not JSON: {e}"
        ))),
    }
}
