//! What one app run looks like on the wire: the streamed events and the blocking reply,
//! shaped key for key like the recorded Dify 1.13.2 exchanges (`inner-02`, `inner-04`,
//! `inner-01`, `inner-03`, `inner-50`) and the converters of reference §4.

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

    /// The events of a streaming run, in order.
    pub fn events(&self) -> Vec<Value> {
        if let Behaviour::Script(events) = &self.behaviour {
            return events.clone();
        }
        match self.mode {
            AppMode::AdvancedChat => self.chatflow_events(),
            AppMode::Workflow => self.workflow_events(),
            AppMode::Chat | AppMode::AgentChat | AppMode::Completion => self.easy_ui_events(),
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
            _ => self.answer_pieces().concat(),
        }
    }

    /// The answer as the deltas Dify streams.
    fn answer_pieces(&self) -> Vec<String> {
        match &self.behaviour {
            Behaviour::Answer(text) => text.split_inclusive(' ').map(str::to_owned).collect(),
            _ if self.mode == AppMode::Completion => vec![input_text(&self.inputs)],
            _ => vec!["You said: ".into(), self.query.clone()],
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
    fn easy_ui_events(&self) -> Vec<Value> {
        if let Some(message) = self.failure() {
            return vec![self.error_event("completion_request_error", message.to_owned())];
        }
        let agent = self.mode == AppMode::AgentChat;
        let pieces = self.answer_pieces();
        let mut events = Vec::new();
        if agent {
            events.push(self.agent_thought(""));
        }
        for piece in &pieces {
            let name = if agent { "agent_message" } else { "message" };
            events.push(self.message_event(name, piece, Value::Null));
        }
        if agent {
            events.push(self.agent_thought(&pieces.concat()));
        }
        events.push(self.message_end(Value::Null));
        events
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
    fn failing_node(&self, events: &mut Vec<Value>, message: &str) {
        let exec = new_id();
        events.push(self.node_started(&exec, "1700000000003", "code", "Code"));
        events.push(self.node_finished(
            &exec,
            "1700000000003",
            "code",
            "Code",
            json!({}),
            json!({}),
            Some(message),
        ));
        events.push(self.workflow_finished(json!({}), Some(message)));
    }

    /// Chatflow: Start -> Answer, the recorded `inner-04` sequence.
    fn chatflow_events(&self) -> Vec<Value> {
        let start = new_id();
        let mut events = vec![
            self.workflow_started(),
            self.node_started(&start, "1700000000011", "start", "Start"),
        ];
        if let Some(message) = self.failure() {
            events.push(self.start_finished(&start, "1700000000011"));
            self.failing_node(&mut events, message);
            events.push(self.error_event("invalid_param", format!("Run failed: {message}")));
            return events;
        }
        let pieces = self.answer_pieces();
        for (i, piece) in pieces.iter().enumerate() {
            let selector = if i == 1 && matches!(self.behaviour, Behaviour::Echo) {
                json!(["sys", "query"])
            } else {
                json!(["1700000000012", "answer"])
            };
            events.push(self.message_event("message", piece, selector));
        }
        let answer = pieces.concat();
        let answer_exec = new_id();
        events.extend([
            self.start_finished(&start, "1700000000011"),
            self.node_started(&answer_exec, "1700000000012", "answer", "Answer"),
            self.node_finished(
                &answer_exec,
                "1700000000012",
                "answer",
                "Answer",
                json!({}),
                json!({"answer": answer, "files": []}),
                None,
            ),
            self.message_end(json!([])),
            self.workflow_finished(json!({"answer": answer, "files": []}), None),
        ]);
        events
    }

    /// Workflow: Start -> End, the recorded `inner-02` sequence.
    fn workflow_events(&self) -> Vec<Value> {
        let start = new_id();
        let mut events = vec![
            self.workflow_started(),
            self.node_started(&start, "1700000000001", "start", "Start"),
        ];
        let outputs = self.outputs();
        if self.failure().is_none() {
            for (name, value) in &outputs {
                let chunks: Vec<&str> = match value.as_str() {
                    Some(text) => text.split_inclusive(' ').collect(),
                    None => continue,
                };
                for text in chunks {
                    events.push(self.workflow_event(
                        "text_chunk",
                        json!({"text": text, "from_variable_selector": ["1700000000001", name]}),
                    ));
                }
            }
        }
        events.push(self.start_finished(&start, "1700000000001"));
        if let Some(message) = self.failure() {
            self.failing_node(&mut events, message);
            return events;
        }
        let end = new_id();
        events.extend([
            self.node_started(&end, "1700000000002", "end", "End"),
            self.node_finished(
                &end,
                "1700000000002",
                "end",
                "End",
                Value::Object(outputs.clone()),
                Value::Object(outputs.clone()),
                None,
            ),
            self.workflow_finished(Value::Object(outputs), None),
        ]);
        events
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
