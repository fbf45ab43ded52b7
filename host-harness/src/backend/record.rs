//! Record mode: call a real Dify and save what it answered as a mock apps file, so a plugin
//! author can capture a real app once and replay it offline with `--apps`.
//!
//! Each streamed run becomes the app's `script`, event for event (ids and all); a blocking chat
//! or completion reply becomes its `answer`. The app's mode is read from what Dify sent (a
//! blocking reply's `mode`; for a stream, its events: agent events mean `agent-chat`, workflow
//! events with messages `advanced-chat`, workflow events alone `workflow`, messages with a
//! conversation `chat`, without one `completion`). The file is rewritten after every call.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::backend::{
    AppError, AppRequest, Backend, CallContext, Event, EventStream, Reply, ResponseMode,
};

/// Wraps a backend and records what it answers into an apps file.
pub struct RecordingBackend {
    inner: Box<dyn Backend>,
    file: PathBuf,
    workspace: String,
    apps: Arc<Mutex<BTreeMap<String, Value>>>,
}

impl RecordingBackend {
    /// Record `inner`'s answers into `file` (JSON), for a plugin bound to `workspace`.
    pub fn new(inner: Box<dyn Backend>, file: PathBuf, workspace: &str) -> Self {
        RecordingBackend {
            inner,
            file,
            workspace: workspace.to_owned(),
            apps: Arc::default(),
        }
    }
}

/// Save one app's recording and rewrite the file.
fn save(apps: &Mutex<BTreeMap<String, Value>>, file: &PathBuf, workspace: &str, app: Value) {
    let mut apps = apps.lock().unwrap_or_else(|p| p.into_inner());
    let id = app["id"].as_str().unwrap_or_default().to_owned();
    apps.insert(id.clone(), app);
    let document = json!({
        "workspace": workspace,
        "app": apps.values().collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&document).unwrap_or_default();
    if let Err(e) = std::fs::write(file, text) {
        log::warn!(target: "dify_plugin_host::record", "cannot write {}: {e}", file.display());
    } else {
        log::info!(target: "dify_plugin_host::record", "recorded app '{id}' into {}", file.display());
    }
}

/// The mode a stream's events show.
fn mode_of(events: &[Value]) -> &'static str {
    let has = |name: &str| events.iter().any(|e| e["event"] == name);
    if has("agent_message") || has("agent_thought") {
        "agent-chat"
    } else if has("workflow_started") && (has("message") || has("message_end")) {
        "advanced-chat"
    } else if has("workflow_started") {
        "workflow"
    } else if events.iter().any(|e| e.get("conversation_id").is_some()) {
        "chat"
    } else {
        "completion"
    }
}

impl Backend for RecordingBackend {
    fn invoke(&self, ctx: &CallContext, req: AppRequest) -> Result<Reply, AppError> {
        let app_id = req.app_id.clone();
        let mode = req.response_mode;
        match self.inner.invoke(ctx, req)? {
            Reply::Blocking(json) => {
                let reply: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
                match (reply["mode"].as_str(), reply["answer"].as_str()) {
                    (Some(mode), Some(answer)) => save(
                        &self.apps,
                        &self.file,
                        &self.workspace,
                        json!({"id": app_id, "mode": mode, "answer": answer}),
                    ),
                    _ => log::warn!(
                        target: "dify_plugin_host::record",
                        "app '{app_id}': a blocking workflow reply cannot be replayed; record a streaming call of it"
                    ),
                }
                Ok(Reply::Blocking(json))
            }
            Reply::Streaming(stream) => {
                debug_assert_eq!(mode, ResponseMode::Streaming);
                Ok(Reply::Streaming(Box::new(RecordingStream {
                    inner: stream,
                    app_id,
                    events: Vec::new(),
                    apps: self.apps.clone(),
                    file: self.file.clone(),
                    workspace: self.workspace.clone(),
                })))
            }
        }
    }
}

