//! From the request body to the app call's parameters: the JSON body, the inputs, and for
//! chat routes `query` and `conversation_id`.
//!
//! The body is read as Werkzeug's `get_json()` reads it for the original: only when sent as
//! JSON (`application/json` or `application/*+json`). Where the original then failed with a
//! 500 (the wrong Content-Type, an empty or broken body, a body that is not an object), the
//! caller gets a 415 or a 400 that says what was wrong. The URL's query string is never an
//! input.

use dify_plugin::prelude::*;
use serde_json::Map;

use crate::{Halt, error, python_json};

/// The body's JSON text, once its Content-Type says it is JSON and it is not empty.
fn json_bytes(req: &Request) -> Result<&[u8], Halt> {
    let content_type = req.header("content-type").unwrap_or_default();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let is_json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if !is_json {
        return Err(error(
            415,
            format!(
                "the request body must be sent as JSON (Content-Type: application/json), got Content-Type: '{content_type}'"
            ),
        ));
    }
    if req.body().iter().all(u8::is_ascii_whitespace) {
        return Err(error(400, "the request body is empty; it must be JSON"));
    }
    Ok(req.body())
}

/// The body, parsed.
pub fn parse(req: &Request) -> Result<Value, Halt> {
    serde_json::from_slice(json_bytes(req)?).map_err(not_json)
}

/// The body as Python's `json.dumps` writes it, for `json_string_input`.
pub fn python_json_text(req: &Request) -> Result<String, Halt> {
    python_json::dumps(json_bytes(req)?).map_err(not_json)
}

fn not_json(e: serde_json::Error) -> Halt {
    error(400, format!("the request body is not valid JSON: {e}"))
}

/// The body, split as the app call needs it.
pub struct Parts {
    /// The app's inputs.
    pub inputs: Map<String, Value>,
    /// With explicit inputs, the body's other keys, where `query` and `conversation_id` are
    /// read; without, they are taken out of the inputs.
    top_level: Option<Map<String, Value>>,
}

/// Split the body: the inputs are `body.inputs` (none is `{}`) when `explicit`, else the
/// whole body.
pub fn split(body: Value, explicit: bool) -> Result<Parts, Halt> {
    let (inputs, top_level) = if explicit {
        let Value::Object(mut body) = body else {
            return Err(error(400, "the request body must be a JSON object"));
        };
        let inputs = body
            .remove("inputs")
            .unwrap_or_else(|| Value::Object(Map::new()));
        (inputs, Some(body))
    } else {
        (body, None)
    };
    match inputs {
        Value::Object(inputs) => Ok(Parts { inputs, top_level }),
        _ => Err(error(400, "inputs must be an object")),
    }
}

/// What a chat app needs besides its inputs.
pub struct ChatParams {
    pub query: String,
    /// `""` is sent as is: Dify starts a new conversation.
    pub conversation_id: Option<String>,
}

impl Parts {
    /// `query` and `conversation_id`. Without explicit inputs they are taken out of the
    /// inputs, so that they do not reach the app twice; every other key stays an input.
    pub fn chat_params(&mut self) -> Result<ChatParams, Halt> {
        let source = self.top_level.as_mut().unwrap_or(&mut self.inputs);
        let query = match source.remove("query") {
            Some(Value::String(query)) if !query.is_empty() => query,
            _ => return Err(error(400, "query must be a string")),
        };
        let conversation_id = match source.remove("conversation_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id),
            Some(_) => return Err(error(400, "conversation_id must be a string")),
        };
        Ok(ChatParams {
            query,
            conversation_id,
        })
    }
}
