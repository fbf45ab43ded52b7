//! `apps`: the plugin's app calls and the streams they return.

use serde_json::{Map, Value};
use wasmtime::component::Resource;

use super::bindings::{apps, types};
use super::resources::HostChunkStream;
use super::state::PluginState;
use crate::backend::{AppError, AppKind, AppRequest, DifyError, Event, Reply, ResponseMode};

impl types::Host for PluginState {}

impl From<AppError> for types::Error {
    fn from(e: AppError) -> Self {
        match e {
            AppError::InvalidRequest(d) => types::Error::InvalidRequest(d.into()),
            AppError::NotFound(d) => types::Error::NotFound(d.into()),
            AppError::PermissionDenied(m) => types::Error::PermissionDenied(m),
            AppError::RateLimited(d) => types::Error::RateLimited(d.into()),
            AppError::Timeout(m) => types::Error::Timeout(m),
            AppError::Cancelled => types::Error::Cancelled,
            AppError::AppFailed(d) => types::Error::AppFailed(d.into()),
            AppError::Internal(m) => types::Error::Internal(m),
        }
    }
}

impl From<DifyError> for types::DifyError {
    fn from(d: DifyError) -> Self {
        types::DifyError {
            status: d.status,
            code: d.code,
            message: d.message,
        }
    }
}

/// What Dify's payload validation would say about a field that is not a JSON object.
fn invalid_payload(app_id: &str, what: &str, found: &str) -> AppError {
    AppError::InvalidRequest(DifyError::invalid_param(format!(
        "invalid payload for app '{app_id}': {what} must be a JSON object, got {found}"
    )))
}

fn json_object(app_id: &str, what: &str, text: &str) -> Result<Map<String, Value>, AppError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(invalid_payload(app_id, what, &other.to_string())),
        Err(e) => Err(invalid_payload(
            app_id,
            what,
            &format!("invalid JSON ({e})"),
        )),
    }
}

fn files(app_id: &str, files: &[String]) -> Result<Vec<Value>, AppError> {
    files
        .iter()
        .map(|f| json_object(app_id, "each file", f).map(Value::Object))
        .collect()
}

/// A WIT request record, validated. `chat` is the query and conversation of a chat call.
fn app_request(
    kind: AppKind,
    mode: ResponseMode,
    app_id: String,
    inputs: &str,
    wit_files: &[String],
    user: Option<String>,
    chat: (Option<String>, Option<String>),
) -> Result<AppRequest, AppError> {
    Ok(AppRequest {
        kind,
        inputs: json_object(&app_id, "inputs", inputs)?,
        files: files(&app_id, wit_files)?,
        app_id,
        query: chat.0,
        conversation_id: chat.1,
        user,
        response_mode: mode,
    })
}

fn chat(req: apps::ChatRequest, mode: ResponseMode) -> Result<AppRequest, AppError> {
    let chat = (Some(req.query), req.conversation_id);
    let (kind, id) = (AppKind::Chat, req.app_id);
    app_request(kind, mode, id, &req.inputs, &req.files, req.user, chat)
}

/// Workflow and completion records have the same fields: one conversion for both.
fn inputs_only(
    kind: AppKind,
    mode: ResponseMode,
    (app_id, inputs, files, user): (String, String, Vec<String>, Option<String>),
) -> Result<AppRequest, AppError> {
    app_request(kind, mode, app_id, &inputs, &files, user, (None, None))
}

fn workflow(req: apps::WorkflowRequest, mode: ResponseMode) -> Result<AppRequest, AppError> {
    let fields = (req.app_id, req.inputs, req.files, req.user);
    inputs_only(AppKind::Workflow, mode, fields)
}

fn completion(req: apps::CompletionRequest, mode: ResponseMode) -> Result<AppRequest, AppError> {
    let fields = (req.app_id, req.inputs, req.files, req.user);
    inputs_only(AppKind::Completion, mode, fields)
}

/// The most events one `next-batch` returns, whatever the guest asks for.
const MAX_BATCH: usize = 256;
/// A batch stops growing once its events hold this many bytes.
const MAX_BATCH_BYTES: usize = 1 << 20;

type Answer<T> = wasmtime::Result<Result<T, types::Error>>;

impl PluginState {
    /// Hand one call to the backend, logging it at debug level.
    fn invoke(&mut self, req: AppRequest) -> Result<Reply, AppError> {
        self.app_calls += 1;
        let described = log::log_enabled!(target: "dify_plugin_host::apps", log::Level::Debug)
            .then(|| {
                format!(
                    "{} {} app '{}'",
                    req.response_mode.as_str(),
                    req.kind,
                    req.app_id
                )
            });
        let reply = self.backend.invoke(&self.ctx, req);
        if let Some(described) = described {
            let outcome = match &reply {
                Ok(_) => "ok".to_owned(),
                Err(e) => e.to_string(),
            };
            log::debug!(target: "dify_plugin_host::apps", "[{}] {described}: {outcome}", self.plugin);
        }
        reply
    }