struct RecordingStream {
    inner: Box<dyn EventStream>,
    app_id: String,
    events: Vec<Value>,
    apps: Arc<Mutex<BTreeMap<String, Value>>>,
    file: PathBuf,
    workspace: String,
}

impl RecordingStream {
    /// Keep an event, or at the end save the run as the app's script.
    fn note(&mut self, next: &Option<Event>) {
        match next {
            Some(event) => {
                self.events
                    .push(serde_json::from_str(&event.json).unwrap_or(Value::Null));
            }
            None if !self.events.is_empty() => {
                let events = std::mem::take(&mut self.events);
                let app = json!({"id": self.app_id, "mode": mode_of(&events), "script": events});
                save(&self.apps, &self.file, &self.workspace, app);
            }
            None => {}
        }
    }
}

impl EventStream for RecordingStream {
    fn next_event(&mut self) -> Result<Option<Event>, AppError> {
        let next = self.inner.next_event()?;
        self.note(&next);
        Ok(next)
    }

    /// Forwarded, so recording keeps the host's event batching.
    fn next_ready(&mut self) -> Option<Result<Option<Event>, AppError>> {
        let next = self.inner.next_ready()?;
        if let Ok(next) = &next {
            self.note(next);
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream whose events are all ready at once.
    struct Ready(std::array::IntoIter<Event, 2>);

    impl EventStream for Ready {
        fn next_event(&mut self) -> Result<Option<Event>, AppError> {
            Ok(self.0.next())
        }
        fn next_ready(&mut self) -> Option<Result<Option<Event>, AppError>> {
            Some(Ok(self.0.next()))
        }
    }

    struct ReadyBackend;

    impl Backend for ReadyBackend {
        fn invoke(&self, _: &CallContext, _: AppRequest) -> Result<Reply, AppError> {
            let events = ["message", "message_end"].map(|name| Event {
                name: name.into(),
                json: json!({"event": name, "conversation_id": "c"}).to_string(),
            });
            Ok(Reply::Streaming(Box::new(Ready(events.into_iter()))))
        }
    }

    #[test]
    fn recording_keeps_events_ready_and_records_them() {
        let file = std::env::temp_dir().join(format!("dify-record-{}.json", std::process::id()));
        let backend = RecordingBackend::new(Box::new(ReadyBackend), file.clone(), "t");
        let request = AppRequest {
            kind: crate::backend::AppKind::Chat,
            app_id: "app-1".into(),
            query: Some("hi".into()),
            inputs: Default::default(),
            conversation_id: None,
            files: vec![],
            user: None,
            response_mode: ResponseMode::Streaming,
        };
        let ctx = CallContext {
            tenant_id: "t".into(),
            user_id: String::new(),
        };
        let Ok(Reply::Streaming(mut stream)) = backend.invoke(&ctx, request) else {
            panic!("a stream");
        };
        let mut names = Vec::new();
        while let Some(next) = stream.next_ready() {
            match next.unwrap() {
                Some(event) => names.push(event.name),
                None => break,
            }
        }
        assert_eq!(names, ["message", "message_end"], "every event was ready");
        let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(saved["app"][0]["script"].as_array().unwrap().len(), 2);
        assert_eq!(saved["app"][0]["mode"], "chat");
    }

    #[test]
    fn the_mode_is_read_from_the_events() {
        let events =
            |names: &[&str]| -> Vec<Value> { names.iter().map(|n| json!({"event": n})).collect() };
        assert_eq!(
            mode_of(&events(&[
                "workflow_started",
                "message",
                "workflow_finished"
            ])),
            "advanced-chat"
        );
        assert_eq!(
            mode_of(&events(&[
                "workflow_started",
                "text_chunk",
                "workflow_finished"
            ])),
            "workflow"
        );
        assert_eq!(
            mode_of(&events(&["agent_thought", "agent_message", "message_end"])),
            "agent-chat"
        );
        assert_eq!(
            mode_of(&[json!({"event": "message", "conversation_id": "c"})]),
            "chat"
        );
        assert_eq!(mode_of(&events(&["message", "message_end"])), "completion");
    }
}
