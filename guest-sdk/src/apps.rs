//! Invoke the Dify apps of the plugin's workspace: `session().app().chat()`, `.workflow()`,
//! `.completion()`.
//!
//! Each has an `invoke` with the parameters of Dify's Python SDK (`app_id`, `query` for chat,
//! `inputs`, `response_mode`, `conversation_id` for chat, `files`), returning a [`Reply`]: one
//! JSON object when blocking, an [`Events`] iterator when streaming. For the less common
//! parameters (`user`) or a more readable call site, `call(app_id)` starts a builder:
//!
//! ```no_run
//! # use dify_plugin::prelude::*;
//! # fn f() -> Result<(), Error> {
//! let reply = session().app().chat().call("app-id").query("Hello").user("u-1").blocking()?;
//! println!("{}", reply["answer"]);
//! # Ok(()) }
//! ```
//!
//! Dify routes on the app's mode, not on the interface used: see the WIT `apps` interface.

use std::fmt;

use serde_json::Value;

use crate::error::{AppErrorKind, Error};
use crate::event::Event;
use crate::wit::dify::plugin::apps as wit;

/// The plugin's view of Dify for the current request. Get it with [`session()`].
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Session;

/// The current session, as `self.session` is in a Python plugin.
pub fn session() -> Session {
    Session
}

impl Session {
    /// The apps of this plugin's workspace.
    pub fn app(&self) -> Apps {
        Apps
    }
}

/// The three kinds of app interfaces. Get it with `session().app()`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Apps;

impl Apps {
    /// Chat apps: chatbot, agent and chatflow.
    pub fn chat(&self) -> ChatApps {
        ChatApps
    }

    /// Workflow apps.
    pub fn workflow(&self) -> WorkflowApps {
        WorkflowApps
    }

    /// Completion (text generator) apps.
    pub fn completion(&self) -> CompletionApps {
        CompletionApps
    }
}

/// Whether Dify answers with one object at the end, or streams events as the app runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseMode {
    /// Wait for the whole answer: one JSON object.
    Blocking,
    /// Read events as they come: an [`Events`] iterator.
    Streaming,
}

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

/// What an invocation gave back.
#[derive(Debug)]
pub enum Reply {
    /// The whole answer of a blocking call.
    Blocking(Value),
    /// The events of a streaming call.
    Streaming(Events),
}

impl Reply {
    /// The events, for a call made with [`ResponseMode::Streaming`].
    pub fn into_stream(self) -> Result<Events, Error> {
        match self {
            Reply::Streaming(events) => Ok(events),
            Reply::Blocking(_) => Err(Error::Usage(
                "into_stream() on a blocking reply: invoke with ResponseMode::Streaming".into(),
            )),
        }
    }

    /// The answer, for a call made with [`ResponseMode::Blocking`].
    pub fn into_blocking(self) -> Result<Value, Error> {
        match self {
            Reply::Blocking(value) => Ok(value),
            Reply::Streaming(events) => Err(Error::Usage(format!(
                "into_blocking() on a streaming reply from {}: invoke with ResponseMode::Blocking",
                events.app
            ))),
        }
    }
}

/// The events of one streaming run, in the order Dify sent them.
///
/// Yields `Ok(event)` for each event, then ends. If the stream fails (the connection dropped,
/// a host limit was hit) it yields one `Err` and then ends. A failure of the app itself is an
/// ordinary event named `error` (or a `workflow_finished` whose status is `failed`), as in
/// Dify.
///
/// Dropping it before the end cancels the run.
pub struct Events {
    stream: wit::ChunkStream,
    app: AppRef,
    /// Events received in the last batch and not handed out yet.
    batch: std::vec::IntoIter<wit::Chunk>,
    done: bool,
}

/// How many events one host call may bring: enough that a fast stream costs a host call per
/// batch rather than per event, few enough to keep the guest's memory small.
const BATCH: u32 = 256;

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("app", &self.app)
            .field("done", &self.done)
            .finish()
    }
}

impl Events {
    /// The app this stream comes from.
    pub fn app(&self) -> &AppRef {
        &self.app
    }
}

/// After the end or an error, `next` keeps returning `None`.
impl std::iter::FusedIterator for Events {}

impl Iterator for Events {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(chunk) = self.batch.next() {
            return Some(Ok(Event::new(chunk.event, chunk.data)));
        }
        if self.done {
            return None;
        }
        // About to wait on the host: send the response written so far first.
        crate::endpoint::flush();
        match self.stream.next_batch(BATCH) {
            Ok(batch) if batch.is_empty() => {
                self.done = true;
                None
            }
            Ok(batch) => {
                self.batch = batch.into_iter();
                self.batch
                    .next()
                    .map(|chunk| Ok(Event::new(chunk.event, chunk.data)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(Error::App {
                    app: self.app.clone(),
                    kind: e.into(),
                }))
            }
        }
    }
}

/// Chat apps (chatbot, agent, chatflow). Get it with `session().app().chat()`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ChatApps;

