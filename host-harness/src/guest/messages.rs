//! `message-writer`: a tool's messages, turned into the JSON Dify's plugin daemon takes
//! (`ToolResponseChunk`: `{"type", "message", "meta"}`) and handed to the request's sink, one
//! whole message per piece.
//!
//! The shapes are the Python SDK's (`dify_plugin` 0.10.2, `ToolInvokeMessage`): text, link
//! and image are `{"text": …}`, JSON is `{"json_object": …}`, a variable is
//! `{"variable_name", "variable_value", "stream"}`. A file is never sent whole: as the SDK
//! does, it goes as `blob_chunk`s of 8,192 bytes (base64) under one random id, then a last
//! chunk with `end: true`, the file's metadata on each; Dify reassembles them, and refuses a
//! chunk of more than 8 KiB or a file of more than 30 MiB. What Dify would refuse later (a
//! `json` message that is not an object or array, a reserved variable name, metadata that is
//! not an object) is refused here, at the `write`, where the plugin can still say why.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wasmtime::component::Resource;

use super::bindings::http::WriteError;
use super::bindings::tool_messages::{self, Message, MessageError};
use super::resources::HostMessageWriter;
use super::state::PluginState;

/// The bytes of a file per `blob_chunk` (the SDK's, and Dify's largest).
const BLOB_CHUNK: usize = 8192;
/// The largest file Dify accepts from a tool (`merge_blob_chunks`' `max_file_size`).
const MAX_BLOB: usize = 30 << 20;
/// The largest message: below the 5 MiB line limit of the daemon's local runtime, which
/// kills a plugin that writes a longer line.
pub(crate) const MAX_MESSAGE: usize = 4 << 20;
/// Variable names Dify keeps for itself (a tool node's `text`, `json` and `files` outputs).
const RESERVED: [&str; 3] = ["text", "json", "files"];

impl tool_messages::Host for PluginState {}

impl tool_messages::HostMessageWriter for PluginState {
    fn write(
        &mut self,
        _: Resource<HostMessageWriter>,
        message: Message,
    ) -> wasmtime::Result<Result<(), MessageError>> {
        self.within_budget()?;
        let chunks = match chunks(message) {
            Ok(chunks) => chunks,
            Err(invalid) => return Ok(Err(invalid)),
        };
        for chunk in chunks {
            let bytes = serde_json::to_vec(&chunk).unwrap_or_default();
            if bytes.len() > MAX_MESSAGE {
                return Ok(Err(MessageError::TooLarge(format!(
                    "a message of {} bytes: the host sends at most {MAX_MESSAGE} bytes in one \
                     (Dify's plugin daemon drops a plugin that writes a longer line); send a \
                     large file as a blob, which goes in pieces",
                    bytes.len()
                ))));
            }
            if let Err(e) = self.sink.message(bytes) {
                return Ok(Err(match e {
                    WriteError::TooLarge(m) => MessageError::TooLarge(m),
                    WriteError::Closed | WriteError::OutOfOrder => MessageError::Closed,
                }));
            }
        }
        Ok(Ok(()))
    }

    fn drop(&mut self, writer: Resource<HostMessageWriter>) -> wasmtime::Result<()> {
        self.table.delete(writer)?;
        Ok(())
    }
}

fn chunk(kind: &str, message: Value, meta: Value) -> Value {
    json!({"type": kind, "message": message, "meta": meta})
}

/// Parse the JSON text of `what`, or say that it is not JSON.
fn parse(text: &str, what: &str) -> Result<Value, MessageError> {
    serde_json::from_str(text)
        .map_err(|e| MessageError::Invalid(format!("{what} is not JSON: {e}")))
}

fn variable_name(name: &str) -> Result<(), MessageError> {
    if RESERVED.contains(&name) {
        return Err(MessageError::Invalid(format!(
            "the variable name '{name}' is Dify's own (it reserves text, json and files); \
             choose another"
        )));
    }
    if name.is_empty() {
        return Err(MessageError::Invalid("a variable needs a name".into()));
    }
    Ok(())
}

/// The daemon's chunks for one message: one, or a file's pieces.
fn chunks(message: Message) -> Result<Vec<Value>, MessageError> {
    Ok(match message {
        Message::Text(text) => vec![chunk("text", json!({"text": text}), Value::Null)],
        Message::Link(url) => vec![chunk("link", json!({"text": url}), Value::Null)],
        Message::Image(url) => vec![chunk("image", json!({"text": url}), Value::Null)],
        Message::Json(text) => match parse(&text, "a json message")? {
            value @ (Value::Object(_) | Value::Array(_)) => {
                vec![chunk("json", json!({"json_object": value}), Value::Null)]
            }
            other => {
                return Err(MessageError::Invalid(format!(
                    "a json message must be an object or an array, not {other}"
                )));
            }
        },
        Message::Variable(v) => {
            variable_name(&v.name)?;
            let value = parse(&v.value, &format!("the value of variable '{}'", v.name))?;
            let message =
                json!({"variable_name": v.name, "variable_value": value, "stream": false});
            vec![chunk("variable", message, Value::Null)]
        }
        Message::VariablePiece(v) => {
            variable_name(&v.name)?;
            let message =
                json!({"variable_name": v.name, "variable_value": v.piece, "stream": true});
            vec![chunk("variable", message, Value::Null)]
        }
        Message::Blob(blob) => {
            let meta = match parse(&blob.meta, "a blob's meta")? {
                meta @ Value::Object(_) => meta,
                other => {
                    return Err(MessageError::Invalid(format!(
                        "a blob's meta must be a JSON object, not {other}"
                    )));
                }
            };
            if blob.bytes.len() > MAX_BLOB {
                return Err(MessageError::TooLarge(format!(
                    "a file of {} bytes: Dify takes at most {MAX_BLOB} bytes from a tool",
                    blob.bytes.len()
                )));
            }
            blob_chunks(&blob.bytes, &meta)
        }
    })
}

