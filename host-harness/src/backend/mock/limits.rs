//! Bounds on what a plugin sends the mock, where Dify itself has none, and the summaries
//! the call log keeps.
//!
//! Dify 1.13 bounds an input only by the `max_length` of its form variable (`forms.rs`); it
//! has no limit on the query, on a variable without `max_length`, on unknown extra keys
//! (which it accepts, CAP `inner-17`) or on the whole request (DIFY `base_app_generator.py`
//! `_validate_inputs`, `advanced_chat/app_generator.py`: the query is only stripped of NULs).
//! The mock must still be bounded, so beyond Dify's own checks it refuses, with Dify's 400
//! `invalid_param` and a message naming the limit:
//!
//! - a query longer than [`MAX_QUERY_BYTES`] (1 MiB);
//! - an input value longer than [`MAX_INPUT_BYTES`] (1 MiB: a string's bytes, or any other
//!   value's JSON);
//! - an input name longer than [`MAX_INPUT_NAME_BYTES`] (256 bytes; Dify's variable names are
//!   short identifiers, and a workflow's every `text_chunk` event repeats its output's name);
//! - inputs and files whose JSON together exceeds [`MAX_REQUEST_BYTES`] (5 MiB).
//!
//! 5 MiB is the default `PLUGIN_RUNTIME_MAX_BUFFER_SIZE` of Dify's plugin daemon (DMN
//! `internal/types/app/config.go`), the longest message a plugin can send it: a request
//! bigger than that never reaches a real Dify. 1 MiB per value is generous for text a plugin
//! passes on and still keeps one value's events cheap.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    LOGGED_FILES_BYTES, LOGGED_ID_BYTES, LOGGED_TEXT_BYTES, MAX_INPUT_BYTES, MAX_INPUT_NAME_BYTES,
    MAX_QUERY_BYTES, MAX_REQUEST_BYTES, TRUNCATED_KEY,
};
use crate::backend::AppRequest;

/// The mock's own bounds; the error is the message of a 400 `invalid_param`.
pub fn check(req: &AppRequest) -> Result<(), String> {
    if let Some(query) = &req.query
        && query.len() > MAX_QUERY_BYTES
    {
        return Err(format!(
            "query is {} bytes long; the mock Dify accepts at most {MAX_QUERY_BYTES} bytes ({} MiB)",
            query.len(),
            MAX_QUERY_BYTES >> 20
        ));
    }
    let total = json_len(&req.inputs).saturating_add(json_len(&req.files));
    if total > MAX_REQUEST_BYTES {
        return Err(format!(
            "inputs and files are {total} bytes of JSON; the mock Dify accepts at most \
             {MAX_REQUEST_BYTES} bytes ({} MiB) per call",
            MAX_REQUEST_BYTES >> 20
        ));
    }
    for (name, value) in &req.inputs {
        if name.len() > MAX_INPUT_NAME_BYTES {
            return Err(format!(
                "the input name '{}' is {} bytes long; the mock Dify accepts names of at most \
                 {MAX_INPUT_NAME_BYTES} bytes",
                quoted(name),
                name.len()
            ));
        }
        let len = match value {
            Value::String(text) => text.len(),
            other => json_len(other),
        };
        if len > MAX_INPUT_BYTES {
            return Err(format!(
                "{name} in input form is {len} bytes long; the mock Dify accepts at most \
                 {MAX_INPUT_BYTES} bytes ({} MiB) per input",
                MAX_INPUT_BYTES >> 20
            ));
        }
    }
    Ok(())
}

