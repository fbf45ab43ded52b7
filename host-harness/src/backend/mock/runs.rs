//! What one app run looks like on the wire: the streamed events and the blocking reply,
//! shaped key for key like the recorded Dify 1.13.2 exchanges (`inner-02`, `inner-04`,
//! `inner-01`, `inner-03`, `inner-50`) and the converters of reference §4.
//!
//! A stream's events are made as it is read ([`Events`]): a run is a short list of steps
//! (at most eight), each making one event, except the answer's deltas and a workflow's text
//! chunks, which make one event per word from an offset into the text. So an open stream
//! holds its run and a few ids, never its events, however long the answer.

use std::borrow::Cow;
use std::collections::VecDeque;

use serde_json::{Map, Value, json};

use super::app::{AppMode, Behaviour, MockApp};
use crate::backend::DifyError;

/// The ids and facts of one run.
#[derive(Debug, Clone)]
pub struct Run {
    pub mode: AppMode,
    pub app_id: String,
    pub behaviour: Behaviour,
    pub query: String,
    pub inputs: Map<String, Value>,
    pub conversation_id: String,
    pub dialogue_count: u64,
    /// The end user's id (`created_by.id`).
    pub end_user_id: String,
    /// The session user as Dify shows it (`sys.user_id`, `created_by.user`).
    pub session_user: String,
    pub task_id: String,
    pub message_id: String,
    pub workflow_run_id: String,
    pub workflow_id: String,
    pub created_at: i64,
}

impl Run {
    pub fn new(app: &MockApp, query: String, inputs: Map<String, Value>) -> Self {
        Run {
            mode: app.mode,
            app_id: app.id.clone(),
            behaviour: app.behaviour.clone(),
            query,
            inputs,
            conversation_id: String::new(),
            dialogue_count: 1,
            end_user_id: new_id(),
            session_user: "DEFAULT-USER".into(),
            task_id: new_id(),
            message_id: new_id(),
            workflow_run_id: new_id(),
            workflow_id: new_id(),
            created_at: now(),
        }
    }

    /// The events of a streaming run, in order, made as they are read.
    pub fn into_events(self) -> Events {
        let steps = if let Behaviour::Script(_) = &self.behaviour {
            vec![Step::Script(0)]
        } else {
            match self.mode {
                AppMode::AdvancedChat => self.chatflow_steps(),
                AppMode::Workflow => self.workflow_steps(),
                AppMode::Chat | AppMode::AgentChat | AppMode::Completion => self.easy_ui_steps(),
            }
        };
        Events {
            run: self,
            steps: steps.into(),
        }
    }

    /// The reply of a blocking run, or the error Dify raises instead.
    pub fn blocking_reply(&self) -> Result<Value, DifyError> {
        if self.mode == AppMode::Workflow {
            return Ok(self.workflow_blocking());
        }
        if let Behaviour::Fail(message) = &self.behaviour {
            return Err(match self.mode {
                AppMode::AdvancedChat => DifyError::invalid_param(format!("Run failed: {message}")),
                _ => DifyError::new(400, "completion_request_error", message.clone()),
            });
        }
        let mut reply = Map::new();
        reply.insert("event".into(), json!("message"));
        reply.insert("task_id".into(), json!(self.task_id));
        reply.insert("id".into(), json!(self.message_id));
        reply.insert("message_id".into(), json!(self.message_id));
        if self.mode.is_chat() {
            reply.insert("conversation_id".into(), json!(self.conversation_id));
        }
        reply.insert("mode".into(), json!(self.mode.as_str()));
        reply.insert("answer".into(), json!(self.answer()));
        reply.insert("metadata".into(), metadata());
        reply.insert("created_at".into(), json!(self.created_at));
        Ok(Value::Object(reply))
    }

