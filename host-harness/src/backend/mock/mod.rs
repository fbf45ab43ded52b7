//! The embedded mock Dify: workspaces of apps that answer like Dify 1.13.2 does.
//!
//! It is faithful where a plugin can tell the difference: the same routing on the app's mode,
//! the same checks in the same order (app lookup within the workspace, `missing query`, agent
//! apps refusing blocking mode, unknown conversations, input form validation), the same error
//! codes and messages, and events shaped key for key like the recorded ones. Every call is
//! recorded with its outcome, so a test can assert what the plugin sent and whether it read a
//! stream to the end or dropped it.
//!
//! Fidelity notes:
//! - Completion apps answer normally by default. Dify 1.13's *inner* API fails every
//!   completion app with a 500 (`KeyError: 'query'`, reference §3.7);
//!   [`MockDify::with_completion_defect`] reproduces that.
//! - Conversations are scoped to app, workspace and calling user, as in Dify, where the
//!   conversation's end user must match the caller's.
//!
//! Bounds: the mock is the default backend, so a plugin must not be able to make it use
//! memory or time out of proportion to what it sends.
//! - Inputs are bounded as Dify bounds them, by their form variable's `max_length`
//!   (`forms.rs`). Where Dify has no limit, the mock refuses after Dify's own checks, with a
//!   400 `invalid_param` that names the limit: a query over [`MAX_QUERY_BYTES`], an input
//!   value over [`MAX_INPUT_BYTES`], an input name over [`MAX_INPUT_NAME_BYTES`], inputs and
//!   files over [`MAX_REQUEST_BYTES`] of JSON (`limits.rs` says why these).
//! - A stream's events are made as the plugin reads them, one per read (`runs.rs`): an open
//!   stream holds its run, never its events.
//! - The call log keeps the last [`KEPT`] calls as summaries: long fields are cut (see
//!   [`ReceivedCall`]), so a full log takes at most about 64 MiB (some 6 KiB a call)
//!   whatever the plugins send.

mod app;
mod demo;
mod file;
mod forms;
mod gate;
mod limits;
mod runs;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

pub use app::{AppMode, Behaviour, FieldType, InputField, MockApp};
pub use demo::DemoApps;
pub use file::AppsFileError;
pub use gate::Gate;

use crate::backend::{
    AppError, AppRequest, Backend, CallContext, DifyError, Event, EventStream, Reply, ResponseMode,
};
use runs::Run;

/// How many calls and conversations the mock remembers: a mock behind a long-running
/// `serve` must not grow without bound. The oldest go first.
pub const KEPT: usize = 10_000;

/// The longest query the mock accepts, in bytes (Dify has no limit; `limits.rs`).
pub const MAX_QUERY_BYTES: usize = 1 << 20;

/// The longest input value the mock accepts: a string's bytes, or another value's JSON.
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// The longest input name the mock accepts, in bytes.
pub const MAX_INPUT_NAME_BYTES: usize = 256;

/// The most JSON the inputs and files of one call may take together, in bytes: the plugin
/// daemon's default limit on one plugin message.
pub const MAX_REQUEST_BYTES: usize = 5 << 20;

/// How much of the query a logged call keeps, in bytes; likewise of its inputs (their
/// memory, or the start of their JSON once cut).
pub const LOGGED_TEXT_BYTES: usize = 2048;

/// How much of the files a logged call keeps, in bytes, as for the inputs.
pub const LOGGED_FILES_BYTES: usize = 1024;

/// How much of the app id, conversation id and user a logged call keeps, in bytes.
pub const LOGGED_ID_BYTES: usize = 128;

/// The only key of a logged call's `inputs` when they were cut.
pub const TRUNCATED_KEY: &str = "(truncated)";