/// What the call log keeps of a request: every field whole up to its cap, the rest cut
/// with a marker saying how much (see [`super::ReceivedCall`]).
pub fn summary(req: AppRequest) -> AppRequest {
    let mut budget = LOGGED_TEXT_BYTES;
    let inputs = if req
        .inputs
        .iter()
        .all(|entry| entry_fits(entry, &mut budget))
    {
        req.inputs
    } else {
        let prefix = json_prefix(&req.inputs, LOGGED_TEXT_BYTES);
        Map::from_iter([(TRUNCATED_KEY.to_owned(), Value::String(prefix))])
    };
    let mut budget = LOGGED_FILES_BYTES;
    let files = if req.files.iter().all(|file| fits(file, &mut budget)) {
        req.files
    } else {
        vec![Value::String(json_prefix(&req.files, LOGGED_FILES_BYTES))]
    };
    AppRequest {
        app_id: cut(req.app_id, LOGGED_ID_BYTES),
        query: req.query.map(|q| cut(q, LOGGED_TEXT_BYTES)),
        inputs,
        conversation_id: req.conversation_id.map(|c| cut(c, LOGGED_ID_BYTES)),
        files,
        user: req.user.map(|u| cut(u, LOGGED_ID_BYTES)),
        ..req
    }
}

/// Whether `value` takes at most `budget` bytes of memory, roughly: a `Value` slot per
/// node, a string's text, a map entry's key and index. Memory, not JSON length, is what a
/// kept call costs: 2 KiB of `[[[…]]]` or `{"a":1,…}` JSON would take ten times that.
/// Stops at the first node over budget, so the walk is short and shallow whatever the
/// value.
fn fits(value: &Value, budget: &mut usize) -> bool {
    let own = size_of::<Value>()
        + match value {
            Value::String(text) => text.len(),
            Value::Array(_) | Value::Object(_) => 64,
            _ => 0,
        };
    let Some(left) = budget.checked_sub(own) else {
        return false;
    };
    *budget = left;
    match value {
        Value::Array(items) => items.iter().all(|item| fits(item, budget)),
        Value::Object(map) => map.iter().all(|entry| entry_fits(entry, budget)),
        _ => true,
    }
}

fn entry_fits((key, value): (&String, &Value), budget: &mut usize) -> bool {
    let own = key.len() + size_of::<String>() + 16;
    match budget.checked_sub(own) {
        Some(left) => {
            *budget = left;
            fits(value, budget)
        }
        None => false,
    }
}

/// The marker after a cut text.
fn marker(cut: usize, total: usize) -> String {
    format!("…[cut {cut} of {total} bytes]")
}

/// `text` if it has at most `cap` bytes, else its first `cap` bytes (to a character
/// boundary) and the marker.
fn cut(mut text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let total = text.len();
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&marker(total - end, total));
    text
}

/// The first `cap` bytes of `value`'s JSON (to a character boundary) and the marker; never
/// holds more than `cap` bytes of that JSON.
fn json_prefix(value: &impl Serialize, cap: usize) -> String {
    let mut w = Prefix {
        kept: Vec::new(),
        cap,
        total: 0,
    };
    // Writing to memory cannot fail, nor can serializing a `Value`.
    let _ = serde_json::to_writer(&mut w, value);
    let end = match std::str::from_utf8(&w.kept) {
        Ok(text) => text.len(),
        Err(e) => e.valid_up_to(),
    };
    w.kept.truncate(end);
    let mut text = String::from_utf8(w.kept).unwrap_or_default();
    text.push_str(&marker(w.total - end, w.total));
    text
}

/// The length of `value`'s JSON, counted without building it.
fn json_len(value: &impl Serialize) -> usize {
    let mut w = Prefix {
        kept: Vec::new(),
        cap: 0,
        total: 0,
    };
    match serde_json::to_writer(&mut w, value) {
        Ok(()) => w.total,
        Err(_) => usize::MAX,
    }
}

/// Counts what is written and keeps the first `cap` bytes.
struct Prefix {
    kept: Vec<u8>,
    cap: usize,
    total: usize,
}

impl std::io::Write for Prefix {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.cap.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&buf[..room.min(buf.len())]);
        self.total = self.total.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A plugin-chosen name as an error message quotes it: at most 64 characters.