    /// The whole answer of a chat-type or completion run.
    fn answer(&self) -> String {
        match &self.behaviour {
            Behaviour::Script(events) => events
                .iter()
                .filter(|e| matches!(e["event"].as_str(), Some("message" | "agent_message")))
                .filter_map(|e| e["answer"].as_str())
                .collect(),
            _ => self.full_answer(),
        }
    }

    /// The whole answer of a run that is not scripted: its pieces joined.
    fn full_answer(&self) -> String {
        match &self.behaviour {
            Behaviour::Answer(text) => text.clone(),
            _ if self.mode == AppMode::Completion => input_text(&self.inputs),
            _ => format!("You said: {}", self.query),
        }
    }

    /// The answer's delta number `index`, which starts at byte `offset` of the answer text,
    /// and the offset of the next one; `None` after the last. A configured answer streams
    /// word by word (each word with the space after it), an echo in two pieces.
    fn piece(&self, index: usize, offset: usize) -> Option<(Cow<'_, str>, usize)> {
        match &self.behaviour {
            Behaviour::Answer(text) => next_word(text, offset).map(|(w, o)| (Cow::Borrowed(w), o)),
            _ if self.mode == AppMode::Completion => {
                (index == 0).then(|| (Cow::Owned(input_text(&self.inputs)), 0))
            }
            _ => match index {
                0 => Some((Cow::Borrowed("You said: "), 0)),
                1 => Some((Cow::Borrowed(self.query.as_str()), 0)),
                _ => None,
            },
        }
    }

    fn outputs(&self) -> Map<String, Value> {
        match &self.behaviour {
            Behaviour::Answer(text) => [("text".to_owned(), json!(text))].into_iter().collect(),
            Behaviour::Fail(_) => Map::new(),
            _ => self.inputs.clone(),
        }
    }

    fn failure(&self) -> Option<&str> {
        match &self.behaviour {
            Behaviour::Fail(message) => Some(message),
            _ => None,
        }
    }

    /// Keys every chat-type event starts with: `event, conversation_id, message_id, created_at`.
    fn chat_event(&self, event: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("event".into(), json!(event));
        if self.mode.is_chat() {
            m.insert("conversation_id".into(), json!(self.conversation_id));
        }
        m.insert("message_id".into(), json!(self.message_id));
        m.insert("created_at".into(), json!(self.created_at));
        m
    }

    /// Keys of an event inside a workflow run: chat keys for chatflows, then
    /// `task_id, workflow_run_id, data`.
    fn workflow_event(&self, event: &str, data: Value) -> Value {
        let mut m = if self.mode == AppMode::AdvancedChat {
            let mut m = self.chat_event(event);
            m.insert("task_id".into(), json!(self.task_id));
            m.insert("workflow_run_id".into(), json!(self.workflow_run_id));
            m
        } else {
            let mut m = Map::new();
            m.insert("event".into(), json!(event));
            m.insert("workflow_run_id".into(), json!(self.workflow_run_id));
            m.insert("task_id".into(), json!(self.task_id));
            m
        };
        m.insert("data".into(), data);
        Value::Object(m)
    }

    fn message_event(&self, event: &str, answer: &str, selector: Value) -> Value {
        let mut m = self.chat_event(event);
        m.insert("task_id".into(), json!(self.task_id));
        m.insert("id".into(), json!(self.message_id));
        m.insert("answer".into(), json!(answer));
        if event == "message" {
            m.insert("from_variable_selector".into(), selector);
        }
        Value::Object(m)
    }

    fn message_end(&self, files: Value) -> Value {
        let mut m = self.chat_event("message_end");
        m.insert("task_id".into(), json!(self.task_id));
        m.insert("id".into(), json!(self.message_id));
        m.insert("metadata".into(), metadata());
        m.insert("files".into(), files);
        Value::Object(m)
    }

