//! The plugin's tool provider: the provider YAML `plugins.tools` names, and its tool YAMLs.
//!
//! In remote debugging the plugin sends them as `tool_declaration`, which the daemon checks
//! with struct tags (DMN `pkg/entities/plugin_entities/tool_declaration.go`, `config.go`), but
//! where a JSON type error anywhere in a tool (`min: "1"`, `output_schema: x`) silently drops
//! the tool instead of refusing it. An installed package's YAML the daemon reads itself, with
//! no check at all. And the Python SDK, whose files these are, loads them with its own pydantic
//! models (`dify_plugin/entities/tool.py`, `provider_config.py`). So [`load_provider`] checks
//! the daemon's rules and the SDK's, every violation at once as the rest of the declaration,
//! and builds the `tool_declaration` element exactly as the SDK sends it (its field order, its
//! defaults, locales filled in from `en_US`).
//!
//! What the SDK requires and the daemon does not: `credentials_for_provider` as a mapping
//! name → config (the SDK injects the name; it ignores `credentials_schema`, so that is
//! refused), `multiple` only on select and dynamic-select parameters, with a default that is a
//! list exactly when `multiple` is set, and none of the `agent` and `trigger` tags (which the
//! daemon takes but Dify's API does not know either: its `ToolLabelEnum`). Both require
//! `identity.description` (the daemon in remote mode) and each parameter's
//! `human_description`, which Dify's own model does not. Refused though both accept them: the
//! `date` and `date-range` parameter types, which Dify's API does not know (its
//! `ToolParameterType`), so that the tool would break Dify's tool listing. Refused because this
//! host does not answer those requests yet: `oauth_schema`, a true `has_runtime_parameters` and
//! `dynamic-select` parameters (their options are fetched from the plugin at run time).
//! Refused because they cannot work: a provider without tools, a second tool of the same name
//! (the SDK keys tools by name), a `select` parameter without options (Dify offers only the
//! options), and a credential name with a `.` (this module names fields by dotted paths).
//! `extra` (the SDK's Python source) is neither required nor checked: the daemon has no such
//! field, and a wasm plugin has no Python source; it is passed on as declared.
//!
//! Tools in `tools:` are file paths, as the SDK takes them, or inline mappings, as the daemon
//! also takes them (in remote debugging they are sent in list order; a package's daemon lists
//! inline tools first). [`ToolDeclaration::check_parameters`] checks the parameters Dify sends a
//! tool against its declaration, as the SDK does not.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::{
    Asset, DeclarationError, ListEntry, MANIFEST_FILE, Report, check_config, check_icons,
    check_options, check_scope, check_tags, entry_document, field, is_inside, nest, read_yaml,
    shown,
};

/// The locales of an `I18nObject` as the SDK dumps it, in its order; missing or empty ones
/// are `en_US`'s text.
const SDK_LOCALES: [&str; 4] = ["zh_Hans", "pt_BR", "ja_JP", "en_US"];
/// Why the tags of [`DIFY_REFUSED_TAGS`] are refused.
const DIFY_TAG: &str = "the daemon accepts it, but Dify's API does not know it as a tool tag \
                        (ToolLabelEnum) and would fail to list the provider";
/// The tags the daemon accepts but Dify's `ToolLabelEnum` does not.
const DIFY_REFUSED_TAGS: [(&str, &str); 2] = [("agent", DIFY_TAG), ("trigger", DIFY_TAG)];
/// The identity of a file's Dify file objects (`dify_plugin/file/constants.py`).
const DIFY_FILE: &str = "__dify__file__";

/// A plugin's tool provider, read from the provider YAML and its tool YAMLs and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolProvider {
    /// `identity.name`: the `provider` of Dify's tool requests (Dify prefixes the plugin id
    /// only in its own listing).
    pub name: String,
    /// The provider YAML, relative to the plugin folder, as `plugins.tools` lists it.
    pub file: String,
    /// The tools, in the order of the provider's `tools:`.
    pub tools: Vec<ToolDeclaration>,
    /// The `tool_declaration` element, as the Python SDK sends it.
    declaration: Value,
}

impl ToolProvider {
    /// The tool named `name` (the `tool` of Dify's requests), if declared.
    pub fn tool(&self, name: &str) -> Option<&ToolDeclaration> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// The `tool_declaration` element (see `Declaration::tool_declaration`).
    pub(super) fn declaration(&self) -> Value {
        self.declaration.clone()
    }
}

/// One tool of the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDeclaration {
    /// `identity.name`: the `tool` of Dify's tool requests.
    pub name: String,
    /// The file that declares it, relative to the plugin folder: its tool YAML, or the
    /// provider YAML for a tool written inline.
    pub file: String,
    /// Its parameters, in declaration order.
    pub parameters: Vec<ToolParameter>,
}

/// One parameter of a tool, as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolParameter {
    /// `name`: the key of the parameter in the tool's parameters.
    pub name: String,
    /// `type`.
    pub kind: ParameterType,
    /// `form`: who sets it.
    pub form: ParameterForm,
    /// `required` (default false).
    pub required: bool,
    /// `multiple` (select and dynamic-select only; default false): a list of values.
    pub multiple: bool,
    /// The `value` of each of `options`, in order; empty without options.
    pub options: Vec<String>,
    /// `default`, if set and not null.
    pub default: Option<Value>,
    /// `min`, if set.
    pub min: Option<f64>,
    /// `max`, if set.
    pub max: Option<f64>,
}

/// The type of a tool parameter: the daemon's `tool_parameter_type`s but `date` and
/// `date-range`, which Dify's API does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParameterType {
    /// `string`: a text.
    String,
    /// `number`: an integer or a float.
    Number,
    /// `boolean`.
    Boolean,
    /// `select`: one of the options (a list of them when `multiple`).
    Select,
    /// `secret-input`: a text.
    SecretInput,
    /// `file`: a Dify file object.
    File,
    /// `files`: a list of Dify file objects.
    Files,
    /// `app-selector`: `{"app_id": ..., "inputs": {...}, "files": [...]}`.
    AppSelector,
    /// `model-selector`: an object.
    ModelSelector,
    /// `any`: any JSON value.
    Any,
    /// `dynamic-select`: a text (a list of texts when `multiple`), options fetched at run time.
    DynamicSelect,
    /// `array`: a list.
    Array,
    /// `object`: an object.
    Object,
    /// `checkbox`: a text.
    Checkbox,
}

impl ParameterType {
    /// Every type, in the daemon's order.
    pub const ALL: [ParameterType; 14] = [
        ParameterType::String,
        ParameterType::Number,
        ParameterType::Boolean,
        ParameterType::Select,
        ParameterType::SecretInput,
        ParameterType::File,
        ParameterType::Files,
        ParameterType::AppSelector,
        ParameterType::ModelSelector,
        ParameterType::Any,
        ParameterType::DynamicSelect,
        ParameterType::Array,
        ParameterType::Object,
        ParameterType::Checkbox,
    ];

    /// The type as YAML writes it: `string`, `secret-input`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "string",
            ParameterType::Number => "number",
            ParameterType::Boolean => "boolean",
            ParameterType::Select => "select",
            ParameterType::SecretInput => "secret-input",
            ParameterType::File => "file",
            ParameterType::Files => "files",
            ParameterType::AppSelector => "app-selector",
            ParameterType::ModelSelector => "model-selector",
            ParameterType::Any => "any",
            ParameterType::DynamicSelect => "dynamic-select",
            ParameterType::Array => "array",
            ParameterType::Object => "object",
            ParameterType::Checkbox => "checkbox",
        }
    }

    /// The type YAML writes as `text`, if it is one.
    pub fn parse(text: &str) -> Option<ParameterType> {
        ParameterType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Whether Dify sends the value as a text (`""` for none): string, secret-input, select,
    /// checkbox and dynamic-select.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            ParameterType::String
                | ParameterType::SecretInput
                | ParameterType::Select
                | ParameterType::Checkbox
                | ParameterType::DynamicSelect
        )
    }

    /// Whether the value must be one of the declared options, when there are options.
    fn has_options(self) -> bool {
        matches!(
            self,
            ParameterType::Select | ParameterType::Checkbox | ParameterType::DynamicSelect
        )
    }

    /// Whether `multiple` may be set (the SDK's `ToolParameter` validator).
    fn may_be_multiple(self) -> bool {
        matches!(self, ParameterType::Select | ParameterType::DynamicSelect)
    }
}