fn quoted(name: &str) -> Cow<'_, str> {
    match name.char_indices().nth(64) {
        Some((end, _)) => Cow::Owned(format!("{}…", &name[..end])),
        None => Cow::Borrowed(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{AppKind, ResponseMode};
    use serde_json::json;

    fn request(query: Option<String>, inputs: Value) -> AppRequest {
        AppRequest {
            kind: AppKind::Workflow,
            app_id: "app".into(),
            query,
            inputs: inputs.as_object().cloned().unwrap_or_default(),
            conversation_id: None,
            files: Vec::new(),
            user: None,
            response_mode: ResponseMode::Streaming,
        }
    }

    #[test]
    fn each_bound_is_named_when_exceeded() {
        let big = "w ".repeat(2 << 20); // 4 MiB
        assert_eq!(
            check(&request(None, json!({"text": big}))).unwrap_err(),
            "text in input form is 4194304 bytes long; the mock Dify accepts at most 1048576 \
             bytes (1 MiB) per input"
        );
        assert_eq!(
            check(&request(Some(big.clone()), json!({}))).unwrap_err(),
            "query is 4194304 bytes long; the mock Dify accepts at most 1048576 bytes (1 MiB)"
        );
        let many: Map<String, Value> = (0..6)
            .map(|i| (format!("v{i}"), json!("x".repeat(MAX_INPUT_BYTES))))
            .collect();
        let err = check(&request(None, Value::Object(many))).unwrap_err();
        assert!(err.starts_with("inputs and files are 629"), "{err}");
        assert!(
            err.ends_with("at most 5242880 bytes (5 MiB) per call"),
            "{err}"
        );
        // Non-string values count as their JSON.
        let err = check(&request(None, json!({"list": vec![1; 600_000]}))).unwrap_err();
        assert!(
            err.starts_with("list in input form is 1200001 bytes long"),
            "{err}"
        );
        // A long name is refused, quoted short.
        let name = "n".repeat(1000);
        assert_eq!(
            check(&request(None, json!({name: 1}))).unwrap_err(),
            format!(
                "the input name '{}…' is 1000 bytes long; the mock Dify accepts names of at \
                 most 256 bytes",
                "n".repeat(64)
            )
        );
        // At the caps is fine.
        let at_cap = "x".repeat(MAX_INPUT_BYTES);
        assert!(check(&request(Some(at_cap.clone()), json!({"a": at_cap}))).is_ok());
    }

    #[test]
    fn the_summary_of_a_long_request_is_at_most_its_caps() {
        let mut req = request(
            Some("é".repeat(1 << 19)), // 1 MiB, two bytes a character
            json!({"text": "y".repeat(1 << 20), "n": 1}),
        );
        req.files = vec![json!({"url": "z".repeat(10_000)})];
        req.app_id = "a".repeat(1 << 20);
        let s = summary(req);
        let query = s.query.unwrap();
        assert!(query.len() <= LOGGED_TEXT_BYTES + 40, "{}", query.len());
        assert!(
            query.ends_with("…[cut 1046528 of 1048576 bytes]"),
            "{query:.80}"
        );
        let inputs = s.inputs[TRUNCATED_KEY].as_str().unwrap();
        assert_eq!(s.inputs.len(), 1);
        assert!(inputs.starts_with("{\"text\":\"yyy"));
        assert!(
            inputs.ends_with("…[cut 1046545 of 1048593 bytes]"),
            "{inputs:.80}"
        );
        assert!(s.files[0].as_str().unwrap().len() <= LOGGED_FILES_BYTES + 40);
        assert!(s.app_id.len() <= LOGGED_ID_BYTES + 40);
        // Many small values are cut too: they take far more memory than their JSON.
        let keys: Map<String, Value> = (0..300).map(|i| (format!("{i}"), json!(1))).collect();
        let s = summary(request(None, Value::Object(keys)));
        assert!(
            s.inputs[TRUNCATED_KEY]
                .as_str()
                .unwrap()
                .starts_with("{\"0\":1,\"1\":1")
        );
        let nested: Value =
            serde_json::from_str(&format!("{}{}", "[".repeat(100), "]".repeat(100))).unwrap();
        let s = summary(request(None, json!({"deep": nested})));
        assert!(s.inputs.contains_key(TRUNCATED_KEY));
        // Short requests are kept whole.
        let short = request(Some("hello".into()), json!({"name": "Alice"}));
        assert_eq!(summary(short.clone()), short);
    }
}
