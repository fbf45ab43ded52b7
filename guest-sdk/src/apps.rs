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
//! The three interfaces share one implementation: [`ChatApps`] is [`Interface<Chat>`] and
//! [`ChatCall`] is [`Call<Chat>`], and likewise for [`Workflow`] and [`Completion`]; only chat
//! calls take a query and a conversation.
//!
//! Dify routes on the app's mode, not on the interface used: see the WIT `apps` interface.

use std::fmt;
use std::marker::PhantomData;

use serde_json::Value;

use crate::body::host_call;
use crate::error::Error;
use crate::event::Event;
use crate::wit::dify::plugin::apps as wit;
use crate::wit::dify::plugin::types::Error as HostError;

pub use crate::error::app::{AppKind, AppRef};

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
        Interface::default()
    }

    /// Workflow apps.
    pub fn workflow(&self) -> WorkflowApps {
        Interface::default()
    }

    /// Completion (text generator) apps.
    pub fn completion(&self) -> CompletionApps {
        Interface::default()
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

/// What an invocation gave back.
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
        loop {
            if let Some(chunk) = self.batch.next() {
                return Some(Ok(Event::new(chunk.event, chunk.data)));
            }
            if self.done {
                return None;
            }
            match host_call(|| self.stream.next_batch(BATCH)) {
                Ok(batch) => {
                    // An empty batch is the end.
                    self.done = batch.is_empty();
                    self.batch = batch.into_iter();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::app(self.app.clone(), e)));
                }
            }
        }
    }
}

/// Private, so that no other crate adds an interface: each is a set of WIT functions.
mod sealed {
    use super::AppKind;

    pub trait Sealed {
        /// The interface, as a value: what the generic code dispatches on.
        const KIND: AppKind;
    }
}

/// An app interface, as a type: [`Chat`], [`Workflow`] or [`Completion`]. Sealed.
pub trait Kind: sealed::Sealed {}

impl<K: sealed::Sealed> Kind for K {}

/// The interfaces whose apps take no query and no conversation: [`Workflow`] and
/// [`Completion`].
pub trait InputsOnly: Kind {}

/// Chat apps (chatbot, agent, chatflow), as a type: see [`ChatApps`] and [`ChatCall`].
pub enum Chat {}

impl sealed::Sealed for Chat {
    const KIND: AppKind = AppKind::Chat;
}

/// Workflow apps, as a type: see [`WorkflowApps`] and [`WorkflowCall`].
pub enum Workflow {}

impl sealed::Sealed for Workflow {
    const KIND: AppKind = AppKind::Workflow;
}

impl InputsOnly for Workflow {}

/// Completion apps, as a type: see [`CompletionApps`] and [`CompletionCall`].
pub enum Completion {}

impl sealed::Sealed for Completion {
    const KIND: AppKind = AppKind::Completion;
}

impl InputsOnly for Completion {}

/// Chat apps (chatbot, agent, chatflow). Get it with `session().app().chat()`.
pub type ChatApps = Interface<Chat>;

/// Workflow apps. Get it with `session().app().workflow()`.
pub type WorkflowApps = Interface<Workflow>;

/// Completion apps. Get it with `session().app().completion()`.
pub type CompletionApps = Interface<Completion>;

/// The apps of one interface: [`ChatApps`], [`WorkflowApps`] or [`CompletionApps`].
pub struct Interface<K> {
    kind: PhantomData<fn() -> K>,
}

impl<K: Kind> Interface<K> {
    /// Start a call to an app of this interface, to set its parameters one by one.
    pub fn call(&self, app_id: &str) -> Call<K> {
        Call {
            params: Params::new(app_id),
            kind: PhantomData,
        }
    }
}

impl Interface<Chat> {
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
}

impl<K: InputsOnly> Interface<K> {
    /// Invoke a workflow or completion app, with the parameters of Dify's Python SDK.
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
}

// By hand: derived, they would require `K: Clone` and so on, and the markers are never values.
impl<K> Clone for Interface<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Interface<K> {}

impl<K> Default for Interface<K> {
    fn default() -> Self {
        Interface { kind: PhantomData }
    }
}

impl<K: Kind> fmt::Debug for Interface<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}Apps", K::KIND)
    }
}

/// A call to a chat app being built. Start it with `session().app().chat().call(app_id)`.
pub type ChatCall = Call<Chat>;

/// A call to a workflow app being built. Start it with `session().app().workflow().call(app_id)`.
pub type WorkflowCall = Call<Workflow>;

/// A call to a completion app being built. Start it with `session().app().completion().call(app_id)`.
pub type CompletionCall = Call<Completion>;