impl fmt::Display for ParameterType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who sets a tool parameter (`form`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParameterForm {
    /// `schema`: set when the tool is added.
    Schema,
    /// `form`: set by the user before the tool runs.
    Form,
    /// `llm`: set by the model.
    Llm,
}

impl ParameterForm {
    /// The form as YAML writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterForm::Schema => "schema",
            ParameterForm::Form => "form",
            ParameterForm::Llm => "llm",
        }
    }

    /// The form YAML writes as `text`, if it is one.
    pub fn parse(text: &str) -> Option<ParameterForm> {
        [
            ParameterForm::Schema,
            ParameterForm::Form,
            ParameterForm::Llm,
        ]
        .into_iter()
        .find(|f| f.as_str() == text)
    }
}

impl fmt::Display for ParameterForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToolDeclaration {
    /// The parameters as the tool gets them, from those Dify sent (`tool_parameters`): each
    /// declared parameter checked, the default of an absent (or null) optional one filled in,
    /// the parameters not declared passed through unchanged (as the Python SDK passes them).
    ///
    /// A required parameter must be present and not null (nor `""` for a parameter Dify sends
    /// as a text: Dify's `""` is its empty value). Each present one must have the JSON shape of
    /// its type: a text (a list of texts for a `multiple` one), among the options for
    /// select, checkbox and dynamic-select when options are declared; a number within
    /// `min`..`max`; a boolean; an app selection (an object with a text `app_id`); a model
    /// selection (an object); a Dify file object, or a list of them for `files`; a list for
    /// `array`; an object for `object`; anything for `any`. Every problem is one message,
    /// naming the tool, the parameter, what was expected and what Dify sent.
    pub fn check_parameters(
        &self,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<String>> {
        let mut checked = params.clone();
        let mut problems = Vec::new();
        for parameter in &self.parameters {
            let value = params.get(&parameter.name);
            let absent = matches!(value, None | Some(Value::Null));
            let empty = absent || (parameter.kind.is_text() && value == Some(&json!("")));
            if empty && parameter.required {
                problems.push(format!(
                    "tool {}: parameter {} is missing, but it is declared required in {} (Dify \
                     sent {})",
                    self.name,
                    parameter.name,
                    self.file,
                    sent(value)
                ));
            } else if absent {
                if let Some(default) = &parameter.default {
                    checked.insert(parameter.name.clone(), default.clone());
                }
            } else if !empty
                && let Some(value) = value
                && let Err(expected) = parameter.check_value(value, &self.file)
            {
                problems.push(format!(
                    "tool {}: parameter {} must be {expected}, but Dify sent {}",
                    self.name,
                    parameter.name,
                    sent(Some(value))
                ));
            }
        }
        if problems.is_empty() {
            Ok(checked)
        } else {
            Err(problems)
        }
    }
}

/// What Dify sent, as a message quotes it.
fn sent(value: Option<&Value>) -> String {
    match value {
        None => "nothing".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "\"\" (an empty text)".to_owned(),
        Some(value) => shown(Some(value)),
    }
}

impl ToolParameter {
    /// Check a present, non-null value's shape; `Err` says what was expected. `file` is the
    /// file that declares the parameter.
    fn check_value(&self, value: &Value, file: &str) -> Result<(), String> {
        match self.kind {
            kind if kind.is_text() => {
                let values: Vec<&str> = if self.multiple {
                    value
                        .as_array()
                        .and_then(|items| items.iter().map(Value::as_str).collect())
                        .ok_or("a list of texts (the parameter is multiple)")?
                } else {
                    vec![value.as_str().ok_or("a text")?]
                };
                if kind.has_options()
                    && !self.options.is_empty()
                    && values.iter().any(|v| !self.options.iter().any(|o| o == v))
                {
                    let options: Vec<String> = self
                        .options
                        .iter()
                        .map(|o| shown(Some(&json!(o))))
                        .collect();
                    return Err(format!(
                        "{} {} (the options declared in {file})",
                        if self.multiple {
                            "a list of values among"
                        } else {
                            "one of"
                        },
                        options.join(", ")
                    ));
                }
                Ok(())
            }
            ParameterType::Number => {
                let number = value.as_f64().ok_or_else(|| self.range("a number"))?;
                if self.min.is_some_and(|min| number < min)
                    || self.max.is_some_and(|max| number > max)
                {
                    return Err(self.range("a number"));
                }
                Ok(())
            }
            ParameterType::Boolean => value
                .is_boolean()
                .then_some(())
                .ok_or_else(|| "true or false".into()),
            ParameterType::AppSelector => value
                .get("app_id")
                .is_some_and(Value::is_string)
                .then_some(())
                .ok_or_else(|| {
                    "an app selection: an object with a text app_id, e.g. {\"app_id\": \"...\", \
                     \"inputs\": {}}"
                        .into()
                }),
            ParameterType::ModelSelector => value
                .is_object()
                .then_some(())
                .ok_or_else(|| "a model selection (an object)".into()),
            ParameterType::File => is_file(value).then_some(()).ok_or_else(|| {
                format!("a Dify file: an object with dify_model_identity {DIFY_FILE:?}")
            }),
            ParameterType::Files => value
                .as_array()
                .is_some_and(|files| files.iter().all(is_file))
                .then_some(())
                .ok_or_else(|| {
                    format!("a list of Dify files: objects with dify_model_identity {DIFY_FILE:?}")
                }),
            ParameterType::Array => value
                .is_array()
                .then_some(())
                .ok_or_else(|| "a list".into()),
            ParameterType::Object => value
                .is_object()
                .then_some(())
                .ok_or_else(|| "an object".into()),
            _ => Ok(()),
        }
    }