/// A mock Dify. Cheap to clone: clones share the same workspaces and call log.
#[derive(Clone, Default)]
pub struct MockDify {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MockDify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MockDify")
            .field("workspaces", &state.tenants.len())
            .field("apps", &state.apps.len())
            .field("calls", &state.calls.len())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    tenants: HashSet<String>,
    apps: HashMap<String, MockApp>,
    conversations: HashMap<String, Conversation>,
    end_users: HashMap<(String, String), String>,
    /// The most recent calls, at most [`KEPT`].
    calls: VecDeque<Arc<Mutex<ReceivedCall>>>,
    /// Conversation ids, oldest first, to forget the oldest beyond [`KEPT`].
    conversation_order: VecDeque<String>,
    completion_defect: bool,
    /// Per app: hold its streams after this many events.
    gates: HashMap<String, (usize, Arc<gate::Shared>)>,
}

struct Conversation {
    app_id: String,
    tenant_id: String,
    user_id: String,
    turns: u64,
}

/// One call the mock received, and what became of it.
///
/// The request is a summary, so that [`KEPT`] calls stay small whatever the plugins send:
/// a field longer than its cap keeps its first bytes (to a character boundary) followed by
/// `…[cut N of M bytes]`. The caps: the query [`LOGGED_TEXT_BYTES`]; the app id, conversation
/// id and user [`LOGGED_ID_BYTES`]; inputs that would take more than about
/// [`LOGGED_TEXT_BYTES`] of memory become one key, [`TRUNCATED_KEY`], whose value is the
/// first [`LOGGED_TEXT_BYTES`] of their JSON and the marker; files over
/// [`LOGGED_FILES_BYTES`] become one string, likewise. Memory rather than JSON length decides,
/// since many small values take far more of it than their JSON. Short requests (a few
/// inputs, a query of a paragraph) are kept whole.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedCall {
    /// Who called (the workspace and user the host bound the plugin to).
    pub ctx: CallContext,
    /// What the plugin asked for, long fields cut (see above).
    pub request: AppRequest,
    /// What happened.
    pub outcome: CallOutcome,
}

/// What became of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// Refused with this Dify error before the app ran.
    Rejected(DifyError),
    /// A blocking call that was answered.
    Answered,
    /// A stream that is still open, with the number of events read so far unknown until it
    /// ends.
    Streaming,
    /// A stream that was read to its end.
    Completed {
        /// Events delivered.
        delivered: usize,
    },
    /// A stream that was dropped before its end: the run was cancelled.
    Cancelled {
        /// Events delivered before the cancellation.
        delivered: usize,
    },
}

/// A mock app that cannot work as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mock app '{app_id}': {reason}")]
pub struct InvalidApp {
    /// The app.
    pub app_id: String,
    /// What is wrong.
    pub reason: String,
}

impl MockDify {
    /// An empty mock: no workspaces, no apps.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an app (and its workspace, if new). Scripted events must be JSON objects with a
    /// string `event` key.
    pub fn add_app(&self, app: MockApp) -> Result<&Self, InvalidApp> {
        if let Behaviour::Script(events) = &app.behaviour
            && let Some(i) = events.iter().position(|e| !e["event"].is_string())
        {
            return Err(InvalidApp {
                app_id: app.id,
                reason: format!("scripted event #{i} has no string \"event\" key"),
            });
        }
        let mut state = self.lock();
        state.tenants.insert(app.tenant_id.clone());
        state.apps.insert(app.id.clone(), app);
        Ok(self)
    }

    /// The apps of every workspace, by workspace and id.
    pub fn apps(&self) -> Vec<MockApp> {
        let mut apps: Vec<MockApp> = self.lock().apps.values().cloned().collect();
        apps.sort_by(|a, b| (&a.tenant_id, &a.id).cmp(&(&b.tenant_id, &b.id)));
        apps
    }

    /// Add an empty workspace.
    pub fn add_workspace(&self, tenant_id: &str) -> &Self {
        self.lock().tenants.insert(tenant_id.to_owned());
        self
    }

    /// Reproduce Dify 1.13's inner-API defect: every completion app call fails with
    /// `500 {"message":"Internal Server Error","code":"unknown"}`.
    pub fn with_completion_defect(self, on: bool) -> Self {
        self.lock().completion_defect = on;
        self
    }