    /// Dify's in-stream failure: the base keys plus `code, message, status`, no `task_id`.
    fn error_event(&self, code: &str, message: String) -> Value {
        let mut m = if self.mode == AppMode::Workflow {
            let mut m = Map::new();
            m.insert("event".into(), json!("error"));
            m.insert("workflow_run_id".into(), json!(self.workflow_run_id));
            m
        } else {
            self.chat_event("error")
        };
        m.insert("code".into(), json!(code));
        m.insert("message".into(), json!(message));
        m.insert("status".into(), json!(400));
        Value::Object(m)
    }

    /// Chatbot, agent and completion apps (Dify's "easy UI" pipeline).
    fn easy_ui_steps(&self) -> Vec<Step> {
        if self.failure().is_some() {
            return vec![one(|r| {
                let message = r.failure().unwrap_or_default().to_owned();
                r.error_event("completion_request_error", message)
            })];
        }
        let agent = self.mode == AppMode::AgentChat;
        let mut steps = Vec::new();
        if agent {
            steps.push(one(|r| r.agent_thought("")));
        }
        let name = if agent { "agent_message" } else { "message" };
        steps.push(Step::Pieces(Pieces::new(name, false)));
        if agent {
            steps.push(one(|r| r.agent_thought(&r.full_answer())));
        }
        steps.push(one(|r| r.message_end(Value::Null)));
        steps
    }

    fn agent_thought(&self, thought: &str) -> Value {
        let mut m = self.chat_event("agent_thought");
        m.insert("task_id".into(), json!(self.task_id));
        m.insert("id".into(), json!(self.workflow_run_id));
        m.insert("position".into(), json!(1));
        m.insert("thought".into(), json!(thought));
        m.insert("observation".into(), json!(""));
        m.insert("tool".into(), json!(""));
        m.insert("tool_labels".into(), json!({}));
        m.insert("tool_input".into(), json!(""));
        m.insert("message_files".into(), json!([]));
        Value::Object(m)
    }

    /// The `sys.*` variables a run starts with, after the user's inputs.
    fn run_inputs(&self) -> Map<String, Value> {
        let mut inputs = self.inputs.clone();
        inputs.insert("sys.files".into(), json!([]));
        inputs.insert("sys.user_id".into(), json!(self.session_user));
        inputs.insert("sys.app_id".into(), json!(self.app_id));
        inputs.insert("sys.workflow_id".into(), json!(self.workflow_id));
        inputs.insert("sys.workflow_run_id".into(), json!(self.workflow_run_id));
        if self.mode == AppMode::AdvancedChat {
            inputs.insert("sys.query".into(), json!(self.query));
            inputs.insert("sys.dialogue_count".into(), json!(self.dialogue_count));
        }
        inputs
    }

    fn workflow_started(&self) -> Value {
        self.workflow_event(
            "workflow_started",
            json!({
                "id": self.workflow_run_id,
                "workflow_id": self.workflow_id,
                "inputs": self.run_inputs(),
                "created_at": self.created_at,
                "reason": "initial",
            }),
        )
    }