/// A call to an app being built: [`ChatCall`], [`WorkflowCall`] or [`CompletionCall`].
#[must_use = "a call does nothing until .blocking(), .stream() or .invoke()"]
pub struct Call<K> {
    params: Params,
    kind: PhantomData<fn() -> K>,
}

impl Call<Chat> {
    /// The user's message. Dify answers `missing query` when it is empty.
    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.params.query = query.into();
        self
    }

    /// Continue this conversation (the `conversation_id` of an earlier reply).
    pub fn conversation_id(mut self, id: impl Into<String>) -> Self {
        self.params.conversation_id = Some(id.into());
        self
    }
}

impl<K: Kind> Call<K> {
    /// Values for the app's input form: a JSON object. Defaults to `{}`.
    pub fn inputs(mut self, inputs: Value) -> Self {
        self.params.inputs = inputs;
        self
    }

    /// File mappings (JSON objects), for apps that accept files.
    pub fn files(mut self, files: Vec<Value>) -> Self {
        self.params.files = files;
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
        self.params.user = Some(user.into());
        self
    }

    /// Run with the given response mode.
    pub fn invoke(self, response_mode: ResponseMode) -> Result<Reply, Error> {
        Ok(match response_mode {
            ResponseMode::Blocking => Reply::Blocking(self.blocking()?),
            ResponseMode::Streaming => Reply::Streaming(self.stream()?),
        })
    }

    /// Wait for the whole answer; for a workflow, the result:
    /// `{"task_id", "workflow_run_id", "data": {"status", "outputs", ...}}`.
    pub fn blocking(self) -> Result<Value, Error> {
        let (app, request) = self.params.encode(K::KIND)?;
        let text = host_call(|| request.blocking()).map_err(|e| Error::app(app.clone(), e))?;
        serde_json::from_str(&text).map_err(|e| Error::json(format_args!("the reply of {app}"), e))
    }

    /// Stream the events.
    pub fn stream(self) -> Result<Events, Error> {
        let (app, request) = self.params.encode(K::KIND)?;
        match host_call(|| request.stream()) {
            Ok(stream) => Ok(Events {
                stream,
                app,
                batch: Vec::new().into_iter(),
                done: false,
            }),
            Err(e) => Err(Error::app(app, e)),
        }
    }
}

impl<K> Clone for Call<K> {
    fn clone(&self) -> Self {
        Call {
            params: self.params.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: Kind> fmt::Debug for Call<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(&format!("{:?}Call", K::KIND))
            .field("params", &self.params)
            .finish()
    }
}

/// The parameters of a call; `query` and `conversation_id` are set on chat calls only.
#[derive(Debug, Clone)]
struct Params {
    app_id: String,
    query: String,
    inputs: Value,
    conversation_id: Option<String>,
    files: Vec<Value>,
    user: Option<String>,
}

impl Params {
    fn new(app_id: &str) -> Self {
        Params {
            app_id: app_id.to_owned(),
            query: String::new(),
            inputs: Value::Object(Default::default()),
            conversation_id: None,
            files: Vec::new(),
            user: None,
        }
    }

    /// Check what the host would refuse anyway, and build the WIT request of `kind`.
    fn encode(self, kind: AppKind) -> Result<(AppRef, Request), Error> {
        let app = AppRef::new(kind, self.app_id.clone(), self.conversation_id.clone());
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
        let Params {
            app_id,
            query,
            inputs,
            conversation_id,
            user,
            ..
        } = self;
        let inputs = inputs.to_string();
        let request = match kind {
            AppKind::Chat => Request::Chat(wit::ChatRequest {
                app_id,
                query,
                inputs,
                conversation_id,
                files,
                user,
            }),
            AppKind::Workflow => Request::Workflow(wit::WorkflowRequest {
                app_id,
                inputs,
                files,
                user,
            }),
            AppKind::Completion => Request::Completion(wit::CompletionRequest {
                app_id,
                inputs,
                files,
                user,
            }),
        };
        Ok((app, request))
    }
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

/// A call's WIT request: the record, and so the host functions, of its interface.
enum Request {
    Chat(wit::ChatRequest),
    Workflow(wit::WorkflowRequest),
    Completion(wit::CompletionRequest),
}

impl Request {
    fn blocking(&self) -> Result<String, HostError> {
        match self {
            Request::Chat(r) => wit::invoke_chat(r),
            Request::Workflow(r) => wit::invoke_workflow(r),
            Request::Completion(r) => wit::invoke_completion(r),
        }
    }

    fn stream(&self) -> Result<wit::ChunkStream, HostError> {
        match self {
            Request::Chat(r) => wit::stream_chat(r),
            Request::Workflow(r) => wit::stream_workflow(r),
            Request::Completion(r) => wit::stream_completion(r),
        }
    }
}