    /// `what`, with the declared range.
    fn range(&self, what: &str) -> String {
        match (self.min, self.max) {
            (Some(min), Some(max)) => format!("{what} from {min} to {max}"),
            (Some(min), None) => format!("{what} of at least {min}"),
            (None, Some(max)) => format!("{what} of at most {max}"),
            (None, None) => what.to_owned(),
        }
    }
}

/// A Dify file object, as `File.to_plugin_parameter()` makes it.
fn is_file(value: &Value) -> bool {
    value.get("dify_model_identity") == Some(&json!(DIFY_FILE))
}

/// Read the tool provider `file` (`plugins.tools[0]`) and its tools, check them, and build
/// the `tool_declaration` element. The files read are added to `files`. `None` when the
/// provider breaks a rule (every violation is in `r`).
pub(super) fn load_provider(
    dir: &Path,
    file: &str,
    assets: &[Asset],
    files: &mut Vec<String>,
    r: &mut Report,
) -> Result<Option<ToolProvider>, DeclarationError> {
    let listed = "plugins.tools[0]";
    if !is_inside(file) {
        r.add(
            MANIFEST_FILE,
            listed,
            "must be a relative path inside the plugin folder, e.g. provider/<name>.yaml",
            Some(&json!(file)),
        );
        return Ok(None);
    }
    let Some(doc) = read_yaml(dir, file)? else {
        r.add(
            MANIFEST_FILE,
            listed,
            format!("must name a tool provider file of the plugin folder ({file} not found)"),
            Some(&json!(file)),
        );
        return Ok(None);
    };
    files.push(file.to_owned());
    let before = r.found.len();

    check_provider_identity(r, file, &doc);
    check_icons(
        r,
        file,
        &doc,
        &["identity.icon", "identity.icon_dark"],
        assets,
    );
    let credentials = check_credentials(r, file, &doc);
    if let Some(found) = field(&doc, "oauth_schema") {
        r.add(
            file,
            "oauth_schema",
            "must not be set: OAuth is not supported by this host yet (it does not answer the \
             daemon's oauth requests); declare credentials_for_provider instead",
            Some(found),
        );
    }

    let mut tools = Vec::new();
    match field(&doc, "tools") {
        Some(Value::Array(entries)) if !entries.is_empty() => {
            for (i, entry) in entries.iter().enumerate() {
                if let Some(tool) = load_tool(dir, file, i, entry, files, r)? {
                    tools.push(tool);
                }
            }
        }
        found => r.add(
            file,
            "tools",
            "must list at least one tool: the relative path of a tool YAML file, e.g. \
             [tools/<name>.yaml] (a provider without tools gives Dify nothing to call)",
            found,
        ),
    }
    let mut names = HashSet::new();
    for (tool, _, field_path) in &tools {
        if !names.insert(tool.name.clone()) {
            r.add(
                &tool.file,
                field_path,
                "must be unique among the provider's tools (the Python SDK keys tools by name: \
                 the second would hide the first)",
                Some(&json!(tool.name)),
            );
        }
    }
    if r.found.len() > before {
        return Ok(None);
    }

    let identity = &doc["identity"];
    let mut sdk_identity = Map::new();
    for key in ["author", "name"] {
        sdk_identity.insert(key.into(), identity[key].clone());
    }
    sdk_identity.insert("description".into(), i18n(&identity["description"]));
    sdk_identity.insert("icon".into(), identity["icon"].clone());
    sdk_identity.insert("icon_dark".into(), or_null(field(identity, "icon_dark")));
    sdk_identity.insert("label".into(), i18n(&identity["label"]));
    sdk_identity.insert(
        "tags".into(),
        field(identity, "tags")
            .cloned()
            .unwrap_or_else(|| json!([])),
    );
    let mut declaration = Map::new();
    declaration.insert("identity".into(), Value::Object(sdk_identity));
    declaration.insert("credentials_schema".into(), Value::Array(credentials));
    declaration.insert("oauth_schema".into(), Value::Null);
    declaration.insert(
        "tools".into(),
        Value::Array(tools.iter().map(|(_, json, _)| json.clone()).collect()),
    );
    if let Some(extra) = field(&doc, "extra") {
        declaration.insert("extra".into(), extra.clone());
    }
    Ok(Some(ToolProvider {
        name: identity["name"].as_str().unwrap_or_default().to_owned(),
        file: file.to_owned(),
        tools: tools.into_iter().map(|(tool, _, _)| tool).collect(),
        declaration: Value::Object(declaration),
    }))
}

/// The provider's `identity` (`ToolProviderIdentity`).
fn check_provider_identity(r: &mut Report, file: &str, doc: &Value) {
    if !check_identity(r, file, doc, "identity", "provider") {
        return;
    }
    r.i18n(file, doc, "identity.description");
    r.text(
        file,
        doc,
        "identity.icon",
        "must be the file name of an icon in _assets/",
        |s| !s.is_empty(),
    );
    r.optional_text(file, doc, "identity.icon_dark");
    check_tags(r, file, doc, "identity.tags", &DIFY_REFUSED_TAGS);
}

/// `author`, `name` and `label` of the identity at `path` (of a provider or a tool); false
/// if it is not a mapping at all (reported).
fn check_identity(r: &mut Report, file: &str, doc: &Value, path: &str, what: &str) -> bool {
    if let Some(found) = field(doc, path).filter(|v| !v.is_object()) {
        r.add(
            file,
            path,
            "must be a mapping {author, name, label, ...}",
            Some(found),
        );
        return false;
    }
    r.text(
        file,
        doc,
        &format!("{path}.author"),
        "must be a non-empty text",
        |s| !s.is_empty(),
    );
    r.text(
        file,
        doc,
        &format!("{path}.name"),
        &format!(
            "must match ^[a-zA-Z0-9_-]+$ (letters, digits, _ and -): Dify's requests name the \
             {what} by it"
        ),
        is_identity_name,
    );
    r.i18n(file, doc, &format!("{path}.label"));
    true
}

/// `credentials_for_provider`: a mapping name → `ProviderConfig`, as the Python SDK takes it.
/// Returns the SDK's `credentials_schema`: the configs as a list, each with its `name`.
fn check_credentials(r: &mut Report, file: &str, doc: &Value) -> Vec<Value> {
    if let Some(found) = field(doc, "credentials_schema") {
        r.add(
            file,
            "credentials_schema",
            "must not be set: write the credentials as credentials_for_provider, a mapping \
             name → {type, label, ...} (the Python SDK ignores credentials_schema)",
            Some(found),
        );
    }
    let configs = match field(doc, "credentials_for_provider") {
        None => return Vec::new(),
        Some(Value::Object(configs)) => configs,
        found => {
            r.add(
                file,
                "credentials_for_provider",
                "must be a mapping of credential name → {type, label, ...}, as the Python SDK \
                 reads it (not a list)",
                found,
            );
            return Vec::new();
        }
    };
    let mut schema = Vec::new();
    for (name, config) in configs {
        let at = format!("credentials_for_provider.{name}");
        if name.is_empty() || name.chars().count() >= 1024 || name.contains('.') {
            r.add(
                file,
                "credentials_for_provider",
                "must name each credential with a non-empty text of fewer than 1024 characters \
                 and no '.' (the tool reads the credential by this name)",
                Some(&json!(name)),
            );
            continue;
        }
        if !config.is_object() {
            r.add(
                file,
                &at,
                "must be a mapping {type, label, ...}",
                Some(config),
            );
            continue;
        }
        check_config(r, file, &nest(&at, config.clone()), &at);
        schema.push(sdk_config(name, config));
    }
    schema
}

/// A credential as the SDK dumps a `ProviderConfig`: every field, in its order.
fn sdk_config(name: &str, config: &Value) -> Value {
    let get = |key: &str| or_null(field(config, key));
    let options = field(config, "options")
        .and_then(Value::as_array)
        .map(|options| {
            let options: Vec<Value> = options
                .iter()
                .map(|o| json!({"value": o["value"], "label": i18n(&o["label"])}))
                .collect();
            Value::Array(options)
        });
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    out.insert("type".into(), get("type"));
    out.insert("scope".into(), get("scope"));
    out.insert("required".into(), bool_or_false(config, "required"));
    out.insert("default".into(), get("default"));
    out.insert("options".into(), options.unwrap_or(Value::Null));
    out.insert("multiple".into(), bool_or_false(config, "multiple"));
    out.insert("label".into(), i18n(&config["label"]));
    out.insert("help".into(), i18n(&config["help"]));
    out.insert("url".into(), get("url"));
    out.insert("placeholder".into(), i18n(&config["placeholder"]));
    Value::Object(out)
}

/// One entry of the provider's `tools:`, a tool YAML file or an inline tool. Returns the tool,
/// its SDK JSON and the field of its name; `None` if it breaks a rule (reported).
fn load_tool(
    dir: &Path,
    provider: &str,
    i: usize,
    entry: &Value,
    files: &mut Vec<String>,
    r: &mut Report,
) -> Result<Option<(ToolDeclaration, Value, String)>, DeclarationError> {
    let at = ListEntry {
        parent: provider,
        list: "tools",
        i,
        what: "a tool file",
        expected: "must be the relative path of a tool YAML file inside the plugin folder, e.g. \
                   tools/<name>.yaml",
    };
    let Some((file, prefix, doc)) = entry_document(dir, &at, entry, r)? else {
        return Ok(None);
    };
    if let Value::String(name) = entry {
        files.push(name.clone());
    }
    let before = r.found.len();
    let at = |f: &str| format!("{prefix}{f}");
    check_identity(r, &file, &doc, &at("identity"), "tool");
    r.i18n(&file, &doc, &at("description.human"));
    r.text(
        &file,
        &doc,
        &at("description.llm"),
        "must be a non-empty text: what the model reads about the tool",
        |s| !s.is_empty(),
    );
    let parameters = match field(&doc, &at("parameters")) {
        None => &[][..],
        Some(Value::Array(parameters)) => parameters.as_slice(),
        found => {
            r.add(
                &file,
                &at("parameters"),
                "must be a list of parameters (or [] for none)",
                found,
            );
            &[][..]
        }
    };
    let mut names = HashSet::new();
    for (j, parameter) in parameters.iter().enumerate() {
        let p = at(&format!("parameters[{j}]"));
        if let Some(name) = check_parameter(r, &file, &p, parameter)
            && !names.insert(name.to_owned())
        {
            r.add(
                &file,
                &format!("{p}.name"),
                "must be unique among the tool's parameters",
                Some(&json!(name)),
            );
        }
    }
    if let Some(found) = field(&doc, &at("output_schema")).filter(|v| !v.is_object()) {
        r.add(
            &file,
            &at("output_schema"),
            "must be a mapping (a JSON schema), if set: the daemon silently drops a tool whose \
             output_schema is not one",
            Some(found),
        );
    }
    r.optional_bool(&file, &doc, &at("has_runtime_parameters"));
    if let Some(found) = field(&doc, &at("has_runtime_parameters")).filter(|v| **v == json!(true)) {
        r.add(
            &file,
            &at("has_runtime_parameters"),
            "must be false: runtime parameters are not supported by this host yet (it does not \
             answer get_tool_runtime_parameters)",
            Some(found),
        );
    }
    if r.found.len() > before {
        return Ok(None);
    }

    let tool = if prefix.is_empty() { &doc } else { entry };
    let declaration = ToolDeclaration {
        name: tool["identity"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        file: file.clone(),
        parameters: parameters.iter().filter_map(typed_parameter).collect(),
    };
    let identity = &tool["identity"];
    let mut sdk = Map::new();
    sdk.insert(
        "identity".into(),
        json!({"author": identity["author"], "name": identity["name"],
               "label": i18n(&identity["label"])}),
    );
    sdk.insert(
        "parameters".into(),
        Value::Array(parameters.iter().map(sdk_parameter).collect()),
    );
    sdk.insert(
        "description".into(),
        json!({"human": i18n(&tool["description"]["human"]),
               "llm": tool["description"]["llm"]}),
    );
    if let Some(extra) = field(tool, "extra") {
        sdk.insert("extra".into(), extra.clone());
    }
    sdk.insert("has_runtime_parameters".into(), json!(false));
    sdk.insert(
        "output_schema".into(),
        or_null(field(tool, "output_schema")),
    );
    Ok(Some((declaration, Value::Object(sdk), at("identity.name"))))
}

/// Check the parameter at `p` (a dotted path); returns its name if it has a valid one.
fn check_parameter<'a>(
    r: &mut Report,
    file: &str,
    p: &str,
    parameter: &'a Value,
) -> Option<&'a str> {
    if !parameter.is_object() {
        r.add(
            file,
            p,
            "must be a mapping {name, type, form, label, human_description, ...}",
            Some(parameter),
        );
        return None;
    }
    let doc = nest(p, parameter.clone());
    let at = |f: &str| format!("{p}.{f}");
    let name = r
        .text(
            file,
            &doc,
            &at("name"),
            "must be a non-empty text of fewer than 1024 characters (the tool reads the \
             parameter by this name)",
            |n| !n.is_empty() && n.chars().count() < 1024,
        )
        .is_some()
        .then(|| parameter["name"].as_str())
        .flatten();
    r.i18n(file, &doc, &at("label"));
    r.i18n(file, &doc, &at("human_description"));
    r.optional_text(file, &doc, &at("llm_description"));