    fn node_started(&self, exec_id: &str, node_id: &str, node_type: &str, title: &str) -> Value {
        self.workflow_event(
            "node_started",
            json!({
                "id": exec_id, "node_id": node_id, "node_type": node_type, "title": title,
                "index": 1, "predecessor_node_id": null, "inputs": null, "inputs_truncated": false,
                "created_at": self.created_at, "extras": {}, "iteration_id": null,
                "loop_id": null, "agent_strategy": null,
            }),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn node_finished(
        &self,
        exec_id: &str,
        node_id: &str,
        node_type: &str,
        title: &str,
        inputs: Value,
        outputs: Value,
        error: Option<&str>,
    ) -> Value {
        self.workflow_event(
            "node_finished",
            json!({
                "id": exec_id, "node_id": node_id, "node_type": node_type, "title": title,
                "index": 1, "predecessor_node_id": null, "inputs": inputs,
                "inputs_truncated": false, "process_data": {}, "process_data_truncated": false,
                "outputs": outputs, "outputs_truncated": false,
                "status": if error.is_some() { "failed" } else { "succeeded" },
                "error": error, "elapsed_time": 0.000132, "execution_metadata": null,
                "created_at": self.created_at, "finished_at": self.created_at, "files": [],
                "iteration_id": null, "loop_id": null,
            }),
        )
    }

    fn workflow_finished(&self, outputs: Value, error: Option<&str>) -> Value {
        self.workflow_event(
            "workflow_finished",
            json!({
                "id": self.workflow_run_id, "workflow_id": self.workflow_id,
                "status": if error.is_some() { "failed" } else { "succeeded" },
                "outputs": outputs, "error": error, "elapsed_time": 0.068133,
                "total_tokens": 0, "total_steps": 2,
                "created_by": {"id": self.end_user_id, "user": self.session_user},
                "created_at": self.created_at, "finished_at": self.created_at,
                "exceptions_count": 0, "files": [],
            }),
        )
    }

    /// The start node's view of the run's variables, as `node_finished` shows them.
    fn start_outputs(&self) -> Value {
        let mut vars = self.run_inputs();
        if self.mode == AppMode::AdvancedChat {
            vars.insert("sys.conversation_id".into(), json!(self.conversation_id));
        } else {
            vars.insert("sys.timestamp".into(), json!(self.created_at));
        }
        Value::Object(vars)
    }

    /// The Start node finishing: its inputs and outputs are the run's variables.
    fn start_finished(&self, exec_id: &str, node_id: &str) -> Value {
        let vars = self.start_outputs();
        self.node_finished(exec_id, node_id, "start", "Start", vars.clone(), vars, None)
    }

    /// Start -> (failing Code node) for a failing run.
    fn failing_steps(&self) -> [Step; 3] {
        let exec = new_id();
        let started = exec.clone();
        [
            one(move |r| r.node_started(&started, "1700000000003", "code", "Code")),
            one(move |r| {
                r.node_finished(
                    &exec,
                    "1700000000003",
                    "code",
                    "Code",
                    json!({}),
                    json!({}),
                    r.failure(),
                )
            }),
            one(|r| r.workflow_finished(json!({}), r.failure())),
        ]
    }

    /// Chatflow: Start -> Answer, the recorded `inner-04` sequence.
    fn chatflow_steps(&self) -> Vec<Step> {
        let start = new_id();
        let started = start.clone();
        let mut steps = vec![
            one(Run::workflow_started),
            one(move |r| r.node_started(&started, "1700000000011", "start", "Start")),
        ];
        if self.failure().is_some() {
            steps.push(one(move |r| r.start_finished(&start, "1700000000011")));
            steps.extend(self.failing_steps());
            steps.push(one(|r| {
                let message = r.failure().unwrap_or_default();
                r.error_event("invalid_param", format!("Run failed: {message}"))
            }));
            return steps;
        }
        steps.push(Step::Pieces(Pieces::new("message", true)));
        let answer_exec = new_id();
        let answer_started = answer_exec.clone();
        steps.extend([
            one(move |r| r.start_finished(&start, "1700000000011")),
            one(move |r| r.node_started(&answer_started, "1700000000012", "answer", "Answer")),
            one(move |r| {
                r.node_finished(
                    &answer_exec,
                    "1700000000012",
                    "answer",
                    "Answer",
                    json!({}),
                    json!({"answer": r.full_answer(), "files": []}),
                    None,
                )
            }),
            one(|r| r.message_end(json!([]))),
            one(|r| r.workflow_finished(json!({"answer": r.full_answer(), "files": []}), None)),
        ]);
        steps
    }

    /// Workflow: Start -> End, the recorded `inner-02` sequence.
    fn workflow_steps(&self) -> Vec<Step> {
        let start = new_id();
        let started = start.clone();
        let mut steps = vec![
            one(Run::workflow_started),
            one(move |r| r.node_started(&started, "1700000000001", "start", "Start")),
        ];
        if self.failure().is_none() {
            steps.push(Step::Chunks(Chunks::default()));
        }
        steps.push(one(move |r| r.start_finished(&start, "1700000000001")));
        if self.failure().is_some() {
            steps.extend(self.failing_steps());
            return steps;
        }
        let end = new_id();
        let end_started = end.clone();
        steps.extend([
            one(move |r| r.node_started(&end_started, "1700000000002", "end", "End")),
            one(move |r| {
                let outputs = Value::Object(r.outputs());
                r.node_finished(
                    &end,
                    "1700000000002",
                    "end",
                    "End",
                    outputs.clone(),
                    outputs,
                    None,
                )
            }),
            one(|r| r.workflow_finished(Value::Object(r.outputs()), None)),
        ]);
        steps
    }

    /// `WorkflowAppBlockingResponse`: no `event` key (recorded `inner-01`, `inner-50`).
    fn workflow_blocking(&self) -> Value {
        let (status, outputs, error) = match &self.behaviour {
            Behaviour::Fail(message) => ("failed", json!({}), json!(message)),
            Behaviour::Script(events) => {
                let finished = events
                    .iter()
                    .rev()
                    .find(|e| e["event"] == "workflow_finished")
                    .map(|e| &e["data"]);
                match finished {
                    Some(data) => (
                        data["status"].as_str().unwrap_or("succeeded"),
                        data["outputs"].clone(),
                        data["error"].clone(),
                    ),
                    None => ("succeeded", json!({}), Value::Null),
                }
            }
            _ => ("succeeded", Value::Object(self.outputs()), Value::Null),
        };
        json!({
            "task_id": self.task_id,
            "workflow_run_id": self.workflow_run_id,
            "data": {
                "id": self.workflow_run_id, "workflow_id": self.workflow_id, "status": status,
                "outputs": outputs, "error": error, "elapsed_time": 0.05365, "total_tokens": 0,
                "total_steps": 2, "created_at": self.created_at, "finished_at": self.created_at,
            }
        })
    }
}

/// The events of one streaming run, made one per [`Iterator::next`] call.
pub struct Events {
    run: Run,
    /// What is left to make, in order; a step is dropped once it has made its last event.
    steps: VecDeque<Step>,
}

/// One step of a run's event sequence.
enum Step {
    /// One event.
    One(Box<dyn Fn(&Run) -> Value + Send>),
    /// The scripted events, from this index.
    Script(usize),
    /// The answer's deltas, one `message` (or `agent_message`) event each.
    Pieces(Pieces),
    /// A workflow's string outputs, one `text_chunk` event per word.
    Chunks(Chunks),
}

fn one(make: impl Fn(&Run) -> Value + Send + 'static) -> Step {
    Step::One(Box::new(make))
}

impl Iterator for Events {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        while let Some(step) = self.steps.front_mut() {
            let (event, last) = match step {
                Step::One(make) => (Some(make(&self.run)), true),
                Step::Script(i) => {
                    let event = match &self.run.behaviour {
                        Behaviour::Script(events) => events.get(*i).cloned(),
                        _ => None,
                    };
                    *i += 1;
                    (event, false)
                }
                Step::Pieces(pieces) => (pieces.next(&self.run), false),
                Step::Chunks(chunks) => (chunks.next(&self.run), false),
            };
            if last || event.is_none() {
                self.steps.pop_front();
            }
            if event.is_some() {
                return event;
            }
        }
        None
    }
}

/// Where the answer's deltas are: the next piece's number and byte offset.
struct Pieces {
    /// `message` or `agent_message`.
    name: &'static str,
    /// Chatflow deltas carry a `from_variable_selector`.
    chatflow: bool,
    index: usize,
    offset: usize,
}

impl Pieces {
    fn new(name: &'static str, chatflow: bool) -> Self {
        Pieces {
            name,
            chatflow,
            index: 0,
            offset: 0,
        }
    }

