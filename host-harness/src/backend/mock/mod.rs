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

mod app;
mod demo;
mod file;
mod forms;
mod gate;
mod runs;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

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
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedCall {
    /// Who called (the workspace and user the host bound the plugin to).
    pub ctx: CallContext,
    /// What the plugin asked for.
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
        let query = req.query.clone().unwrap_or_default();
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

        let mut run = Run::new(&app, query, req.inputs.clone());
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
            request: req,
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
                    events: run.events().into_iter(),
                    call,
                    delivered: 0,
                    finished: false,
                    gate,
                })))
            }
        }
    }
}

/// A streaming run: hands out its events one by one and records how it ended.
struct MockStream {
    events: std::vec::IntoIter<Value>,
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
    /// Events are in memory: always ready, unless a gate holds the next one.
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
