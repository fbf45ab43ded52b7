//! What a mock app is: its mode, input form and scripted behaviour.

use serde::Deserialize;
use serde_json::Value;

/// An app's mode, as Dify stores it (`apps.mode`). Dify routes every call on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppMode {
    /// Chatbot (`chat`).
    Chat,
    /// Agent (`agent-chat`): streaming only.
    AgentChat,
    /// Chatflow (`advanced-chat`): a workflow behind a chat.
    AdvancedChat,
    /// Workflow (`workflow`).
    Workflow,
    /// Text generator (`completion`).
    Completion,
}

impl AppMode {
    /// Dify's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AppMode::Chat => "chat",
            AppMode::AgentChat => "agent-chat",
            AppMode::AdvancedChat => "advanced-chat",
            AppMode::Workflow => "workflow",
            AppMode::Completion => "completion",
        }
    }

    /// Chat-type apps need a query and have conversations.
    pub fn is_chat(self) -> bool {
        matches!(
            self,
            AppMode::Chat | AppMode::AgentChat | AppMode::AdvancedChat
        )
    }
}

/// The type of an input form variable, with Dify's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldType {
    /// `text-input`: a short string.
    TextInput,
    /// `paragraph`: a long string.
    Paragraph,
    /// `select`: one of `options`.
    Select,
    /// `number`: a number, or a string holding one.
    Number,
}

impl FieldType {
    /// Dify's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::TextInput => "text-input",
            FieldType::Paragraph => "paragraph",
            FieldType::Select => "select",
            FieldType::Number => "number",
        }
    }
}

/// One variable of an app's input form (the Start node of a workflow).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InputField {
    /// The variable name, the key in `inputs`.
    pub variable: String,
    /// Its type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Whether Dify refuses a call without it.
    #[serde(default)]
    pub required: bool,
    /// The longest accepted text, in characters.
    #[serde(default)]
    pub max_length: Option<usize>,
    /// The accepted values of a `select`.
    #[serde(default)]
    pub options: Vec<String>,
}

impl InputField {
    /// A `text-input` variable.
    pub fn text(variable: &str) -> Self {
        InputField {
            variable: variable.to_owned(),
            field_type: FieldType::TextInput,
            required: false,
            max_length: None,
            options: Vec::new(),
        }
    }

    /// A `select` variable with its options.
    pub fn select(variable: &str, options: &[&str]) -> Self {
        InputField {
            field_type: FieldType::Select,
            options: options.iter().map(|o| (*o).to_owned()).collect(),
            ..InputField::text(variable)
        }
    }

    /// A `number` variable.
    pub fn number(variable: &str) -> Self {
        InputField {
            field_type: FieldType::Number,
            ..InputField::text(variable)
        }
    }

    /// Make it required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Limit its length.
    pub fn max_length(mut self, max: usize) -> Self {
        self.max_length = Some(max);
        self
    }
}

/// What a mock app answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Chat-type apps answer `You said: <query>` (as the recorded chatflow does); workflows
    /// output their inputs; completion apps answer with their inputs as text.
    Echo,
    /// Answer this text (chat and completion), or output `{"text": …}` (workflow), streamed
    /// word by word.
    Answer(String),
    /// Stream exactly these event objects, in order. Blocking calls get the answer (chat,
    /// completion) or the `workflow_finished` data (workflow) taken from them.
    Script(Vec<Value>),
    /// The run fails with this message at its last node: chatflows and chat apps stream an
    /// `error` event (blocking: 400 `Run failed: …`), workflows finish with `status: failed`.
    Fail(String),
}

/// One app of a mock workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct MockApp {
    /// The app id.
    pub id: String,
    /// The workspace it belongs to.
    pub tenant_id: String,
    /// A display name.
    pub name: String,
    /// Its mode.
    pub mode: AppMode,
    /// Its input form.
    pub form: Vec<InputField>,
    /// What it answers.
    pub behaviour: Behaviour,
}

impl MockApp {
    /// An echoing app with no input form.
    pub fn new(tenant_id: &str, id: &str, mode: AppMode) -> Self {
        MockApp {
            id: id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            name: format!("{} app", mode.as_str()),
            mode,
            form: Vec::new(),
            behaviour: Behaviour::Echo,
        }
    }

    /// Set the display name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Add an input form variable.
    pub fn input(mut self, field: InputField) -> Self {
        self.form.push(field);
        self
    }

    /// Set what it answers.
    pub fn behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }
}