    fn blocking(&mut self, req: Result<AppRequest, AppError>) -> Answer<String> {
        self.within_budget()?;
        let outcome = req.and_then(|req| match self.invoke(req)? {
            Reply::Blocking(json) => Ok(json),
            Reply::Streaming(_) => Err(AppError::Internal(
                "the backend streamed an answer to a blocking call".into(),
            )),
        });
        Ok(outcome.map_err(Into::into))
    }

    fn streaming(
        &mut self,
        req: Result<AppRequest, AppError>,
    ) -> Answer<Resource<HostChunkStream>> {
        self.within_budget()?;
        let stream = req.and_then(|req| {
            if self.open_streams >= self.max_open_streams {
                return Err(AppError::Internal(format!(
                    "this request already has {} open app streams, the host's limit; \
                     finish or drop one first",
                    self.open_streams
                )));
            }
            match self.invoke(req)? {
                Reply::Streaming(stream) => Ok(stream),
                Reply::Blocking(_) => Err(AppError::Internal(
                    "the backend gave a blocking answer to a streaming call".into(),
                )),
            }
        });
        match stream {
            Ok(stream) => {
                let resource = self.table.push(HostChunkStream {
                    inner: Some(stream),
                    pending: None,
                })?;
                self.open_streams += 1;
                Ok(Ok(resource))
            }
            Err(e) => Ok(Err(e.into())),
        }
    }
}

impl apps::Host for PluginState {
    fn invoke_chat(&mut self, req: apps::ChatRequest) -> Answer<String> {
        self.blocking(chat(req, ResponseMode::Blocking))
    }

    fn stream_chat(&mut self, req: apps::ChatRequest) -> Answer<Resource<HostChunkStream>> {
        self.streaming(chat(req, ResponseMode::Streaming))
    }

    fn invoke_workflow(&mut self, req: apps::WorkflowRequest) -> Answer<String> {
        self.blocking(workflow(req, ResponseMode::Blocking))
    }

    fn stream_workflow(&mut self, req: apps::WorkflowRequest) -> Answer<Resource<HostChunkStream>> {
        self.streaming(workflow(req, ResponseMode::Streaming))
    }

    fn invoke_completion(&mut self, req: apps::CompletionRequest) -> Answer<String> {
        self.blocking(completion(req, ResponseMode::Blocking))
    }

    fn stream_completion(
        &mut self,
        req: apps::CompletionRequest,
    ) -> Answer<Resource<HostChunkStream>> {
        self.streaming(completion(req, ResponseMode::Streaming))
    }
}

impl apps::HostChunkStream for PluginState {
    fn next(&mut self, stream: Resource<HostChunkStream>) -> Answer<Option<apps::Chunk>> {
        self.within_budget()?;
        self.next_now(stream)
    }

    fn next_batch(
        &mut self,
        stream: Resource<HostChunkStream>,
        max: u32,
    ) -> Answer<Vec<apps::Chunk>> {
        self.within_budget()?;
        self.next_batch_now(stream, max)
    }

    fn drop(&mut self, stream: Resource<HostChunkStream>) -> wasmtime::Result<()> {
        let mut stream = self.table.delete(stream)?;
        if stream.finish() {
            self.open_streams -= 1;
        }
        // Dropping the backend's stream cancels the run.
        Ok(())
    }
}

impl PluginState {
    fn next_now(&mut self, stream: Resource<HostChunkStream>) -> Answer<Option<apps::Chunk>> {
        let stream = self.table.get_mut(&stream)?;
        let Some(item) = stream.take_next() else {
            return Ok(Ok(None));
        };
        match item {
            Ok(Some(event)) => {
                self.events += 1;
                Ok(Ok(Some(chunk(event))))
            }
            terminal => {
                if stream.finish() {
                    self.open_streams -= 1;
                }
                Ok(terminal.map(|_| None).map_err(Into::into))
            }
        }
    }

    fn next_batch_now(
        &mut self,
        stream: Resource<HostChunkStream>,
        max: u32,
    ) -> Answer<Vec<apps::Chunk>> {
        let stream = self.table.get_mut(&stream)?;
        let Some(mut item) = stream.take_next() else {
            return Ok(Ok(Vec::new()));
        };
        let mut batch = Vec::new();
        loop {
            match item {
                Ok(Some(event)) => batch.push(chunk(event)),
                terminal if batch.is_empty() => {
                    if stream.finish() {
                        self.open_streams -= 1;
                    }
                    return Ok(terminal.map(|_| Vec::new()).map_err(Into::into));
                }
                // The end or a failure after some events: those first, it on the next call.
                terminal => {
                    stream.pending = Some(terminal);
                    break;
                }
            }
            // The guest's `max`, but never more than the host's own bounds: a batch is built in
            // host memory before it is copied into the guest's.
            let bytes: usize = batch.iter().map(|c| c.data.len()).sum();
            if batch.len() >= (max as usize).clamp(1, MAX_BATCH) || bytes >= MAX_BATCH_BYTES {
                break;
            }
            match stream.inner.as_mut().and_then(|inner| inner.next_ready()) {
                Some(next) => item = next,
                None => break,
            }
        }
        self.events += batch.len() as u64;
        Ok(Ok(batch))
    }
}

fn chunk(event: Event) -> apps::Chunk {
    apps::Chunk {
        event: event.name,
        data: event.json,
    }
}