    /// Hold every stream of `app_id` after its `after`-th event, until the returned gate is
    /// opened (or dropped).
    pub fn gate(&self, app_id: &str, after: usize) -> Gate {
        let shared = Arc::new(gate::Shared::default());
        self.lock()
            .gates
            .insert(app_id.to_owned(), (after, shared.clone()));
        Gate { shared }
    }

    /// The calls received so far (the last [`KEPT`]), oldest first.
    pub fn calls(&self) -> Vec<ReceivedCall> {
        self.lock()
            .calls
            .iter()
            .map(|c| c.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }

    /// How many streams are open now (neither read to the end nor dropped).
    pub fn open_streams(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.outcome == CallOutcome::Streaming)
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the state half-written: every update is one insert.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Dify's checks, in Dify's order, then the run.
    fn run(&self, ctx: &CallContext, req: &AppRequest) -> Result<Run, DifyError> {
        // Measured before taking the lock, which every plugin's calls share; reported in
        // its place below.
        let bounded = limits::check(req);
        let mut state = self.lock();
        if ctx.tenant_id.is_empty() {
            return Err(DifyError::invalid_param("tenant_id is required"));
        }
        if !state.tenants.contains(&ctx.tenant_id) {
            return Err(DifyError::invalid_param("tenant not found"));
        }
        let app = match state.apps.get(&req.app_id) {
            Some(app) if app.tenant_id == ctx.tenant_id => app.clone(),
            _ => return Err(DifyError::invalid_param("app not found")),
        };
        if app.mode == AppMode::Completion && state.completion_defect {
            return Err(DifyError::new(500, "unknown", "Internal Server Error"));
        }
        let query = req.query.as_deref().unwrap_or_default();
        if app.mode.is_chat() && query.is_empty() {
            return Err(DifyError::invalid_param("missing query"));
        }
        if app.mode == AppMode::AgentChat && req.response_mode == ResponseMode::Blocking {
            return Err(DifyError::invalid_param(
                "Agent Chat App does not support blocking mode",
            ));
        }
        let continued = match req.conversation_id.as_deref() {
            Some(id) if app.mode.is_chat() && !id.is_empty() => match state.conversations.get(id) {
                Some(c)
                    if c.app_id == app.id
                        && c.tenant_id == ctx.tenant_id
                        && c.user_id == ctx.user_id =>
                {
                    Some((id.to_owned(), c.turns))
                }
                _ => return Err(DifyError::invalid_param("")),
            },
            _ => None,
        };
        forms::validate(&app.form, &req.inputs).map_err(DifyError::invalid_param)?;
        // After Dify's checks, so that Dify's own message wins where it has a limit.
        bounded.map_err(DifyError::invalid_param)?;

        let mut run = Run::new(&app, query.to_owned(), req.inputs.clone());
        let user_key = (ctx.tenant_id.clone(), ctx.user_id.clone());
        run.end_user_id = state
            .end_users
            .entry(user_key)
            .or_insert_with(runs::new_id)
            .clone();
        if !ctx.user_id.is_empty() {
            run.session_user = ctx.user_id.clone();
        }
        if app.mode.is_chat() {
            let is_new = continued.is_none();
            let (id, turns) = continued.unwrap_or_else(|| (runs::new_id(), 0));
            run.conversation_id = id.clone();
            run.dialogue_count = turns + 1;
            if is_new {
                state.conversation_order.push_back(id.clone());
                if state.conversation_order.len() > KEPT
                    && let Some(oldest) = state.conversation_order.pop_front()
                {
                    state.conversations.remove(&oldest);
                }
            }
            state.conversations.insert(
                id,
                Conversation {
                    app_id: app.id.clone(),
                    tenant_id: ctx.tenant_id.clone(),
                    user_id: ctx.user_id.clone(),
                    turns: turns + 1,
                },
            );
        }
        Ok(run)
    }

    fn record(
        &self,
        ctx: &CallContext,
        req: AppRequest,
        outcome: CallOutcome,
    ) -> Arc<Mutex<ReceivedCall>> {
        let call = Arc::new(Mutex::new(ReceivedCall {
            ctx: ctx.clone(),
            request: limits::summary(req),
            outcome,
        }));
        let mut state = self.lock();
        state.calls.push_back(call.clone());
        if state.calls.len() > KEPT {
            state.calls.pop_front();
        }
        call
    }
}

impl Backend for MockDify {
    fn invoke(&self, ctx: &CallContext, req: AppRequest) -> Result<Reply, AppError> {
        let run = match self.run(ctx, &req) {
            Ok(run) => run,
            Err(err) => {
                self.record(ctx, req, CallOutcome::Rejected(err.clone()));
                return Err(AppError::from_dify(err));
            }
        };
        match req.response_mode {
            ResponseMode::Blocking => match run.blocking_reply() {
                Ok(reply) => {
                    self.record(ctx, req, CallOutcome::Answered);
                    Ok(Reply::Blocking(reply.to_string()))
                }
                Err(err) => {
                    self.record(ctx, req, CallOutcome::Rejected(err.clone()));
                    Err(AppError::from_dify(err))
                }
            },
            ResponseMode::Streaming => {
                let gate = self.lock().gates.get(&req.app_id).cloned();
                let call = self.record(ctx, req, CallOutcome::Streaming);
                Ok(Reply::Streaming(Box::new(MockStream {
                    events: run.into_events(),
                    call,
                    delivered: 0,
                    finished: false,
                    gate,
                })))
            }
        }
    }
}

/// A streaming run: makes its events one by one as they are read, and records how it ended.
struct MockStream {
    events: runs::Events,
    call: Arc<Mutex<ReceivedCall>>,
    delivered: usize,
    finished: bool,
    gate: Option<(usize, Arc<gate::Shared>)>,
}

impl MockStream {
    fn set_outcome(&self, outcome: CallOutcome) {
        self.call.lock().unwrap_or_else(|p| p.into_inner()).outcome = outcome;
    }
}

impl EventStream for MockStream {
    /// Events are made on demand, without waiting: always ready, unless a gate holds the
    /// next one.
    fn next_ready(&mut self) -> Option<Result<Option<Event>, AppError>> {
        (!self.gated()).then(|| self.next_event())
    }