impl ChatApps {
    /// Invoke a chat app, with the parameters of Dify's Python SDK.
    ///
    /// `query` is the user's message (Dify requires it for chat apps), `inputs` a JSON object
    /// for the app's input form, `conversation_id` continues an earlier conversation.
    pub fn invoke(
        &self,
        app_id: &str,
        query: &str,
        inputs: Value,
        response_mode: ResponseMode,
        conversation_id: Option<&str>,
        files: Vec<Value>,
    ) -> Result<Reply, Error> {
        let mut call = self.call(app_id).query(query).inputs(inputs).files(files);
        if let Some(id) = conversation_id {
            call = call.conversation_id(id);
        }
        call.invoke(response_mode)
    }

    /// Start a call to a chat app, to set its parameters one by one.
    pub fn call(&self, app_id: &str) -> ChatCall {
        ChatCall {
            common: Common::new(AppKind::Chat, app_id),
            query: String::new(),
            conversation_id: None,
        }
    }
}

/// Workflow apps. Get it with `session().app().workflow()`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct WorkflowApps;

impl WorkflowApps {
    /// Invoke a workflow app, with the parameters of Dify's Python SDK.
    pub fn invoke(
        &self,
        app_id: &str,
        inputs: Value,
        response_mode: ResponseMode,
        files: Vec<Value>,
    ) -> Result<Reply, Error> {
        self.call(app_id)
            .inputs(inputs)
            .files(files)
            .invoke(response_mode)
    }

    /// Start a call to a workflow app, to set its parameters one by one.
    pub fn call(&self, app_id: &str) -> WorkflowCall {
        WorkflowCall {
            common: Common::new(AppKind::Workflow, app_id),
        }
    }
}

/// Completion apps. Get it with `session().app().completion()`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct CompletionApps;

impl CompletionApps {
    /// Invoke a completion app, with the parameters of Dify's Python SDK.
    pub fn invoke(
        &self,
        app_id: &str,
        inputs: Value,
        response_mode: ResponseMode,
        files: Vec<Value>,
    ) -> Result<Reply, Error> {
        self.call(app_id)
            .inputs(inputs)
            .files(files)
            .invoke(response_mode)
    }

    /// Start a call to a completion app, to set its parameters one by one.
    pub fn call(&self, app_id: &str) -> CompletionCall {
        CompletionCall {
            common: Common::new(AppKind::Completion, app_id),
        }
    }
}

/// The parameters every app kind takes.
#[derive(Debug, Clone)]
struct Common {
    kind: AppKind,
    app_id: String,
    inputs: Value,
    files: Vec<Value>,
    user: Option<String>,
}

impl Common {
    fn new(kind: AppKind, app_id: &str) -> Self {
        Common {
            kind,
            app_id: app_id.to_owned(),
            inputs: Value::Object(Default::default()),
            files: Vec::new(),
            user: None,
        }
    }