    let kind = match field(&doc, &at("type")) {
        Some(found @ Value::String(t)) if t == "date" || t == "date-range" => {
            r.add(
                file,
                &at("type"),
                format!(
                    "must not be {t}: the daemon and the Python SDK accept it, but Dify's API \
                     does not know it (ToolParameterType) and would fail to list the tool"
                ),
                Some(found),
            );
            None
        }
        Some(found @ Value::String(t)) if t == "dynamic-select" => {
            r.add(
                file,
                &at("type"),
                "must not be dynamic-select: its options come from the plugin at run time \
                 (the daemon's fetch_parameter_options), which this host does not answer yet; \
                 use select with options",
                Some(found),
            );
            None
        }
        _ => r
            .text(
                file,
                &doc,
                &at("type"),
                &format!(
                    "must be one of {}",
                    ParameterType::ALL.map(ParameterType::as_str).join(" ")
                ),
                |t| ParameterType::parse(t).is_some(),
            )
            .and_then(ParameterType::parse),
    };
    r.text(
        file,
        &doc,
        &at("form"),
        "must be schema, form or llm (who sets the parameter: when the tool is added, the user \
         before it runs, or the model)",
        |f| ParameterForm::parse(f).is_some(),
    );
    if let Some(scope) = field(&doc, &at("scope")) {
        check_scope(
            r,
            file,
            &at("scope"),
            kind.map(ParameterType::as_str),
            scope,
        );
    }
    r.optional_bool(file, &doc, &at("required"));
    r.optional_bool(file, &doc, &at("multiple"));
    let multiple = field(&doc, &at("multiple")) == Some(&json!(true));
    if let Some(kind) = kind {
        if multiple && !kind.may_be_multiple() {
            r.add(
                file,
                &at("multiple"),
                format!(
                    "must not be true for a {kind} parameter: the Python SDK allows multiple only \
                     on select and dynamic-select"
                ),
                Some(&json!(true)),
            );
        }
        if let Some(default) = field(&doc, &at("default"))
            && kind.may_be_multiple()
            && default.is_array() != multiple
        {
            r.add(
                file,
                &at("default"),
                if multiple {
                    "must be a list of values, as the parameter is multiple (the Python SDK's rule)"
                } else {
                    "must be one value, not a list, as the parameter is not multiple (the Python \
                     SDK's rule)"
                },
                Some(default),
            );
        }
        if kind == ParameterType::Select
            && field(&doc, &at("options"))
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        {
            r.add(
                file,
                &at("options"),
                "must list the options of a select parameter: Dify offers only these values",
                field(&doc, &at("options")),
            );
        }
    }
    check_options(r, file, &doc, &at("options"), None);
    if let Some(Value::Array(options)) = field(&doc, &at("options")) {
        for (j, option) in options.iter().enumerate() {
            let o = at(&format!("options[{j}]"));
            r.optional_text(file, &nest(&o, option.clone()), &format!("{o}.icon"));
        }
    }
    for bound in ["min", "max"] {
        if let Some(found) = field(&doc, &at(bound)).filter(|v| !v.is_number()) {
            r.add(
                file,
                &at(bound),
                "must be a number, if set (the daemon silently drops a tool whose bound is not \
                 one; YAML reads a quoted number as a text)",
                Some(found),
            );
        }
    }
    if let Some(found) = field(&doc, &at("precision")).filter(|v| !v.is_i64()) {
        r.add(
            file,
            &at("precision"),
            "must be a whole number of decimal places, if set",
            Some(found),
        );
    }
    if field(&doc, &at("auto_generate")).is_some() {
        r.text(
            file,
            &doc,
            &at("auto_generate.type"),
            "must be prompt_instruction, the only kind of auto generation",
            |t| t == "prompt_instruction",
        );
    }
    if field(&doc, &at("template")).is_some()
        && !field(&doc, &at("template.enabled")).is_some_and(Value::is_boolean)
    {
        r.add(
            file,
            &at("template.enabled"),
            "must be true or false (whether the parameter is a Jinja template)",
            field(&doc, &at("template.enabled")),
        );
    }
    if let Some(found) = field(&doc, &at("input_schema")).filter(|v| !v.is_object()) {
        r.add(
            file,
            &at("input_schema"),
            "must be a mapping (a JSON schema), if set",
            Some(found),
        );
    }
    if let Some(found) = field(&doc, &at("show_on")).filter(|v| !v.is_array()) {
        r.add(
            file,
            &at("show_on"),
            "must be a list of {variable, value}, if set",
            Some(found),
        );
    }
    name
}

/// A checked parameter as a [`ToolParameter`].
fn typed_parameter(parameter: &Value) -> Option<ToolParameter> {
    let flag = |key: &str| field(parameter, key) == Some(&json!(true));
    Some(ToolParameter {
        name: parameter["name"].as_str()?.to_owned(),
        kind: ParameterType::parse(parameter["type"].as_str()?)?,
        form: ParameterForm::parse(parameter["form"].as_str()?)?,
        required: flag("required"),
        multiple: flag("multiple"),
        options: field(parameter, "options")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|o| o["value"].as_str().map(str::to_owned))
            .collect(),
        default: field(parameter, "default").cloned(),
        min: field(parameter, "min").and_then(Value::as_f64),
        max: field(parameter, "max").and_then(Value::as_f64),
    })
}

/// A parameter as the SDK dumps a `ToolParameter`: every field, in its order.
fn sdk_parameter(parameter: &Value) -> Value {
    let get = |key: &str| or_null(field(parameter, key));
    let options = field(parameter, "options")
        .and_then(Value::as_array)
        .map(|options| {
            let options: Vec<Value> = options
                .iter()
                .map(|o| {
                    json!({"value": o["value"], "label": i18n(&o["label"]),
                       "icon": or_null(field(o, "icon")),
                       "show_on": field(o, "show_on").cloned().unwrap_or_else(|| json!([]))})
                })
                .collect();
            Value::Array(options)
        });
    let mut out = Map::new();
    out.insert("name".into(), get("name"));
    out.insert("label".into(), i18n(&parameter["label"]));
    out.insert(
        "human_description".into(),
        i18n(&parameter["human_description"]),
    );
    out.insert("type".into(), get("type"));
    out.insert(
        "auto_generate".into(),
        field(parameter, "auto_generate").map_or(Value::Null, |a| json!({"type": a["type"]})),
    );
    out.insert(
        "template".into(),
        field(parameter, "template").map_or(Value::Null, |t| json!({"enabled": t["enabled"]})),
    );
    out.insert("scope".into(), get("scope"));
    out.insert("form".into(), get("form"));
    out.insert("llm_description".into(), get("llm_description"));
    out.insert("required".into(), bool_or_false(parameter, "required"));
    out.insert("multiple".into(), bool_or_false(parameter, "multiple"));
    for key in ["default", "min", "max", "precision"] {
        out.insert(key.into(), get(key));
    }
    out.insert("options".into(), options.unwrap_or(Value::Null));
    out.insert("input_schema".into(), get("input_schema"));
    out.insert(
        "show_on".into(),
        field(parameter, "show_on")
            .cloned()
            .unwrap_or_else(|| json!([])),
    );
    Value::Object(out)
}