    fn next_event(&mut self) -> Result<Option<Event>, AppError> {
        if let Some((after, gate)) = &self.gate
            && self.delivered == *after
        {
            gate.pass();
        }
        match self.events.next() {
            Some(event) => {
                self.delivered += 1;
                let name = event["event"].as_str().unwrap_or_default().to_owned();
                Ok(Some(Event {
                    name,
                    json: event.to_string(),
                }))
            }
            None => {
                if !self.finished {
                    self.finished = true;
                    self.set_outcome(CallOutcome::Completed {
                        delivered: self.delivered,
                    });
                }
                Ok(None)
            }
        }
    }
}

impl MockStream {
    /// Whether the next event is held by a gate.
    fn gated(&self) -> bool {
        self.gate
            .as_ref()
            .is_some_and(|(after, _)| self.delivered == *after)
    }
}

impl Drop for MockStream {
    fn drop(&mut self) {
        if !self.finished {
            self.set_outcome(CallOutcome::Cancelled {
                delivered: self.delivered,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::AppKind;
    use serde_json::{Map, Value, json};

    fn ctx() -> CallContext {
        CallContext {
            tenant_id: DemoApps::TENANT.into(),
            user_id: String::new(),
        }
    }

    fn request(app_id: &str, query: Option<String>, inputs: Value) -> AppRequest {
        AppRequest {
            kind: if query.is_some() {
                AppKind::Chat
            } else {
                AppKind::Workflow
            },
            app_id: app_id.into(),
            query,
            inputs: inputs.as_object().cloned().unwrap_or_default(),
            conversation_id: None,
            files: Vec::new(),
            user: None,
            response_mode: ResponseMode::Streaming,
        }
    }

    fn refusal(mock: &MockDify, req: AppRequest) -> DifyError {
        match mock.invoke(&ctx(), req) {
            Err(AppError::InvalidRequest(err)) => err,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_4_mib_input_is_refused_with_the_limit_named() {
        let mock = MockDify::demo().unwrap();
        let words = "w ".repeat(2 << 20);
        // No max_length on this workflow's `name`: the mock's own bound.
        let err = refusal(
            &mock,
            request(DemoApps::FAILING_WORKFLOW, None, json!({"name": words})),
        );
        assert_eq!(err.status, 400);
        assert_eq!(err.code, "invalid_param");
        assert_eq!(
            err.message,
            "name in input form is 4194304 bytes long; the mock Dify accepts at most 1048576 \
             bytes (1 MiB) per input"
        );
        // Where Dify has a limit, Dify's message wins.
        let err = refusal(
            &mock,
            request(DemoApps::WORKFLOW, None, json!({"name": words})),
        );
        assert_eq!(
            err.message,
            "name in input form must be less than 48 characters"
        );
        // The query likewise, after `missing query`.
        let err = refusal(&mock, request(DemoApps::CHATFLOW, Some(words), json!({})));
        assert!(err.message.starts_with("query is 4194304 bytes long"));
        // Refused calls are logged, cut.
        let calls = mock.calls();
        assert_eq!(calls.len(), 3);
        match &calls[0].outcome {
            CallOutcome::Rejected(err) => assert!(err.message.contains("1048576 bytes (1 MiB)")),
            other => panic!("{other:?}"),
        }
        assert_eq!(calls[0].request.inputs.len(), 1);
        assert!(calls[0].request.inputs.contains_key(TRUNCATED_KEY));
    }

    #[test]
    fn the_log_entry_of_a_1_mib_query_is_at_most_the_cap() {
        let mock = MockDify::demo().unwrap();
        let query = "q".repeat(MAX_QUERY_BYTES);
        let Ok(Reply::Streaming(mut stream)) = mock.invoke(
            &ctx(),
            request(DemoApps::CHATFLOW, Some(query.clone()), json!({})),
        ) else {
            panic!("no stream");
        };
        // The answer still echoes the whole query...
        let mut answer = String::new();
        while let Some(event) = stream.next_event().unwrap() {
            let event: Value = serde_json::from_str(&event.json).unwrap();
            if event["event"] == "message" {
                answer.push_str(event["answer"].as_str().unwrap());
            }
        }
        assert_eq!(answer, format!("You said: {query}"));
        // ...while the log keeps its first bytes and says how much was cut.
        let logged = mock.calls()[0].request.query.clone().unwrap();
        assert!(logged.len() <= LOGGED_TEXT_BYTES + 40, "{}", logged.len());
        assert!(logged.starts_with("qqqq"));
        assert!(logged.ends_with("…[cut 1046528 of 1048576 bytes]"));
        assert_eq!(
            mock.calls()[0].outcome,
            CallOutcome::Completed { delivered: 9 }
        );
    }

    #[test]
    fn a_long_stream_read_in_part_is_cancelled_with_what_was_read() {
        let mock = MockDify::demo().unwrap();
        mock.add_app(MockApp::new(DemoApps::TENANT, "echo", AppMode::Workflow))
            .unwrap();
        // 512 Ki words: one text_chunk each, made only when read.
        let words = "a ".repeat(1 << 19);
        let inputs: Map<String, Value> = [("name".to_owned(), json!(words))].into_iter().collect();
        let Ok(Reply::Streaming(mut stream)) =
            mock.invoke(&ctx(), request("echo", None, Value::Object(inputs)))
        else {
            panic!("no stream");
        };
        for _ in 0..3 {
            assert!(stream.next_ready().is_some());
        }
        let chunk = stream.next_event().unwrap().unwrap();
        assert_eq!(chunk.name, "text_chunk");
        assert!(chunk.json.contains(r#""text":"a ""#));
        drop(stream);
        assert_eq!(
            mock.calls()[0].outcome,
            CallOutcome::Cancelled { delivered: 4 }
        );
    }
}