/// A file as the Python SDK sends it: pieces of [`BLOB_CHUNK`] bytes, then an empty last one
/// with `end: true`, all under one id.
fn blob_chunks(bytes: &[u8], meta: &Value) -> Vec<Value> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let total = bytes.len();
    let piece = |sequence: usize, data: &[u8], end: bool| {
        let message = json!({
            "id": id,
            "sequence": sequence,
            "total_length": total,
            "blob": STANDARD.encode(data),
            "end": end,
        });
        chunk("blob_chunk", message, meta.clone())
    };
    let mut chunks: Vec<Value> = bytes
        .chunks(BLOB_CHUNK)
        .enumerate()
        .map(|(i, data)| piece(i, data, false))
        .collect();
    chunks.push(piece(chunks.len(), &[], true));
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::bindings::tool_messages::{Blob, Variable, VariablePiece};

    fn one(message: Message) -> Value {
        let mut chunks = chunks(message).unwrap();
        assert_eq!(chunks.len(), 1);
        chunks.remove(0)
    }

    #[test]
    fn messages_have_the_python_sdks_shapes() {
        assert_eq!(
            one(Message::Text("hi".into())),
            json!({"type": "text", "message": {"text": "hi"}, "meta": null})
        );
        assert_eq!(
            one(Message::Json(r#"{"a":1}"#.into())),
            json!({"type": "json", "message": {"json_object": {"a": 1}}, "meta": null})
        );
        assert_eq!(
            one(Message::Image("http://x/i.png".into())),
            json!({"type": "image", "message": {"text": "http://x/i.png"}, "meta": null})
        );
        assert_eq!(
            one(Message::Variable(Variable {
                name: "v".into(),
                value: r#"{"k":[1]}"#.into()
            })),
            json!({"type": "variable", "message": {"variable_name": "v", "variable_value": {"k": [1]}, "stream": false}, "meta": null})
        );
        assert_eq!(
            one(Message::VariablePiece(VariablePiece {
                name: "v".into(),
                piece: "to".into()
            })),
            json!({"type": "variable", "message": {"variable_name": "v", "variable_value": "to", "stream": true}, "meta": null})
        );
    }

    #[test]
    fn a_file_goes_in_pieces_of_8192_bytes_then_an_end() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let meta = r#"{"mime_type":"application/octet-stream"}"#;
        let chunks = chunks(Message::Blob(Blob {
            bytes: bytes.clone(),
            meta: meta.into(),
        }))
        .unwrap();
        assert_eq!(chunks.len(), 3);
        let id = chunks[0]["message"]["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 32);
        let mut joined = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c["type"], "blob_chunk");
            assert_eq!(c["meta"]["mime_type"], "application/octet-stream");
            assert_eq!(c["message"]["id"], id.as_str());
            assert_eq!(c["message"]["sequence"], i);
            assert_eq!(c["message"]["total_length"], 10_000);
            assert_eq!(c["message"]["end"], i == 2);
            let piece = STANDARD
                .decode(c["message"]["blob"].as_str().unwrap())
                .unwrap();
            assert!(piece.len() <= BLOB_CHUNK);
            joined.extend(piece);
        }
        assert_eq!(joined, bytes);
        // An empty file is its end alone, as in the SDK.
        let empty = chunks_of_empty();
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0]["message"]["end"], true);
        assert_eq!(empty[0]["message"]["blob"], "");
    }

    fn chunks_of_empty() -> Vec<Value> {
        chunks(Message::Blob(Blob {
            bytes: vec![],
            meta: "{}".into(),
        }))
        .unwrap()
    }

    #[test]
    fn what_dify_would_refuse_is_refused_with_the_reason() {
        let refused = |m: Message| match chunks(m) {
            Err(MessageError::Invalid(text)) => text,
            other => panic!("not refused: {other:?}"),
        };
        assert!(refused(Message::Json("3".into())).contains("object or an array, not 3"));
        assert!(refused(Message::Json("{".into())).contains("not JSON"));
        assert!(
            refused(Message::Variable(Variable {
                name: "text".into(),
                value: "1".into()
            }))
            .contains("reserves text, json and files")
        );
        assert!(
            refused(Message::Blob(Blob {
                bytes: vec![1],
                meta: "[]".into()
            }))
            .contains("meta must be a JSON object")
        );
    }
}