/// An `I18nObject` as the SDK dumps it: `zh_Hans`, `pt_BR`, `ja_JP` (`en_US`'s text where
/// missing or empty), `en_US`; null when absent.
fn i18n(object: &Value) -> Value {
    let Some(english) = object.get("en_US").and_then(Value::as_str) else {
        return Value::Null;
    };
    let mut out = Map::new();
    for locale in SDK_LOCALES {
        let text = object
            .get(locale)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(english);
        out.insert(locale.into(), json!(text));
    }
    Value::Object(out)
}

fn or_null(value: Option<&Value>) -> Value {
    value.cloned().unwrap_or(Value::Null)
}

/// A boolean field, false when absent (the SDK's default).
fn bool_or_false(object: &Value, key: &str) -> Value {
    json!(field(object, key) == Some(&json!(true)))
}

/// `^[a-zA-Z0-9_-]+$` (`tool_identity_name`, `tool_provider_identity_name`).
fn is_identity_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::daemon::declaration::tests::{Folder, ICON, edited, keys, one, violations};
    use crate::daemon::declaration::{Declaration, Violation};

    /// The manifest of the Python SDK's tool plugin of the reference transcript.
    const PEER_MANIFEST: &str = "\
version: 0.0.1
type: plugin
author: bench
name: app_invoke_bench
label:
  en_US: App invoke bench
description:
  en_US: Measures session.app.*.invoke through the real SDK backwards-invocation path
icon: icon.svg
created_at: 2025-01-01T00:00:00.000000+00:00
resource:
  memory: 268435456
  permission:
    app:
      enabled: true
plugins:
  tools:
    - provider/bench.yaml
meta:
  version: 0.0.1
  arch:
    - amd64
  runner:
    language: python
    version: \"3.12\"
    entrypoint: main
";

    const PEER_PROVIDER: &str = "\
identity:
  author: bench
  name: bench
  label:
    en_US: bench
  description:
    en_US: bench
  icon: icon.svg
tools:
  - tools/app_bench.yaml
extra:
  python:
    source: provider/bench.py
";

    const PEER_TOOL: &str = "\
identity:
  author: bench
  name: app_bench
  label:
    en_US: app_bench
description:
  human:
    en_US: drives session.app.{chat,workflow,completion}.invoke
  llm: drives session.app.{chat,workflow,completion}.invoke
parameters: []
extra:
  python:
    source: tools/app_bench.py
";

    /// The Python tool plugin of the reference transcript, file by file.
    pub(crate) fn peer_plugin() -> Folder {
        let folder = Folder::new();
        folder
            .write("manifest.yaml", PEER_MANIFEST)
            .write("provider/bench.yaml", PEER_PROVIDER)
            .write("tools/app_bench.yaml", PEER_TOOL)
            .write("_assets/icon.svg", ICON);
        folder
    }

    const PROVIDER: &str = "\
identity:
  author: bench
  name: rich
  label:
    en_US: Rich
    zh_Hans: 丰富
  description:
    en_US: A provider with credentials
  icon: icon.svg
  tags: [search, utilities]
credentials_for_provider:
  api_key:
    type: secret-input
    required: true
    label:
      en_US: API key
    help:
      en_US: Where to find it
    url: https://example.com/keys
    placeholder:
      en_US: sk-...
  region:
    type: select
    options:
      - value: eu
        label:
          en_US: Europe
    label:
      en_US: Region
tools:
  - tools/app_bench.yaml
  - tools/rich.yaml
";

    const TOOL: &str = "\
identity:
  author: bench
  name: rich
  label:
    en_US: Rich
description:
  human:
    en_US: Runs an app with options
  llm: Runs an app
parameters:
  - name: query
    type: string
    required: true
    form: llm
    label:
      en_US: Query
    human_description:
      en_US: What to ask
    llm_description: the question
  - name: mode
    type: select
    default: stream
    form: form
    options:
      - value: stream
        label:
          en_US: Stream
      - value: blocking
        label:
          en_US: Blocking
    label:
      en_US: Mode
    human_description:
      en_US: How to call the app
  - name: count
    type: number
    min: 1
    max: 10
    default: 3
    form: form
    label: {en_US: Count}
    human_description: {en_US: How many times}
  - name: verbose
    type: boolean
    form: form
    label: {en_US: Verbose}
    human_description: {en_US: Log more}
  - name: app
    type: app-selector
    scope: chat&workflow
    required: true
    form: form
    label: {en_US: App}
    human_description: {en_US: The app to call}
  - name: tags
    type: select
    multiple: true
    default: [a]
    form: form
    options:
      - {value: a, label: {en_US: A}}
      - {value: b, label: {en_US: B}}
    label: {en_US: Tags}
    human_description: {en_US: Tags}
  - name: doc
    type: file
    form: llm
    label: {en_US: Document}
    human_description: {en_US: A file}
  - name: docs
    type: files
    form: llm
    label: {en_US: Documents}
    human_description: {en_US: Files}
  - name: model
    type: model-selector
    scope: llm
    form: form
    label: {en_US: Model}
    human_description: {en_US: A model}
  - name: settings
    type: object
    form: llm
    label: {en_US: Settings}
    human_description: {en_US: An object}
  - name: items
    type: array
    form: llm
    label: {en_US: Items}
    human_description: {en_US: A list}
  - name: whatever
    type: any
    scope: string&number
    form: llm
    auto_generate:
      type: prompt_instruction
    template:
      enabled: true
    label: {en_US: Whatever}
    human_description: {en_US: Anything}
output_schema:
  type: object
  properties:
    answer:
      type: string
