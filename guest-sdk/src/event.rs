//! The events a streaming app run yields, as JSON text with typed views.
//!
//! An [`Event`] keeps the JSON text exactly as the host delivered it, so forwarding an event
//! (`format!("{event}")`, `serde_json::to_string(&event)`) never parses or re-serialises it.
//! [`Event::kind`] parses it into a typed view of the events Dify documents, and keeps any
//! other event whole in [`EventKind::Other`]: Dify adds events over time, and none is lost.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

/// One event of a streaming run: its name and its JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    name: String,
    json: String,
}

impl Event {
    /// An event from its name and JSON text. The host builds events; this is for tests.
    pub fn new(name: impl Into<String>, json: impl Into<String>) -> Self {
        Event {
            name: name.into(),
            json: json.into(),
        }
    }

    /// The event's name: `message`, `workflow_finished`, `error`, ...
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole event object as JSON text, exactly as Dify sent it.
    pub fn as_json(&self) -> &str {
        &self.json
    }

    /// The JSON text, by value.
    pub fn into_json(self) -> String {
        self.json
    }

    /// Parse the event into a `serde_json::Value`.
    pub fn to_value(&self) -> Result<Value, Error> {
        self.parse()
    }

    /// Parse the event into any type that implements `Deserialize`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.json)
            .map_err(|e| Error::json(format_args!("event '{}'", self.name), e))
    }

    /// A typed view of the event. Events this crate does not know come back whole as
    /// [`EventKind::Other`].
    pub fn kind(&self) -> Result<EventKind, Error> {
        Ok(match self.name.as_str() {
            "message" => EventKind::Message(self.parse()?),
            "agent_message" => EventKind::AgentMessage(self.parse()?),
            "agent_thought" => EventKind::AgentThought(self.parse()?),
            "message_file" => EventKind::MessageFile(self.parse()?),
            "message_replace" => EventKind::MessageReplace(self.parse()?),
            "message_end" => EventKind::MessageEnd(self.parse()?),
            "workflow_started" => EventKind::WorkflowStarted(self.parse()?),
            "node_started" => EventKind::NodeStarted(self.parse()?),
            "node_finished" => EventKind::NodeFinished(self.parse()?),
            "text_chunk" => EventKind::TextChunk(self.parse()?),
            "workflow_finished" => EventKind::WorkflowFinished(self.parse()?),
            "error" => EventKind::Error(self.parse()?),
            _ => EventKind::Other(self.parse()?),
        })
    }
}

/// Writes the JSON text unchanged.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json)
    }
}

/// Serialises as the JSON object itself (not as a string), without re-encoding it; only
/// whitespace around the object, which Dify never sends, is dropped.
impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&self.json).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// Typed views of the events Dify documents (`api/core/app/entities/task_entities.py`).
///
/// Fields that not every app mode sends are `Option`s. Fields not listed here are still in
/// the event's JSON text ([`Event::as_json`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// A piece of the answer of a chat, chatflow or completion app.
    Message(MessageChunk),
    /// A piece of the answer of an agent app.
    AgentMessage(MessageChunk),
    /// A step of an agent's reasoning or tool use.
    AgentThought(AgentThought),
    /// A file attached to the message. Dify also sends answer pieces under this name once a
    /// message has a file; their `answer` is then set.
    MessageFile(MessageFile),
    /// Output moderation replaced the answer so far.
    MessageReplace(MessageReplace),
    /// The message is complete; carries usage and retriever metadata.
    MessageEnd(MessageEnd),
    /// A workflow run (also the workflow inside a chatflow) started.
    WorkflowStarted(WorkflowStarted),
    /// A node started.
    NodeStarted(NodeEvent),
    /// A node finished, successfully or not (`data.status`).
    NodeFinished(NodeEvent),
    /// A piece of a workflow's streamed output.
    TextChunk(TextChunk),
    /// A workflow run finished, successfully or not (`data.status`).
    WorkflowFinished(WorkflowFinished),
    /// The run failed while streaming. The stream ends after it.
    Error(ErrorEvent),
    /// Any other event (`tts_message`, `iteration_started`, `agent_log`, ...), whole.
    Other(Value),
}

/// `message` and `agent_message`: a piece of the answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MessageChunk {
    /// The message id.
    pub id: String,
    /// The new piece of text (a delta, not the whole answer so far).
    pub answer: String,
    /// The conversation, for chat-type apps.
    pub conversation_id: Option<String>,
    /// Where the text came from in a chatflow, such as `["sys", "query"]`.
    pub from_variable_selector: Option<Vec<String>>,
    /// When the message was created, in Unix seconds.
    pub created_at: Option<i64>,
}

/// `agent_thought`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct AgentThought {
    /// The thought's id.
    pub id: String,
    /// Its position in the agent's reasoning, from 1.
    pub position: u32,
    /// The agent's thought text.
    #[serde(default)]
    pub thought: String,
    /// The tool(s) called, if any.
    #[serde(default)]
    pub tool: String,
    /// The tool input, as JSON text.
    #[serde(default)]
    pub tool_input: String,
    /// What the tool returned.
    #[serde(default)]
    pub observation: String,
    /// The conversation.
    pub conversation_id: Option<String>,
}

