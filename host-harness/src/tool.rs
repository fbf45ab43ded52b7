//! Calling a plugin's tools: the [`ToolRequest`] Dify makes, and the [`ToolResponse`]: the
//! tool's messages, each the JSON Dify's plugin daemon receives (`ToolResponseChunk`), as the
//! tool writes them.
//!
//! [`Plugin::invoke_tool`](crate::Plugin::invoke_tool) runs the request as it is. The daemon
//! front end and `dify-plugin-host tool` first check its parameters against the tool's YAML
//! (`ToolDeclaration::check_parameters` of [`crate::daemon::declaration::Declaration`]), as a tool in Dify
//! gets them: do the same in a test that should see what Dify's users see.

use std::fmt;
use std::sync::mpsc::Receiver;

use serde_json::{Map, Value};

use crate::endpoint::{PluginFailure, RequestStats};
use crate::response::{self, Body, Message};

/// One call of one tool, as Dify's plugin daemon sends it (`invoke_tool`).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRequest {
    /// The tool's name (its YAML's `identity.name`).
    pub tool: String,
    /// The parameters, by name.
    pub parameters: Map<String, Value>,
    /// The provider's credentials, by name.
    pub credentials: Map<String, Value>,
    /// `api-key` (Dify's default), `oauth2` or `unauthorized`.
    pub credential_type: String,
    /// The Dify user the tool runs for; empty for none.
    pub user_id: String,
}

impl ToolRequest {
    /// A call of `tool` with no parameters, no credentials and no user.
    pub fn new(tool: impl Into<String>) -> Self {
        ToolRequest {
            tool: tool.into(),
            parameters: Map::new(),
            credentials: Map::new(),
            credential_type: "api-key".into(),
            user_id: String::new(),
        }
    }

    /// Set one parameter.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }

    /// Set one credential.
    pub fn credential(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.credentials.insert(name.into(), value.into());
        self
    }

    /// Run the tool for this Dify user.
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = user_id.into();
        self
    }
}

/// One message of a tool's answer: `{"type", "message", "meta"}`, exactly what the daemon
/// receives (a file arrives as several `blob_chunk` messages).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolMessage(Value);

impl ToolMessage {
    /// The message's type: `text`, `json`, `link`, `image`, `blob_chunk`, `variable`.
    pub fn kind(&self) -> &str {
        self.0["type"].as_str().unwrap_or_default()
    }

    /// Its payload: `{"text": …}`, `{"json_object": …}`, `{"variable_name", …}`, ...
    pub fn message(&self) -> &Value {
        &self.0["message"]
    }

    /// The text of a `text`, `link` or `image` message.
    pub fn text(&self) -> Option<&str> {
        self.0["message"]["text"].as_str()
    }

    /// The whole message, as JSON.
    pub fn as_json(&self) -> &Value {
        &self.0
    }

    /// The whole message, as JSON.
    pub fn into_json(self) -> Value {
        self.0
    }
}

impl fmt::Display for ToolMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A tool's answer, its messages streamed as the tool writes them.
///
/// Iterate it for the messages. A tool that fails yields one `Err` as the last item, after
/// the messages it wrote before.
pub struct ToolResponse {
    rx: Option<Receiver<Message>>,
    /// A failure before the tool ran (the host could not start it).
    failed: Option<PluginFailure>,
    stats: Option<RequestStats>,
}

impl fmt::Debug for ToolResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolResponse").finish_non_exhaustive()
    }
}

impl ToolResponse {
    pub(crate) fn from_channel(rx: Receiver<Message>) -> Self {
        ToolResponse {
            rx: Some(rx),
            failed: None,
            stats: None,
        }
    }

    pub(crate) fn failed(failure: PluginFailure) -> Self {
        ToolResponse {
            rx: None,
            failed: Some(failure),
            stats: None,
        }
    }

    /// Read all the messages; `Err` if the tool failed (the messages before it are lost:
    /// iterate to keep them).
    pub fn messages(self) -> Result<Vec<ToolMessage>, PluginFailure> {
        self.collect()
    }

    /// What the call did, once the tool has finished (after the messages were read).
    pub fn stats(&self) -> Option<RequestStats> {
        self.stats
    }
}

impl Iterator for ToolResponse {
    type Item = Result<ToolMessage, PluginFailure>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(failure) = self.failed.take() {
            return Some(Err(failure));
        }
        let rx = self.rx.as_ref()?;
        let item = match response::next(response::receive(rx)) {
            Body::Chunk(bytes) => {
                return Some(
                    serde_json::from_slice(&bytes)
                        .map(ToolMessage)
                        .map_err(|e| {
                            PluginFailure::Host(format!("a tool message is not JSON: {e}"))
                        }),
                );
            }
            Body::End(result, stats) => {
                self.stats = stats;
                result.err().map(Err)
            }
        };
        self.rx = None;
        item
    }
}