";

    /// A tool plugin (the peer's manifest, a richer provider, the peer's tool and a richer
    /// one) with `edits` made to its provider and its rich tool.
    pub(crate) fn tool_plugin_with(
        provider_edits: &[(&str, &str)],
        tool_edits: &[(&str, &str)],
    ) -> Folder {
        let folder = Folder::new();
        folder
            .write(
                "manifest.yaml",
                &PEER_MANIFEST.replace("provider/bench.yaml", "provider/rich.yaml"),
            )
            .write("provider/rich.yaml", &edited(PROVIDER, provider_edits))
            .write("tools/app_bench.yaml", PEER_TOOL)
            .write("tools/rich.yaml", &edited(TOOL, tool_edits))
            .write("_assets/icon.svg", ICON);
        folder
    }

    fn rich() -> Declaration {
        tool_plugin_with(&[], &[]).load().unwrap()
    }

    fn rich_tool() -> ToolDeclaration {
        rich()
            .tool_provider()
            .unwrap()
            .tool("rich")
            .unwrap()
            .clone()
    }

    /// The keys of an object, in order.
    fn ordered_keys(value: &Value) -> Vec<&str> {
        value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn the_python_tool_plugin_gives_what_the_python_sdk_sends() {
        let sdk: Value = serde_json::from_str(include_str!(
            "../../../tests-data/daemon/python-sdk-tool-declaration.json"
        ))
        .unwrap();
        let folder = peer_plugin();
        let declaration = folder.load().unwrap();

        // The element, key for key and in the SDK's order.
        let ours = declaration.tool_declaration().unwrap();
        let theirs = &sdk["tool_declaration"][0];
        assert_eq!(&ours, theirs);
        assert_eq!(
            serde_json::to_string(&ours).unwrap(),
            serde_json::to_string(theirs).unwrap()
        );
        assert_eq!(sdk["tool_declaration"].as_array().unwrap().len(), 1);

        let manifest = &declaration.manifest;
        let sdk_manifest = &sdk["manifest_declaration"];
        assert_eq!(manifest["plugins"], sdk_manifest["plugins"]);
        for key in [
            "version",
            "type",
            "author",
            "name",
            "repo",
            "icon",
            "icon_dark",
            "meta",
        ] {
            assert_eq!(manifest[key], sdk_manifest[key], "{key}");
        }

        let provider = declaration.tool_provider().unwrap();
        assert_eq!(provider.name, "bench");
        assert_eq!(provider.file, "provider/bench.yaml");
        assert_eq!(
            provider.tools,
            [ToolDeclaration {
                name: "app_bench".into(),
                file: "tools/app_bench.yaml".into(),
                parameters: vec![],
            }]
        );
        assert_eq!(
            declaration.files,
            [
                "manifest.yaml",
                "provider/bench.yaml",
                "tools/app_bench.yaml"
            ]
        );
        assert_eq!(declaration.endpoint_group, None);
        assert_eq!(declaration.group_file(), None);
        assert!(declaration.endpoints().is_empty() && declaration.settings().is_empty());
        assert!(declaration.app_permission() && !declaration.endpoint_permission());
        declaration.check_routes(&[]).unwrap();
        declaration.check_tools(&["app_bench".into()]).unwrap();
    }

    #[test]
    fn a_rich_provider_is_dumped_with_every_field_of_the_sdk() {
        let declaration = rich();
        let element = declaration.tool_declaration().unwrap();
        assert_eq!(
            ordered_keys(&element),
            ["identity", "credentials_schema", "oauth_schema", "tools"]
        );
        assert_eq!(
            element["identity"],
            json!({"author": "bench", "name": "rich",
                   "description": {"zh_Hans": "A provider with credentials",
                                   "pt_BR": "A provider with credentials",
                                   "ja_JP": "A provider with credentials",
                                   "en_US": "A provider with credentials"},
                   "icon": "icon.svg", "icon_dark": null,
                   "label": {"zh_Hans": "丰富", "pt_BR": "Rich", "ja_JP": "Rich", "en_US": "Rich"},
                   "tags": ["search", "utilities"]})
        );
        assert_eq!(
            ordered_keys(&element["identity"]),
            [
                "author",
                "name",
                "description",
                "icon",
                "icon_dark",
                "label",
                "tags"
            ]
        );
        assert_eq!(
            ordered_keys(&element["identity"]["label"]),
            ["zh_Hans", "pt_BR", "ja_JP", "en_US"]
        );
        assert_eq!(element["oauth_schema"], Value::Null);

        let en = |text: &str| json!({"zh_Hans": text, "pt_BR": text, "ja_JP": text, "en_US": text});
        let credentials = element["credentials_schema"].as_array().unwrap();
        assert_eq!(
            credentials[0],
            json!({"name": "api_key", "type": "secret-input", "scope": null, "required": true,
                   "default": null, "options": null, "multiple": false,
                   "label": en("API key"), "help": en("Where to find it"),
                   "url": "https://example.com/keys", "placeholder": en("sk-...")})
        );
        let config_keys = [
            "name",
            "type",
            "scope",
            "required",
            "default",
            "options",
            "multiple",
            "label",
            "help",
            "url",
            "placeholder",
        ];
        assert_eq!(ordered_keys(&credentials[0]), config_keys);
        assert_eq!(ordered_keys(&credentials[1]), config_keys);
        assert_eq!(credentials[1]["name"], "region");
        assert_eq!(
            credentials[1]["options"],
            json!([{"value": "eu", "label": en("Europe")}])
        );

        let tools = element["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 2);
        // The peer's tool has `extra`, the rich one none: it is passed on only when declared.
        assert_eq!(
            ordered_keys(&tools[0]),
            [
                "identity",
                "parameters",
                "description",
                "extra",
                "has_runtime_parameters",
                "output_schema"
            ]
        );
        let tool = &tools[1];
        assert_eq!(
            ordered_keys(tool),
            [
                "identity",
                "parameters",
                "description",
                "has_runtime_parameters",
                "output_schema"
            ]
        );
        assert_eq!(
            tool["identity"],
            json!({"author": "bench", "name": "rich", "label": en("Rich")})
        );
        assert_eq!(
            tool["description"],
            json!({"human": en("Runs an app with options"), "llm": "Runs an app"})
        );
        assert_eq!(tool["has_runtime_parameters"], false);
        assert_eq!(
            tool["output_schema"]["properties"]["answer"]["type"],
            "string"
        );
        let parameters = tool["parameters"].as_array().unwrap();
        assert_eq!(parameters.len(), 12);
        for parameter in parameters {
            assert_eq!(
                ordered_keys(parameter),
                [
                    "name",
                    "label",
                    "human_description",
                    "type",
                    "auto_generate",
                    "template",
                    "scope",
                    "form",
                    "llm_description",
                    "required",
                    "multiple",
                    "default",
                    "min",
                    "max",
                    "precision",
                    "options",
                    "input_schema",
                    "show_on",
                ]
            );
        }
        assert_eq!(
            parameters[0],
            json!({"name": "query", "label": en("Query"), "human_description": en("What to ask"),
                   "type": "string", "auto_generate": null, "template": null, "scope": null,
                   "form": "llm", "llm_description": "the question", "required": true,
                   "multiple": false, "default": null, "min": null, "max": null,
                   "precision": null, "options": null, "input_schema": null, "show_on": []})
        );
        assert_eq!(
            parameters[1]["options"],
            json!([{"value": "stream", "label": en("Stream"), "icon": null, "show_on": []},
                   {"value": "blocking", "label": en("Blocking"), "icon": null, "show_on": []}])
        );
        assert_eq!(
            ordered_keys(&parameters[1]["options"][0]),
            ["value", "label", "icon", "show_on"]
        );
        assert_eq!(
            (&parameters[2]["min"], &parameters[2]["max"]),
            (&json!(1), &json!(10))
        );
        assert_eq!(parameters[4]["scope"], "chat&workflow");
        assert_eq!(
            parameters[11]["auto_generate"],
            json!({"type": "prompt_instruction"})
        );
        assert_eq!(parameters[11]["template"], json!({"enabled": true}));

        // The typed view.
        let provider = declaration.tool_provider().unwrap();
        assert_eq!(provider.name, "rich");
        let rich = provider.tool("rich").unwrap();
        assert_eq!(rich.file, "tools/rich.yaml");
        let kinds: Vec<ParameterType> = rich.parameters.iter().map(|p| p.kind).collect();
        use ParameterType as T;
        assert_eq!(
            kinds,
            [
                T::String,
                T::Select,
                T::Number,
                T::Boolean,
                T::AppSelector,
                T::Select,
                T::File,
                T::Files,
                T::ModelSelector,
                T::Object,
                T::Array,
                T::Any
            ]
        );
        assert_eq!(
            rich.parameters[2],
            ToolParameter {
                name: "count".into(),
                kind: T::Number,
                form: ParameterForm::Form,
                required: false,
                multiple: false,
                options: vec![],
                default: Some(json!(3)),
                min: Some(1.0),
                max: Some(10.0),
            }
        );
        assert_eq!(rich.parameters[1].options, ["stream", "blocking"]);
        assert!(rich.parameters[5].multiple && rich.parameters[4].required);
        assert_eq!(rich.parameters[0].form, ParameterForm::Llm);
        assert_eq!(
            declaration.files,
            [
                "manifest.yaml",
                "provider/rich.yaml",
                "tools/app_bench.yaml",
                "tools/rich.yaml"
            ]
        );
    }

    #[test]
    fn tools_and_endpoints_together() {
        let folder = tool_plugin_with(&[], &[]);
        let manifest = PEER_MANIFEST
            .replace("provider/bench.yaml", "provider/rich.yaml")
            .replace(
                "    app:\n      enabled: true\n",
                "    app:\n      enabled: true\n    endpoint:\n      enabled: true\n",
            )
            .replace("plugins:\n", "plugins:\n  endpoints: [group/test.yaml]\n");
        folder.write("manifest.yaml", &manifest).write(
            "group/test.yaml",
            "endpoints:\n  - path: /hook\n    method: POST\n",
        );
        let declaration = folder.load().unwrap();
        assert_eq!(declaration.group_file(), Some("group/test.yaml"));
        assert_eq!(declaration.tool_provider().unwrap().tools.len(), 2);
        assert_eq!(
            declaration.files[..3],
            ["manifest.yaml", "group/test.yaml", "provider/rich.yaml"]
        );

        // Endpoints need the endpoint permission; tools alone do not.
        folder.write(
            "manifest.yaml",
            &manifest.replace("    endpoint:\n      enabled: true\n", ""),
        );
        one(
            &violations(&folder),
            "manifest.yaml",
            "resource.permission.endpoint.enabled",
            "when the plugin declares endpoints",
        );
    }

    #[test]
    fn the_manifest_lists_at_most_one_provider_and_something() {
        let folder = tool_plugin_with(&[], &[]);
        let manifest = PEER_MANIFEST.replace("provider/bench.yaml", "provider/rich.yaml");
        folder.write(
            "manifest.yaml",
            &manifest.replace(
                "    - provider/rich.yaml\n",
                "    - provider/rich.yaml\n    - provider/other.yaml\n",
            ),
        );
        let found = violations(&folder);
        one(
            &found,
            "manifest.yaml",
            "plugins.tools",
            "at most one tool provider",
        );
        assert_eq!(found.len(), 1, "{found:#?}");

        folder.write(
            "manifest.yaml",
            &manifest.replace("  tools:\n    - provider/rich.yaml\n", "  tools: []\n"),
        );
        one(&violations(&folder), "manifest.yaml", "plugins", "or both");

        folder.write(
            "manifest.yaml",
            &manifest.replace("plugins:\n", "plugins:\n  models: [models/x.yaml]\n"),
        );
        one(
            &violations(&folder),
            "manifest.yaml",
            "plugins.models",
            "endpoints and tools only",
        );

        folder.write(
            "manifest.yaml",
            &manifest.replace("provider/rich.yaml", "provider/missing.yaml"),
        );
        one(
            &violations(&folder),
            "manifest.yaml",
            "plugins.tools[0]",
            "not found",
        );
        folder.write(
            "manifest.yaml",
            &manifest.replace("provider/rich.yaml", "../rich.yaml"),
        );
        one(
            &violations(&folder),
            "manifest.yaml",
            "plugins.tools[0]",
            "inside the plugin folder",
        );
    }

    #[test]
    fn provider_rules() {
        let found = violations(&tool_plugin_with(
            &[
                ("  name: rich\n", "  name: rich.provider\n"),
                (
                    "  description:\n    en_US: A provider with credentials\n",
                    "",
                ),
                (
                    "  icon: icon.svg\n",
                    "  icon: missing.svg\n  icon_dark: dark.svg\n",
                ),
                (
                    "  tags: [search, utilities]",
                    "  tags: [search, agent, trigger, games]",
                ),
                ("  author: bench\n", "  author: \"\"\n"),
                (
                    "    type: secret-input\n",
                    "    type: any\n    scope: chat\n",
                ),
                (
                    "    type: select\n",
                    "    type: text-input\n    scope: llm\n",
                ),
                (
                    "tools:\n",
                    "oauth_schema:\n  client_schema: []\ncredentials_schema: []\ntools:\n",
                ),
            ],
            &[],
        ));
        let file = "provider/rich.yaml";
        one(&found, file, "identity.name", "^[a-zA-Z0-9_-]+$");
        one(
            &found,
            file,
            "identity.description.en_US",
            "but it is missing",
        );
        one(&found, file, "identity.icon", "no _assets/missing.svg");
        one(&found, file, "identity.icon_dark", "no _assets/dark.svg");
        one(
            &found,
            file,
            "identity.tags[1]",
            "must not be agent: the daemon accepts it, but Dify's API",
        );
        one(&found, file, "identity.tags[2]", "must not be trigger");
        let unknown = one(
            &found,
            file,
            "identity.tags[3]",
            "must be one of the daemon's tags",
        );
        assert!(!unknown.contains("agent"), "{unknown}");
        one(&found, file, "identity.author", "non-empty");
        one(
            &found,
            file,
            "credentials_for_provider.api_key.type",
            "secret-input",
        );
        one(
            &found,
            file,
            "credentials_for_provider.region.scope",
            "must not be set",
        );
        one(
            &found,
            file,
            "oauth_schema",
            "not supported by this host yet",
        );
        one(
            &found,
            file,
            "credentials_schema",
            "credentials_for_provider",
        );
        assert_eq!(found.len(), 12, "{found:#?}");
    }

    #[test]
    fn credentials_are_a_mapping() {
        let found = violations(&tool_plugin_with(
            &[(
                "credentials_for_provider:\n  api_key:\n",
                "credentials_for_provider:\n  - name: api_key\n  - x\nunused:\n  api_key:\n",
            )],
            &[],
        ));
        one(
            &found,
            "provider/rich.yaml",
            "credentials_for_provider",
            "not a list",
        );
        assert_eq!(found.len(), 1, "{found:#?}");

        let found = violations(&tool_plugin_with(
            &[
                ("  api_key:\n", "  api.key:\n"),
                (
                    "  region:\n    type: select\n",
                    "  region: select\n  other:\n    type: select\n",
                ),
            ],
            &[],
        ));
        one(
            &found,
            "provider/rich.yaml",
            "credentials_for_provider",
            "no '.'",
        );
        one(
            &found,
            "provider/rich.yaml",
            "credentials_for_provider.region",
            "must be a mapping",
        );
        assert_eq!(found.len(), 2, "{found:#?}");
    }

    #[test]
    fn an_identity_that_is_no_mapping_is_one_violation() {
        let folder = tool_plugin_with(&[], &[]);
        folder.write(
            "provider/rich.yaml",
            "identity: rich
tools: [tools/app_bench.yaml]
",
        );
        let found = violations(&folder);
        one(
            &found,
            "provider/rich.yaml",
            "identity",
            "must be a mapping",
        );
        assert_eq!(found.len(), 1, "{found:#?}");
    }

    #[test]
    fn the_tools_list_is_checked() {
        let found = violations(&tool_plugin_with(
            &[(
                "  - tools/rich.yaml\n",
                "  - tools/rich.yaml\n  - tools/missing.yaml\n  - ../x.yaml\n  - 7\n  - tools/rich.yaml\n",
            )],
            &[],
        ));
        let file = "provider/rich.yaml";
        one(&found, file, "tools[2]", "missing.yaml not found");
        one(&found, file, "tools[3]", "inside the plugin folder");
        one(
            &found,
            file,
            "tools[4]",
            "relative path of a tool YAML file",
        );
        one(
            &found,
            "tools/rich.yaml",
            "identity.name",
            "unique among the provider's tools",
        );
        assert_eq!(found.len(), 4, "{found:#?}");

        let found = violations(&tool_plugin_with(
            &[("  - tools/app_bench.yaml\n  - tools/rich.yaml\n", "  []\n")],
            &[],
        ));
        one(&found, "provider/rich.yaml", "tools", "at least one tool");
    }

    #[test]
    fn inline_tools_are_accepted_and_checked_where_they_are() {
        let inline = "  - identity:\n      author: bench\n      name: inline\n      label: {en_US: Inline}\n    \
                      description:\n      human: {en_US: An inline tool}\n      llm: inline\n    \
                      parameters:\n      - name: q\n        type: string\n        form: llm\n        \
                      label: {en_US: Q}\n        human_description: {en_US: The query}\n";
        let folder = tool_plugin_with(&[("  - tools/rich.yaml\n", inline)], &[]);
        let declaration = folder.load().unwrap();
        let provider = declaration.tool_provider().unwrap();
        let tool = provider.tool("inline").unwrap();
        assert_eq!(tool.file, "provider/rich.yaml");
        assert_eq!(tool.parameters[0].name, "q");
        assert_eq!(
            declaration.tool_declaration().unwrap()["tools"][1]["parameters"][0]["name"],
            "q"
        );

        let broken = inline
            .replace("name: inline", "name: in.line")
            .replace("type: string", "type: date");
        let found = violations(&tool_plugin_with(
            &[("  - tools/rich.yaml\n", &broken)],
            &[],
        ));
        one(
            &found,
            "provider/rich.yaml",
            "tools[1].identity.name",
            "^[a-zA-Z0-9_-]+$",
        );
        one(
            &found,
            "provider/rich.yaml",
            "tools[1].parameters[0].type",
            "must not be date",
        );
        assert_eq!(found.len(), 2, "{found:#?}");
    }

    #[test]
    fn tool_rules() {
        let found = violations(&tool_plugin_with(
            &[],
            &[
                ("  name: rich\n  label:\n    en_US: Rich\n", "  name: a.b\n"),
                ("  llm: Runs an app\n", "  llm: \"\"\n"),
                ("    human_description:\n      en_US: What to ask\n", ""),
                ("    type: string\n", "    type: date-range\n"),
                (
                    "    form: form\n    options:\n      - value: stream",
                    "    form: forms\n    options:\n      - value: 1",
                ),
                (
                    "    type: number\n",
                    "    type: number\n    scope: llm\n    multiple: true\n",
                ),
                ("    min: 1\n", "    min: \"1\"\n    precision: 1.5\n"),
                ("    scope: chat&workflow\n", "    scope: chat&bots\n"),
                ("    default: [a]\n", "    default: a\n"),
                ("    type: file\n", "    type: text-input\n"),
                ("    type: model-selector\n", "    type: select\n"),
                ("      type: prompt_instruction\n", "      type: always\n"),
                ("      enabled: true\n", "      enabled: \"yes\"\n"),
                ("  - name: items\n", "  - name: settings\n"),
                (
                    "output_schema:\n  type: object\n",
                    "has_runtime_parameters: true\noutput_schema: x\nunused:\n  type: object\n",
                ),
            ],
        ));
        let file = "tools/rich.yaml";
        one(&found, file, "identity.name", "^[a-zA-Z0-9_-]+$");
        one(&found, file, "identity.label.en_US", "but it is missing");
        one(&found, file, "description.llm", "non-empty");
        one(
            &found,
            file,
            "parameters[0].human_description.en_US",
            "but it is missing",
        );
        one(
            &found,
            file,
            "parameters[0].type",
            "must not be date-range: the daemon and the Python SDK accept it, but Dify's API",
        );
        one(&found, file, "parameters[1].form", "schema, form or llm");
        one(&found, file, "parameters[1].options[0].value", "quote it");
        one(&found, file, "parameters[2].scope", "must not be set");
        one(
            &found,
            file,
            "parameters[2].multiple",
            "only on select and dynamic-select",
        );
        one(&found, file, "parameters[2].min", "must be a number");
        one(&found, file, "parameters[2].precision", "whole number");
        one(
            &found,
            file,
            "parameters[4].scope",
            "all|chat|workflow|completion",
        );
        one(
            &found,
            file,
            "parameters[5].default",
            "must be a list of values",
        );
        one(
            &found,
            file,
            "parameters[6].type",
            "must be one of string number",
        );
        one(
            &found,
            file,
            "parameters[8].options",
            "must list the options of a select",
        );
        one(
            &found,
            file,
            "parameters[11].auto_generate.type",
            "prompt_instruction",
        );
        one(
            &found,
            file,
            "parameters[11].template.enabled",
            "true or false",
        );
        one(
            &found,
            file,
            "parameters[10].name",
            "unique among the tool's parameters",
        );
        one(
            &found,
            file,
            "has_runtime_parameters",
            "not supported by this host yet",
        );
        one(&found, file, "output_schema", "silently drops");
        one(&found, file, "parameters[8].scope", "must not be set");
        assert_eq!(found.len(), 21, "{found:#?}");
    }

    #[test]
    fn more_tool_rules() {
        let found = violations(&tool_plugin_with(
            &[],
            &[
                ("    default: stream\n", "    default: [stream]\n"),
                (
                    "parameters:\n  - name: query",
                    "parameters:\n  - 7\n  - name: query",
                ),
                ("  - name: verbose\n", "  - name: \"\"\n"),
                ("    scope: string&number\n", "    scope: string&maybe\n"),
            ],
        ));
        let file = "tools/rich.yaml";
        one(&found, file, "parameters[0]", "must be a mapping");
        one(&found, file, "parameters[2].default", "not a list");
        one(&found, file, "parameters[4].name", "non-empty");
        one(&found, file, "parameters[12].scope", "array[file]");
        assert_eq!(found.len(), 4, "{found:#?}");

        let found = violations(&tool_plugin_with(
            &[],
            &[(
                "parameters:\n  - name: query",
                "parameters: x\nunused:\n  - name: query",
            )],
        ));
        one(
            &found,
            "tools/rich.yaml",
            "parameters",
            "list of parameters",
        );
    }

    #[test]
    fn check_tools_names_both_sides() {
        let declaration = rich();
        declaration
            .check_tools(&["rich".into(), "app_bench".into()])
            .unwrap();
        let error = declaration
            .check_tools(&["rich".into(), "other".into()])
            .unwrap_err();
        let DeclarationError::ToolsDiffer {
            provider_file,
            only_in_declaration,
            only_in_component,
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(provider_file, "provider/rich.yaml");
        assert_eq!(only_in_declaration, &["app_bench"]);
        assert_eq!(only_in_component, &["other"]);
        let message = error.to_string();
        assert!(
            message.contains("only in provider/rich.yaml: app_bench"),
            "{message}"
        );
        assert!(
            message.contains("only in the component: other"),
            "{message}"
        );
        assert!(message.contains("fix one side"), "{message}");

        // A plugin of endpoints only has no tools.
        let endpoints = crate::daemon::declaration::tests::plugin_with(&[], &[])
            .load()
            .unwrap();
        endpoints.check_tools(&[]).unwrap();
        let message = endpoints
            .check_tools(&["x".into()])
            .unwrap_err()
            .to_string();
        assert!(message.contains("lists no tool provider"), "{message}");
        assert!(message.contains("only in the component: x"), "{message}");
    }

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    const FILE: &str = "tools/rich.yaml";

    fn valid() -> Value {
        json!({"query": "why", "app": {"app_id": "a1", "inputs": {}}})
    }

    /// The one problem of `params`, which must contain each of `expect`.
    fn problem(params_sent: Value, expect: &[&str]) {
        let problems = rich_tool()
            .check_parameters(&params(params_sent))
            .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        for part in expect {
            assert!(
                problems[0].contains(part),
                "{:?} lacks {part:?}",
                problems[0]
            );
        }
    }

    #[test]
    fn parameters_get_their_defaults_and_pass_the_undeclared_through() {
        let checked = rich_tool()
            .check_parameters(&params(json!({
                "query": "why", "app": {"app_id": "a1", "inputs": {}, "files": []},
                "count": null, "undeclared": [1, 2], "verbose": false, "whatever": {"x": 1},
                "doc": {"dify_model_identity": FILE_ID, "url": "https://x"},
                "docs": [], "settings": {}, "items": [1], "model": {"provider": "p"},
                "mode": ""
            })))
            .unwrap();
        assert_eq!(checked["count"], 3);
        assert_eq!(checked["tags"], json!(["a"]));
        assert_eq!(checked["undeclared"], json!([1, 2]));
        assert_eq!(checked["verbose"], false);
        // An optional text Dify sent empty stays as sent.
        assert_eq!(checked["mode"], "");
        assert_eq!(checked["query"], "why");
    }

    const FILE_ID: &str = "__dify__file__";

    #[test]
    fn required_parameters_must_be_sent() {
        let problems = rich_tool()
            .check_parameters(&params(json!({"query": "", "app": null})))
            .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert_eq!(
            problems[0],
            format!(
                "tool rich: parameter query is missing, but it is declared required in {FILE} \
                 (Dify sent \"\" (an empty text))"
            )
        );
        assert!(
            problems[1].contains("parameter app is missing"),
            "{}",
            problems[1]
        );
        assert!(problems[1].contains("(Dify sent null)"), "{}", problems[1]);
        problem(
            json!({"app": {"app_id": "a"}}),
            &["query is missing", "declared required in tools/rich.yaml"],
        );
    }

    #[test]
    fn parameters_must_have_their_types_shape() {
        let with = |key: &str, value: Value| {
            let mut sent = valid();
            sent[key] = value;
            sent
        };
        rich_tool().check_parameters(&params(valid())).unwrap();
        problem(
            with("query", json!(5)),
            &["tool rich: parameter query must be a text, but Dify sent 5"],
        );
        problem(
            with("mode", json!("fast")),
            &[
                "parameter mode must be one of \"stream\", \"blocking\" (the options declared in tools/rich.yaml)",
                "Dify sent \"fast\"",
            ],
        );
        problem(
            with("tags", json!(["a", "c"])),
            &["parameter tags must be a list of values among \"a\", \"b\""],
        );
        problem(
            with("tags", json!("a")),
            &["parameter tags must be a list of texts"],
        );
        problem(
            with("count", json!(11)),
            &["parameter count must be a number from 1 to 10, but Dify sent 11"],
        );
        problem(
            with("count", json!("3")),
            &["parameter count must be a number from 1 to 10, but Dify sent \"3\""],
        );
        problem(
            with("verbose", json!("yes")),
            &["parameter verbose must be true or false"],
        );
        problem(
            with("app", json!("a1")),
            &["parameter app must be an app selection", "Dify sent \"a1\""],
        );
        problem(
            with("app", json!({"app_id": 7})),
            &["parameter app must be an app selection"],
        );
        problem(
            with("model", json!("gpt")),
            &["parameter model must be a model selection"],
        );
        problem(
            with("doc", json!({"url": "x"})),
            &["parameter doc must be a Dify file"],
        );
        problem(
            with("docs", json!([{"dify_model_identity": FILE_ID}, 1])),
            &["parameter docs must be a list of Dify files"],
        );
        problem(
            with("settings", json!([])),
            &["parameter settings must be an object"],
        );
        problem(
            with("items", json!({})),
            &["parameter items must be a list"],
        );
        rich_tool()
            .check_parameters(&params(with("count", json!(10.0))))
            .unwrap();
        rich_tool()
            .check_parameters(&params(with("whatever", json!(null))))
            .unwrap();
    }

    #[test]
    fn types_and_forms_read_as_written() {
        for kind in ParameterType::ALL {
            assert_eq!(ParameterType::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(ParameterType::parse("date"), None);
        assert_eq!(ParameterForm::parse("llm"), Some(ParameterForm::Llm));
        assert!(is_identity_name("Bench_1-x") && !is_identity_name("a.b") && !is_identity_name(""));
        let _: Option<Violation> = None;
        assert_eq!(keys(&json!({"b": 1, "a": 2})), ["a", "b"]);
    }
}