    /// Check what the host would refuse anyway, and encode the JSON parts for the WIT call.
    fn encode(self, conversation_id: Option<&str>) -> Result<Encoded, Error> {
        let app = AppRef {
            kind: self.kind,
            id: self.app_id.clone(),
            conversation_id: conversation_id.map(str::to_owned),
        };
        if !self.inputs.is_object() {
            return Err(Error::Usage(format!(
                "inputs for {app} must be a JSON object, got {}",
                json_type(&self.inputs)
            )));
        }
        let files = self
            .files
            .iter()
            .map(|f| {
                if f.is_object() {
                    Ok(f.to_string())
                } else {
                    Err(Error::Usage(format!(
                        "each file for {app} must be a JSON object, got {}",
                        json_type(f)
                    )))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Encoded {
            inputs: self.inputs.to_string(),
            app,
            app_id: self.app_id,
            files,
            user: self.user,
        })
    }
}

/// The parameters of a call, ready for the WIT request records.
struct Encoded {
    app: AppRef,
    app_id: String,
    inputs: String,
    files: Vec<String>,
    user: Option<String>,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Turns what the host answered into this crate's types, with the app named in errors.
fn finish<T>(
    app: AppRef,
    result: Result<T, crate::wit::dify::plugin::types::Error>,
) -> Result<T, Error> {
    result.map_err(|e| Error::App {
        app,
        kind: AppErrorKind::from(e),
    })
}

fn blocking_reply(
    app: AppRef,
    result: Result<String, crate::wit::dify::plugin::types::Error>,
) -> Result<Value, Error> {
    let text = finish(app.clone(), result)?;
    serde_json::from_str(&text).map_err(|e| Error::json(format_args!("the reply of {app}"), e))
}

fn stream_reply(
    app: AppRef,
    result: Result<wit::ChunkStream, crate::wit::dify::plugin::types::Error>,
) -> Result<Events, Error> {
    let stream = finish(app.clone(), result)?;
    Ok(Events {
        stream,
        app,
        batch: Vec::new().into_iter(),
        done: false,
    })
}

macro_rules! common_setters {
    () => {
        /// Values for the app's input form: a JSON object. Defaults to `{}`.
        pub fn inputs(mut self, inputs: Value) -> Self {
            self.common.inputs = inputs;
            self
        }

        /// File mappings (JSON objects), for apps that accept files.
        pub fn files(mut self, files: Vec<Value>) -> Self {
            self.common.files = files;
            self
        }

        /// An opaque end-user identifier, sent as Dify's `user`. What Dify does with it
        /// depends on the API the host calls:
        ///
        /// - the **Service API** (`--backend service`) runs the call as this end user: the
        ///   events carry it, and a conversation belongs to the user who started it, so
        ///   continuing another user's conversation is `not found`. Without `.user()` the host
        ///   sends its configured user (`--user-id`), else `dify-plugin-wasm`;
        /// - Dify's **inner API** (the plugin daemon's path, `--backend inner`) ignores it in
        ///   Dify 1.13 and runs the call as the host's user (`--user-id`), by default the
        ///   workspace's default end user;
        /// - the embedded **mock** ignores it, as the inner API does.
        pub fn user(mut self, user: impl Into<String>) -> Self {
            self.common.user = Some(user.into());
            self
        }

        /// Run with the given response mode.
        pub fn invoke(self, response_mode: ResponseMode) -> Result<Reply, Error> {
            Ok(match response_mode {
                ResponseMode::Blocking => Reply::Blocking(self.blocking()?),
                ResponseMode::Streaming => Reply::Streaming(self.stream()?),
            })
        }
    };
}

/// A call to a chat app being built. Start it with `session().app().chat().call(app_id)`.
#[derive(Debug, Clone)]
#[must_use = "a call does nothing until .blocking(), .stream() or .invoke()"]
pub struct ChatCall {
    common: Common,
    query: String,
    conversation_id: Option<String>,
}

impl ChatCall {
    /// The user's message. Dify answers `missing query` when it is empty.
    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = query.into();
        self
    }

    /// Continue this conversation (the `conversation_id` of an earlier reply).
    pub fn conversation_id(mut self, id: impl Into<String>) -> Self {
        self.conversation_id = Some(id.into());
        self
    }

    common_setters!();

    /// Wait for the whole answer.
    pub fn blocking(self) -> Result<Value, Error> {
        let (app, req) = self.request()?;
        crate::endpoint::flush();
        blocking_reply(app, wit::invoke_chat(&req))
    }

    /// Stream the events.
    pub fn stream(self) -> Result<Events, Error> {
        let (app, req) = self.request()?;
        crate::endpoint::flush();
        stream_reply(app, wit::stream_chat(&req))
    }

    fn request(self) -> Result<(AppRef, wit::ChatRequest), Error> {
        let e = self.common.encode(self.conversation_id.as_deref())?;
        let req = wit::ChatRequest {
            app_id: e.app_id,
            query: self.query,
            inputs: e.inputs,
            conversation_id: self.conversation_id,
            files: e.files,
            user: e.user,
        };
        Ok((e.app, req))
    }
}

/// A call to a workflow app being built. Start it with `session().app().workflow().call(app_id)`.
#[derive(Debug, Clone)]
#[must_use = "a call does nothing until .blocking(), .stream() or .invoke()"]
pub struct WorkflowCall {
    common: Common,
}

impl WorkflowCall {
    common_setters!();

    /// Wait for the result: `{"task_id", "workflow_run_id", "data": {"status", "outputs", ...}}`.
    pub fn blocking(self) -> Result<Value, Error> {
        let (app, req) = self.request()?;
        crate::endpoint::flush();
        blocking_reply(app, wit::invoke_workflow(&req))
    }

    /// Stream the events.
    pub fn stream(self) -> Result<Events, Error> {
        let (app, req) = self.request()?;
        crate::endpoint::flush();
        stream_reply(app, wit::stream_workflow(&req))
    }

    fn request(self) -> Result<(AppRef, wit::WorkflowRequest), Error> {
        let e = self.common.encode(None)?;
        let req = wit::WorkflowRequest {
            app_id: e.app_id,
            inputs: e.inputs,
            files: e.files,
            user: e.user,
        };
        Ok((e.app, req))
    }
}

/// A call to a completion app being built. Start it with `session().app().completion().call(app_id)`.
#[derive(Debug, Clone)]
#[must_use = "a call does nothing until .blocking(), .stream() or .invoke()"]
pub struct CompletionCall {
    common: Common,
}

impl CompletionCall {
    common_setters!();

    /// Wait for the whole answer.
    pub fn blocking(self) -> Result<Value, Error> {
        let (app, req) = self.request()?;
        crate::endpoint::flush();
        blocking_reply(app, wit::invoke_completion(&req))
    }

    /// Stream the events.
    pub fn stream(self) -> Result<Events, Error> {
        let (app, req) = self.request()?;
        crate::endpoint::flush();
        stream_reply(app, wit::stream_completion(&req))
    }

    fn request(self) -> Result<(AppRef, wit::CompletionRequest), Error> {
        let e = self.common.encode(None)?;
        let req = wit::CompletionRequest {
            app_id: e.app_id,
            inputs: e.inputs,
            files: e.files,
            user: e.user,
        };
        Ok((e.app, req))
    }
}