    fn next(&mut self, run: &Run) -> Option<Value> {
        let (piece, offset) = run.piece(self.index, self.offset)?;
        let selector = if !self.chatflow {
            Value::Null
        } else if self.index == 1 && matches!(run.behaviour, Behaviour::Echo) {
            json!(["sys", "query"])
        } else {
            json!(["1700000000012", "answer"])
        };
        let event = run.message_event(self.name, &piece, selector);
        self.index += 1;
        self.offset = offset;
        Some(event)
    }
}

/// Where a workflow's text chunks are: the outputs not yet chunked, and the one being
/// chunked (name, text, offset of its next word). The outputs are taken when the first
/// chunk is read, not when the stream is opened.
#[derive(Default)]
struct Chunks {
    outputs: Option<serde_json::map::IntoIter>,
    current: Option<(String, String, usize)>,
}

impl Chunks {
    fn next(&mut self, run: &Run) -> Option<Value> {
        loop {
            if let Some((name, text, offset)) = &mut self.current {
                if let Some((chunk, next)) = next_word(text, *offset) {
                    *offset = next;
                    return Some(run.workflow_event(
                        "text_chunk",
                        json!({"text": chunk, "from_variable_selector": ["1700000000001", name]}),
                    ));
                }
                self.current = None;
            }
            let outputs = self
                .outputs
                .get_or_insert_with(|| run.outputs().into_iter());
            // Only string outputs are streamed as text.
            if let (name, Value::String(text)) = outputs.next()? {
                self.current = Some((name, text, 0));
            }
        }
    }
}

/// The word of `text` at byte `offset`, with the space after it, and the offset after it:
/// `str::split_inclusive(' ')` one piece at a time.
fn next_word(text: &str, offset: usize) -> Option<(&str, usize)> {
    let rest = text.get(offset..).filter(|rest| !rest.is_empty())?;
    let end = rest.find(' ').map_or(rest.len(), |i| i + 1);
    Some((&rest[..end], offset + end))
}

/// `message_end.metadata` as Dify 1.13.2 sends it for a run with no model usage.
fn metadata() -> Value {
    json!({
        "annotation_reply": null,
        "retriever_resources": [],
        "usage": {
            "prompt_tokens": 0, "prompt_unit_price": "0.0", "prompt_price_unit": "0.0",
            "prompt_price": "0.0", "completion_tokens": 0, "completion_unit_price": "0.0",
            "completion_price_unit": "0.0", "completion_price": "0.0", "total_tokens": 0,
            "total_price": "0.0", "currency": "USD", "latency": 0.0,
            "time_to_first_token": 0.05, "time_to_generate": 0.0,
        }
    })
}

/// The string values of the inputs, space-separated: what an echoing completion app says.
fn input_text(inputs: &Map<String, Value>) -> String {
    let parts: Vec<&str> = inputs.values().filter_map(Value::as_str).collect();
    parts.join(" ")
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::mock::InputField;

    /// The events as the eager builder before [`Events`] made them (`Run::events` of the
    /// previous version, kept verbatim but for names): the oracle of byte identity.
    mod eager {
        use super::*;

        pub fn events(run: &Run) -> Vec<Value> {
            if let Behaviour::Script(events) = &run.behaviour {
                return events.clone();
            }
            match run.mode {
                AppMode::AdvancedChat => chatflow_events(run),
                AppMode::Workflow => workflow_events(run),
                _ => easy_ui_events(run),
            }
        }

        fn answer_pieces(run: &Run) -> Vec<String> {
            match &run.behaviour {
                Behaviour::Answer(text) => text.split_inclusive(' ').map(str::to_owned).collect(),
                _ if run.mode == AppMode::Completion => vec![input_text(&run.inputs)],
                _ => vec!["You said: ".into(), run.query.clone()],
            }
        }

        fn easy_ui_events(run: &Run) -> Vec<Value> {
            if let Some(message) = run.failure() {
                return vec![run.error_event("completion_request_error", message.to_owned())];
            }
            let agent = run.mode == AppMode::AgentChat;
            let pieces = answer_pieces(run);
            let mut events = Vec::new();
            if agent {
                events.push(run.agent_thought(""));
            }
            for piece in &pieces {
                let name = if agent { "agent_message" } else { "message" };
                events.push(run.message_event(name, piece, Value::Null));
            }
            if agent {
                events.push(run.agent_thought(&pieces.concat()));
            }
            events.push(run.message_end(Value::Null));
            events
        }

        fn failing_node(run: &Run, events: &mut Vec<Value>, message: &str) {
            let exec = new_id();
            events.push(run.node_started(&exec, "1700000000003", "code", "Code"));
            events.push(run.node_finished(
                &exec,
                "1700000000003",
                "code",
                "Code",
                json!({}),
                json!({}),
                Some(message),
            ));
            events.push(run.workflow_finished(json!({}), Some(message)));
        }

        fn chatflow_events(run: &Run) -> Vec<Value> {
            let start = new_id();
            let mut events = vec![
                run.workflow_started(),
                run.node_started(&start, "1700000000011", "start", "Start"),
            ];
            if let Some(message) = run.failure() {
                events.push(run.start_finished(&start, "1700000000011"));
                failing_node(run, &mut events, message);
                events.push(run.error_event("invalid_param", format!("Run failed: {message}")));
                return events;
            }
            let pieces = answer_pieces(run);
            for (i, piece) in pieces.iter().enumerate() {
                let selector = if i == 1 && matches!(run.behaviour, Behaviour::Echo) {
                    json!(["sys", "query"])
                } else {
                    json!(["1700000000012", "answer"])
                };
                events.push(run.message_event("message", piece, selector));
            }
            let answer = pieces.concat();
            let answer_exec = new_id();
            events.extend([
                run.start_finished(&start, "1700000000011"),
                run.node_started(&answer_exec, "1700000000012", "answer", "Answer"),
                run.node_finished(
                    &answer_exec,
                    "1700000000012",
                    "answer",
                    "Answer",
                    json!({}),
                    json!({"answer": answer, "files": []}),
                    None,
                ),
                run.message_end(json!([])),
                run.workflow_finished(json!({"answer": answer, "files": []}), None),
            ]);
            events
        }

        fn workflow_events(run: &Run) -> Vec<Value> {
            let start = new_id();
            let mut events = vec![
                run.workflow_started(),
                run.node_started(&start, "1700000000001", "start", "Start"),
            ];
            let outputs = run.outputs();
            if run.failure().is_none() {
                for (name, value) in &outputs {
                    let chunks: Vec<&str> = match value.as_str() {
                        Some(text) => text.split_inclusive(' ').collect(),
                        None => continue,
                    };
                    for text in chunks {
                        events.push(run.workflow_event(
                            "text_chunk",
                            json!({"text": text, "from_variable_selector": ["1700000000001", name]}),
                        ));
                    }
                }
            }
            events.push(run.start_finished(&start, "1700000000001"));
            if let Some(message) = run.failure() {
                failing_node(run, &mut events, message);
                return events;
            }
            let end = new_id();
            events.extend([
                run.node_started(&end, "1700000000002", "end", "End"),
                run.node_finished(
                    &end,
                    "1700000000002",
                    "end",
                    "End",
                    Value::Object(outputs.clone()),
                    Value::Object(outputs.clone()),
                    None,
                ),
                run.workflow_finished(Value::Object(outputs), None),
            ]);
            events
        }
    }

    /// The JSON text of each event, with the node executions' random ids replaced; checks
    /// that each node's started and finished events share their id.
    fn texts(events: Vec<Value>) -> Vec<String> {
        let mut open: Vec<String> = Vec::new();
        events
            .into_iter()
            .map(|mut e| {
                match e["event"].as_str() {
                    Some("node_started") => {
                        open.push(e["data"]["id"].as_str().unwrap().to_owned());
                        e["data"]["id"] = json!("<exec>");
                    }
                    Some("node_finished") => {
                        assert_eq!(open.pop().as_deref(), e["data"]["id"].as_str());
                        e["data"]["id"] = json!("<exec>");
                    }
                    _ => {}
                }
                e.to_string()
            })
            .collect()
    }

    fn runs() -> Vec<Run> {
        let modes = [
            AppMode::Chat,
            AppMode::AgentChat,
            AppMode::AdvancedChat,
            AppMode::Workflow,
            AppMode::Completion,
        ];
        let behaviours = [
            Behaviour::Echo,
            Behaviour::Answer("Ducks  are waterfowl. ".into()),
            Behaviour::Answer(String::new()),
            Behaviour::Fail("the sandbox is down".into()),
            Behaviour::Script(vec![json!({"event": "message", "answer": "Hi"})]),
        ];
        let inputs = json!({"name": "Ann Lee ", "n": 3, "empty": "", "tone": "dry wit"});
        let mut runs = Vec::new();
        for mode in modes {
            for behaviour in &behaviours {
                let app = MockApp::new("t", "a", mode)
                    .input(InputField::text("name"))
                    .behaviour(behaviour.clone());
                let inputs = inputs.as_object().unwrap().clone();
                let mut run = Run::new(&app, "hello there".into(), inputs);
                run.conversation_id = new_id();
                runs.push(run);
            }
        }
        runs
    }

    #[test]
    fn lazy_events_are_byte_identical_to_the_eager_ones() {
        for run in runs() {
            let what = format!("{:?} {:?}", run.mode, run.behaviour);
            let expected = texts(eager::events(&run));
            let lazy = texts(run.into_events().collect());
            assert_eq!(lazy, expected, "{what}");
        }
    }

    fn long_answer_run(mode: AppMode, words: usize) -> Run {
        let app = MockApp::new("t", "a", mode).behaviour(Behaviour::Answer("word ".repeat(words)));
        Run::new(&app, "q".into(), Map::new())
    }

    #[test]
    fn a_long_stream_is_made_as_it_is_read() {
        for mode in [AppMode::Chat, AppMode::AdvancedChat, AppMode::Workflow] {
            let mut events = long_answer_run(mode, 1_000_000).into_events();
            // Opening the stream made nothing: a few steps, the word stream at its start.
            assert!(events.steps.len() <= 8, "{mode:?}: {}", events.steps.len());
            let words = |events: &Events| {
                events.steps.iter().find_map(|s| match s {
                    Step::Pieces(p) => Some(p.offset),
                    Step::Chunks(c) => Some(c.current.as_ref().map_or(0, |(_, _, o)| *o)),
                    _ => None,
                })
            };
            assert_eq!(words(&events), Some(0), "{mode:?}");
            // Each read makes one event and moves one word on.
            let first_words: Vec<Value> = events.by_ref().take(3).collect();
            assert!(
                first_words
                    .iter()
                    .any(|e| e.to_string().contains("\"word \""))
            );
            let at = words(&events).unwrap();
            events.next();
            assert_eq!(words(&events), Some(at + 5), "{mode:?}");
        }
    }

    #[test]
    fn a_long_echo_streams_every_word_once() {
        let app = MockApp::new("t", "a", AppMode::Workflow);
        let text = "a b  c ".repeat(10_000);
        let inputs = json!({"x": text, "y": 1}).as_object().unwrap().clone();
        let run = Run::new(&app, String::new(), inputs);
        let chunks: String = run
            .into_events()
            .filter(|e| e["event"] == "text_chunk")
            .map(|e| e["data"]["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(chunks, text);
    }
}