/// `message_file`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MessageFile {
    /// The file's (or message's) id.
    pub id: String,
    /// The file type, such as `image`.
    #[serde(rename = "type")]
    pub file_type: Option<String>,
    /// `user` or `assistant`.
    pub belongs_to: Option<String>,
    /// Where to fetch the file.
    pub url: Option<String>,
    /// An answer piece, when Dify uses this event name for message deltas.
    pub answer: Option<String>,
    /// The conversation.
    pub conversation_id: Option<String>,
}

/// `message_replace`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MessageReplace {
    /// The replacement answer.
    pub answer: String,
    /// Why it was replaced.
    #[serde(default)]
    pub reason: String,
}

/// `message_end`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MessageEnd {
    /// The message id.
    pub id: String,
    /// The conversation, for chat-type apps: pass it back to continue the conversation.
    pub conversation_id: Option<String>,
    /// `usage`, `retriever_resources` and `annotation_reply`.
    #[serde(default)]
    pub metadata: Value,
    /// Files of the message, if any.
    pub files: Option<Vec<Value>>,
}

/// `workflow_started`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct WorkflowStarted {
    /// The run's id.
    pub workflow_run_id: String,
    /// Details of the run.
    pub data: WorkflowStartedData,
}

/// The `data` of `workflow_started`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct WorkflowStartedData {
    /// The workflow's id.
    pub workflow_id: String,
    /// The inputs, including Dify's `sys.*` variables.
    #[serde(default)]
    pub inputs: Map<String, Value>,
}

/// `node_started` and `node_finished`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct NodeEvent {
    /// The run's id.
    pub workflow_run_id: String,
    /// Details of the node.
    pub data: NodeData,
}

/// The `data` of a node event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct NodeData {
    /// The node's id in the graph.
    pub node_id: String,
    /// `start`, `llm`, `answer`, `end`, `code`, ...
    pub node_type: String,
    /// The node's title.
    #[serde(default)]
    pub title: String,
    /// `succeeded`, `failed`, ... (`node_finished` only).
    pub status: Option<String>,
    /// The node's outputs (`node_finished` only).
    pub outputs: Option<Value>,
    /// Why the node failed, if it did.
    pub error: Option<String>,
}

/// `text_chunk`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TextChunk {
    /// The run's id.
    pub workflow_run_id: String,
    /// The text.
    pub data: TextChunkData,
}

/// The `data` of `text_chunk`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TextChunkData {
    /// A piece of the output text.
    pub text: String,
    /// Which variable it belongs to.
    pub from_variable_selector: Option<Vec<String>>,
}

/// `workflow_finished`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct WorkflowFinished {
    /// The run's id.
    pub workflow_run_id: String,
    /// The outcome.
    pub data: WorkflowFinishedData,
}

/// The `data` of `workflow_finished`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct WorkflowFinishedData {
    /// `succeeded`, `failed`, `stopped`, `partial-succeeded`, ...
    pub status: String,
    /// The workflow's outputs.
    pub outputs: Option<Value>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// How long the run took, in seconds.
    pub elapsed_time: Option<f64>,
    /// Tokens spent.
    pub total_tokens: Option<u64>,
}

/// `error`: the run failed while streaming.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ErrorEvent {
    /// Dify's code, such as `completion_request_error` or `invalid_param`.
    pub code: String,
    /// Dify's message.
    pub message: String,
    /// The HTTP-like status Dify attached.
    pub status: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_serialize_keep_the_json_text_unchanged() {
        let text = r#"{"event":"message","answer":"Hi","z":1,"a":2}"#;
        let event = Event::new("message", text);
        assert_eq!(event.to_string(), text);
        assert_eq!(serde_json::to_string(&event).unwrap(), text);
    }

    #[test]
    fn known_events_get_typed_views() {
        let event = Event::new(
            "message",
            r#"{"event":"message","id":"m1","answer":"Hel","conversation_id":"c1","from_variable_selector":null}"#,
        );
        let EventKind::Message(chunk) = event.kind().unwrap() else {
            panic!("not a message")
        };
        assert_eq!(chunk.answer, "Hel");
        assert_eq!(chunk.conversation_id.as_deref(), Some("c1"));
    }

    #[test]
    fn unknown_events_are_kept_whole() {
        let text = r#"{"event":"tts_message","audio":"AAAA","task_id":"t"}"#;
        let kind = Event::new("tts_message", text).kind().unwrap();
        assert_eq!(
            kind,
            EventKind::Other(serde_json::from_str::<Value>(text).unwrap())
        );
    }

    #[test]
    fn a_malformed_known_event_names_itself_in_the_error() {
        let err = Event::new("workflow_finished", r#"{"event":"workflow_finished"}"#)
            .kind()
            .unwrap_err();
        assert!(
            err.to_string().contains("event 'workflow_finished'"),
            "{err}"
        );
    }
}
