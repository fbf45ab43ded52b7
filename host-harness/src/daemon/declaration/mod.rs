//! The plugin's Dify declaration: `manifest.yaml`, its endpoint group, its tool provider and
//! `_assets/`.
//!
//! A plugin crate carries Dify's own files, as a Python plugin folder does, because Dify's
//! plugin daemon wants them at registration: the manifest as `manifest_declaration`, the
//! tool provider as `tool_declaration` (its tool files inlined, `tools.rs`), the endpoint group
//! as `endpoint_declaration` (its endpoint files inlined, since the daemon reads no files of a
//! remote plugin), each file of `_assets/` as `asset_chunk`. An installed package carries the
//! same files, which the daemon reads itself.
//!
//! The daemon checks them with go-playground/validator struct tags (DMN
//! `pkg/entities/plugin_entities/plugin_declaration.go`, `endpoint_declaration.go`,
//! `tool_declaration.go`, `config.go`, `basic_type.go`,
//! `pkg/entities/manifest_entities/version.go`, `tags.go`, `pkg/entities/constants/*.go`),
//! then with `ManifestValidate()` and the asset remap at `end`
//! (`internal/core/debugging_runtime/runtime_intialization_handlers.go`). A refusal there is
//! one line of text and a closed socket, naming the first problem only. So [`Declaration::load`]
//! checks the same rules before anything connects and reports every problem at once, each
//! with its file, field, rule and the value found.
//!
//! A plugin declares an endpoint group, a tool provider, or both (the daemon refuses one with
//! neither, and takes no other kind of plugin next to tools). A few checks are stricter than
//! the daemon, where the daemon would accept what cannot work: `resource.permission.app.enabled`
//! must be true (the daemon refuses every app call otherwise, and calling apps is what these
//! plugins do), at most one endpoint group (the daemon silently keeps the first) and one tool
//! provider (it keeps the last), settings need a unique `name` (they reach the plugin by
//! name), every part of an app-selector `scope` must be known (the daemon is content with
//! one), `resource.memory` must be positive, and endpoint paths must be patterns the host's
//! router accepts. The tool provider's own stricter checks are in `tools.rs`.

use std::collections::HashSet;
use std::fmt;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use dify_plugin_wire::router::{Route, Router};
use serde_json::{Map, Value, json};

mod tools;

pub use tools::{ParameterForm, ParameterType, ToolDeclaration, ToolParameter, ToolProvider};

/// The manifest's file name, in the plugin folder.
pub const MANIFEST_FILE: &str = "manifest.yaml";
/// The folder of the plugin's icons, in the plugin folder; its files are sent by name.
pub const ASSETS_DIR: &str = "_assets";

/// The largest YAML file read (the real ones are a few hundred bytes).
const MAX_YAML_BYTES: u64 = 1 << 20;
/// The daemon's cap on a remote plugin's assets (`runtime_intialization_handlers.go`).
const MAX_ASSETS_BYTES: u64 = 50 * 1024 * 1024;
/// How much of a value a message quotes, in characters.
const QUOTED: usize = 80;

/// The six kinds of `plugins:` lists; Dify's model defaults each to `[]`.
const PLUGIN_KINDS: [&str; 6] = [
    "tools",
    "models",
    "endpoints",
    "agent_strategies",
    "datasources",
    "triggers",
];
/// The methods the daemon allows (`is_available_endpoint_method`), exactly as written.
const METHODS: [&str; 6] = ["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS"];
/// The setting types the daemon accepts (`isCredentialType`; `any` is declared but refused).
const SETTING_TYPES: [&str; 7] = [
    "secret-input",
    "text-input",
    "select",
    "boolean",
    "app-selector",
    "model-selector",
    "array[tools]",
];
const APP_SCOPES: [&str; 4] = ["all", "chat", "workflow", "completion"];
const MODEL_SCOPES: [&str; 9] = [
    "llm",
    "text-embedding",
    "rerank",
    "tts",
    "speech2text",
    "moderation",
    "vision",
    "document",
    "tool-call",
];
/// The scopes of an `any` tool parameter (`isVarSelectorScope`).
const ANY_SCOPES: [&str; 7] = [
    "string",
    "number",
    "object",
    "array[number]",
    "array[string]",
    "array[object]",
    "array[file]",
];
/// The tags the daemon knows (`manifest_entities/tags.go`).
const TAGS: [&str; 19] = [
    "search",
    "image",
    "videos",
    "weather",
    "finance",
    "design",
    "travel",
    "social",
    "news",
    "medical",
    "productivity",
    "education",
    "business",
    "entertainment",
    "utilities",
    "agent",
    "rag",
    "other",
    "trigger",
];
const OTHER_LOCALES: [&str; 3] = ["zh_Hans", "ja_JP", "pt_BR"];

/// A plugin's Dify declaration, read from its folder and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    /// What the daemon receives as `manifest_declaration` data: `manifest.yaml` as JSON, keys
    /// as in the YAML, with the Python SDK's empty defaults where Dify needs them.
    pub manifest: Value,
    /// The element of `endpoint_declaration` data: `{"settings": [...], "endpoints": [...]}`,
    /// each endpoint an object `{"path", "method", "hidden", ...}`, endpoint files inlined;
    /// `None` when `plugins.endpoints` is empty (a plugin of tools only), and then no
    /// `endpoint_declaration` is sent.
    pub endpoint_group: Option<Value>,
    /// The files of `_assets/`, by name, sorted.
    pub assets: Vec<Asset>,
    /// The declaration's YAML files, relative to the plugin folder with `/` separators:
    /// `manifest.yaml`, the endpoint group and the endpoint files it names, the tool provider
    /// and its tool files (what a package must carry for the daemon to read the same
    /// declaration).
    pub files: Vec<String>,
    /// The tool provider `plugins.tools` names, if any.
    tool_provider: Option<ToolProvider>,
}

/// One file of `_assets/`, sent to the daemon as `asset_chunk`s under its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The file name (no folder), as the manifest's `icon` names it.
    pub name: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// One rule of the daemon that a declaration file breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The file, relative to the plugin folder: `manifest.yaml`, `group/duck.yaml`, ...
    pub file: String,
    /// The field, dotted: `resource.memory`, `endpoints[0].method`.
    pub field: String,
    /// What the field must be, and why or what to do.
    pub rule: String,
    /// The value found, as JSON (shortened), or empty when the field is missing.
    pub value: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.file, self.field, self.rule)?;
        if self.value.is_empty() {
            write!(f, ", but it is missing")
        } else {
            write!(f, ", got {}", self.value)
        }
    }
}

/// Why a plugin's declaration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeclarationError {
    /// The plugin folder has no `manifest.yaml`.
    #[error(
        "{} not found: a plugin crate carries Dify's manifest.yaml next to its Cargo.toml, with \
         its endpoint group or tool provider files and _assets/, as a Python plugin folder does \
         (examples/duck has them to copy)",
        file.display()
    )]
    Missing {
        /// The path looked for.
        file: PathBuf,
    },
    /// A file exists but cannot be read.
    #[error("cannot read {}: {reason}", file.display())]
    Unreadable {
        /// The file or folder.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// A YAML file does not parse, or is not a mapping of fields.
    #[error("{file} is not valid YAML for Dify: {reason}")]
    Yaml {
        /// The file, relative to the plugin folder.
        file: String,
        /// The parser's message.
        reason: String,
    },
    /// The files break the daemon's rules: every violation found.
    #[error(
        "the plugin's Dify declaration breaks {} rule(s) of the plugin daemon:\n{}",
        .0.len(),
        lines(.0)
    )]
    Invalid(Vec<Violation>),
    /// The endpoint group and the component's `routes()` declare different endpoints.
    #[error(
        "the endpoints of {group_file} and the component's routes() differ:\n{}\nfix one side: \
         the group's `endpoints:` must list exactly the METHOD and PATH of each endpoint the \
         component exports",
        differences(group_file, &routes(only_in_declaration), &routes(only_in_component))
    )]
    RoutesDiffer {
        /// The endpoint group file (or, when there is none, `manifest.yaml` saying so).
        group_file: String,
        /// `(method, path)` declared in the YAML only.
        only_in_declaration: Vec<(String, String)>,
        /// `(method, path)` of the component only.
        only_in_component: Vec<(String, String)>,
    },
    /// The tool provider and the component declare different tools.
    #[error(
        "the tools of {provider_file} and the component's tools differ:\n{}\nfix one side: the \
         provider's `tools:` must list a tool YAML for each tool the component exports, its \
         identity.name the name the component gives the tool",
        differences(provider_file, only_in_declaration, only_in_component)
    )]
    ToolsDiffer {
        /// The tool provider file (or, when there is none, `manifest.yaml` saying so).
        provider_file: String,
        /// Tool names declared in the YAML only.
        only_in_declaration: Vec<String>,
        /// Tool names of the component only.
        only_in_component: Vec<String>,
    },
}

fn lines(violations: &[Violation]) -> String {
    let all: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
    all.join("\n")
}

/// `(method, path)` pairs as `METHOD PATH`.
fn routes(pairs: &[(String, String)]) -> Vec<String> {
    pairs.iter().map(|(m, p)| format!("{m} {p}")).collect()
}

/// What only the declaration `file` has, and what only the component has.
fn differences(file: &str, in_yaml: &[String], in_component: &[String]) -> String {
    let side = |items: &[String]| {
        if items.is_empty() {
            "nothing".to_owned()
        } else {
            items.join(", ")
        }
    };
    format!(
        "  only in {file}: {}\n  only in the component: {}",
        side(in_yaml),
        side(in_component)
    )
}

/// The items of `declared` not in `other`.
fn missing_from<T: PartialEq + Clone>(declared: &[T], other: &[T]) -> Vec<T> {
    declared
        .iter()
        .filter(|item| !other.contains(item))
        .cloned()
        .collect()
}

impl Declaration {
    /// Read `manifest.yaml`, its endpoint group (endpoint files inlined), its tool provider
    /// (tool files read) and `_assets/` from `plugin_dir`, and check them with the daemon's
    /// rules. Every violation is reported at once, in [`DeclarationError::Invalid`].
    pub fn load(plugin_dir: &Path) -> Result<Declaration, DeclarationError> {
        let Some(mut manifest) = read_yaml(plugin_dir, MANIFEST_FILE)? else {
            return Err(DeclarationError::Missing {
                file: plugin_dir.join(MANIFEST_FILE),
            });
        };
        let mut report = Report::default();
        check_manifest(&mut report, &manifest);

        let mut files = vec![MANIFEST_FILE.to_owned()];
        let endpoint_group = match group_file(&manifest) {
            Some(group) => Some(load_group(plugin_dir, group, &mut files, &mut report)?),
            None => None,
        };

        let assets = load_assets(plugin_dir, &mut report)?;
        check_icons(
            &mut report,
            MANIFEST_FILE,
            &manifest,
            &["icon", "icon_dark"],
            &assets,
        );

        let tool_provider = match provider_file(&manifest) {
            Some(provider) => {
                tools::load_provider(plugin_dir, provider, &assets, &mut files, &mut report)?
            }
            None => None,
        };

        if !report.found.is_empty() {
            return Err(DeclarationError::Invalid(report.found));
        }
        fill_defaults(&mut manifest);
        Ok(Declaration {
            manifest,
            endpoint_group,
            assets,
            files,
            tool_provider,
        })
    }

    /// The group's endpoints, `(method, path)`, in declaration order; none without a group.
    pub fn endpoints(&self) -> Vec<(String, String)> {
        self.endpoint_group
            .as_ref()
            .map(endpoint_pairs)
            .unwrap_or_default()
    }

    /// Check that the component's `routes()` and the group's endpoints are the same set (a
    /// plugin without an endpoint group has none).
    pub fn check_routes(&self, routes: &[Route]) -> Result<(), DeclarationError> {
        let declared = self.endpoints();
        let component: Vec<(String, String)> = routes
            .iter()
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect();
        let only_in_declaration = missing_from(&declared, &component);
        let only_in_component = missing_from(&component, &declared);
        if only_in_declaration.is_empty() && only_in_component.is_empty() {
            return Ok(());
        }
        Err(DeclarationError::RoutesDiffer {
            group_file: self
                .group_file()
                .unwrap_or("manifest.yaml (plugins.endpoints lists no endpoint group)")
                .to_owned(),
            only_in_declaration,
            only_in_component,
        })
    }

    /// The tool provider (`plugins.tools`), with its tools; `None` for a plugin of endpoints
    /// only.
    pub fn tool_provider(&self) -> Option<&ToolProvider> {
        self.tool_provider.as_ref()
    }

    /// The element of `tool_declaration` data, exactly as the Python SDK sends it in remote
    /// debugging (`ToolProviderConfiguration.model_dump()`): `identity` (locales filled in from
    /// `en_US`, `icon_dark` null and `tags` `[]` when absent), `credentials_schema` (the
    /// `credentials_for_provider` mapping as a list, each with its `name` and every field of a
    /// `ProviderConfig`), `oauth_schema` null, `tools` (each with every field of a
    /// `ToolParameter`, `has_runtime_parameters` false, `output_schema` null when absent), and
    /// `extra` as declared (omitted when absent: the daemon ignores it). `None` without a tool
    /// provider, and then no `tool_declaration` is sent.
    pub fn tool_declaration(&self) -> Option<Value> {
        self.tool_provider.as_ref().map(ToolProvider::declaration)
    }

    /// Check that the component's tools, by name, and the provider's tools are the same set
    /// (a plugin without a tool provider has none).
    pub fn check_tools(&self, names: &[String]) -> Result<(), DeclarationError> {
        let declared: Vec<String> = self
            .tool_provider
            .iter()
            .flat_map(|p| p.tools.iter().map(|t| t.name.clone()))
            .collect();
        let only_in_declaration = missing_from(&declared, names);
        let only_in_component = missing_from(names, &declared);
        if only_in_declaration.is_empty() && only_in_component.is_empty() {
            return Ok(());
        }
        Err(DeclarationError::ToolsDiffer {
            provider_file: self.tool_provider.as_ref().map_or_else(
                || "manifest.yaml (plugins.tools lists no tool provider)".to_owned(),
                |p| p.file.clone(),
            ),
            only_in_declaration,
            only_in_component,
        })
    }

    /// Whether the manifest enables app calls (`resource.permission.app.enabled`): the
    /// daemon refuses every backwards app invocation otherwise.
    pub fn app_permission(&self) -> bool {
        field(&self.manifest, "resource.permission.app.enabled") == Some(&Value::Bool(true))
    }

    /// Whether the manifest enables endpoints (`resource.permission.endpoint.enabled`).
    pub fn endpoint_permission(&self) -> bool {
        field(&self.manifest, "resource.permission.endpoint.enabled") == Some(&Value::Bool(true))
    }

    /// The plugin's `name`.
    pub fn name(&self) -> String {
        text(&self.manifest, "name")
    }

    /// The plugin's `author`.
    pub fn author(&self) -> String {
        text(&self.manifest, "author")
    }

    /// The plugin's `version`.
    pub fn version(&self) -> String {
        text(&self.manifest, "version")
    }

    /// The `icon`'s file name in `_assets/`.
    pub fn icon(&self) -> String {
        text(&self.manifest, "icon")
    }

    /// The architectures `meta.arch` lists (`amd64`, `arm64`), as written.
    pub fn arches(&self) -> Vec<String> {
        field(&self.manifest, "meta.arch")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect()
    }

    /// The Python module the daemon's local runtime starts (`meta.runner.entrypoint`).
    pub fn entrypoint(&self) -> String {
        text(&self.manifest, "meta.runner.entrypoint")
    }

    /// The endpoint group file, as `plugins.endpoints` lists it; `None` without a group.
    pub fn group_file(&self) -> Option<&str> {
        self.endpoint_group.as_ref()?;
        group_file(&self.manifest)
    }

    /// The group's settings, as declared (the endpoint's configuration form in Dify); none
    /// without a group.
    pub fn settings(&self) -> &[Value] {
        self.endpoint_group
            .as_ref()
            .and_then(|group| group["settings"].as_array())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// The violations found so far.
#[derive(Default)]
struct Report {
    found: Vec<Violation>,
}

impl Report {
    fn add(&mut self, file: &str, field: &str, rule: impl Into<String>, value: Option<&Value>) {
        self.found.push(Violation {
            file: file.to_owned(),
            field: field.to_owned(),
            rule: rule.into(),
            value: shown(value),
        });
    }

    /// A text field: present, a string and `ok`, else a violation. Returns the text if valid.
    fn text<'a>(
        &mut self,
        file: &str,
        doc: &'a Value,
        path: &str,
        rule: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Option<&'a str> {
        match field(doc, path) {
            Some(Value::String(s)) if ok(s) => Some(s),
            found => {
                self.add(file, path, quote_hint(rule, found), found);
                None
            }
        }
    }

    /// An optional boolean field.
    fn optional_bool(&mut self, file: &str, doc: &Value, path: &str) {
        if let Some(found) = field(doc, path).filter(|v| !v.is_boolean()) {
            self.add(file, path, "must be true or false", Some(found));
        }
    }

    /// An optional text field (Go decodes it into a string).
    fn optional_text(&mut self, file: &str, doc: &Value, path: &str) {
        if let Some(found) = field(doc, path).filter(|v| !v.is_string()) {
            self.add(
                file,
                path,
                quote_hint("must be a text", Some(found)),
                Some(found),
            );
        }
    }

    /// An `I18nObject`: a mapping with a non-empty `en_US`, other locales optional.
    fn i18n(&mut self, file: &str, doc: &Value, path: &str) {
        let Some(object) = field(doc, path) else {
            return self.add(
                file,
                &format!("{path}.en_US"),
                "must be a non-empty text of fewer than 1024 characters (English is required)",
                None,
            );
        };
        if !object.is_object() {
            return self.add(
                file,
                path,
                "must be a mapping of locales, e.g. {en_US: ...} (en_US required; zh_Hans, \
                 ja_JP, pt_BR optional)",
                Some(object),
            );
        }
        self.text(
            file,
            doc,
            &format!("{path}.en_US"),
            "must be a non-empty text of fewer than 1024 characters (English is required)",
            |s| !s.is_empty() && s.chars().count() < 1024,
        );
        for locale in OTHER_LOCALES {
            let locale_path = format!("{path}.{locale}");
            match field(doc, &locale_path) {
                None => {}
                Some(Value::String(s)) if s.chars().count() < 1024 => {}
                found => self.add(
                    file,
                    &locale_path,
                    "must be a text of fewer than 1024 characters, if set",
                    found,
                ),
            }
        }
    }
}

/// Appends a hint when YAML read a number where a text is wanted (`version: 3.12`).
fn quote_hint(rule: &str, found: Option<&Value>) -> String {
    match found {
        Some(Value::Number(_)) => format!("{rule} (YAML read a number here: quote it)"),
        _ => rule.to_owned(),
    }
}

/// A value as a message quotes it: its JSON, shortened; empty when absent.
fn shown(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return String::new();
    };
    let text = value.to_string();
    match text.char_indices().nth(QUOTED) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// The field at a dotted path; `None` when it, or a parent, is absent or null.
fn field<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut value = doc;
    for key in path.split('.') {
        value = value.as_object()?.get(key)?;
    }
    (!value.is_null()).then_some(value)
}

fn text(doc: &Value, path: &str) -> String {
    field(doc, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The first file of `plugins.endpoints`, if it is a text.
fn group_file(manifest: &Value) -> Option<&str> {
    field(manifest, "plugins.endpoints")?.get(0)?.as_str()
}

/// The first file of `plugins.tools`, if it is a text.
fn provider_file(manifest: &Value) -> Option<&str> {
    field(manifest, "plugins.tools")?.get(0)?.as_str()
}

/// Whether `plugins.<kind>` lists anything.
fn declares(manifest: &Value, kind: &str) -> bool {
    field(manifest, &format!("plugins.{kind}"))
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty())
}

fn check_manifest(r: &mut Report, m: &Value) {
    let file = MANIFEST_FILE;
    r.text(
        file,
        m,
        "version",
        "must be a version x.y.z (1-4 digits each, optional -suffix of letters, digits, _), e.g. 0.1.0",
        is_version,
    );
    r.text(file, m, "type", "must be \"plugin\"", |s| s == "plugin");
    if let Some(author) = r.text(
        file,
        m,
        "author",
        "must match ^[a-z0-9_-]{1,64}$ (lower case only: the daemon refuses upper case)",
        |s| is_name(s, 64),
    ) && is_uuid(author)
    {
        r.add(
            file,
            "author",
            "must not be a UUID (the daemon refuses such an author: \"cannot set author to an UUID\")",
            field(m, "author"),
        );
    }
    r.text(
        file,
        m,
        "name",
        "must match ^[a-z0-9_-]{1,128}$ (lower case letters, digits, _ and -)",
        |s| is_name(s, 128),
    );
    r.i18n(file, m, "label");
    r.i18n(file, m, "description");
    r.text(
        file,
        m,
        "icon",
        "must be the file name of an icon in _assets/, at most 128 characters",
        |s| !s.is_empty() && s.chars().count() <= 128,
    );
    if field(m, "icon_dark").is_some() {
        r.text(
            file,
            m,
            "icon_dark",
            "must be the file name of an icon in _assets/, at most 128 characters, if set",
            |s| s.chars().count() <= 128,
        );
    }
    r.text(
        file,
        m,
        "created_at",
        "must be an RFC 3339 time, e.g. 2026-01-01T00:00:00Z",
        is_rfc3339,
    );
    check_resource(r, m);
    check_plugins(r, m);
    check_meta(r, m);
    check_tags(r, file, m, "tags", &[]);
    if field(m, "repo").is_some() {
        r.text(
            file,
            m,
            "repo",
            "must be a URL (scheme:...), if set",
            is_url,
        );
    }
    r.optional_text(file, m, "privacy");
}

/// The tags at `path`, if set: known to the daemon, and none of `refused` (a tag the daemon
/// takes, with why it is refused anyway).
fn check_tags(r: &mut Report, file: &str, doc: &Value, path: &str, refused: &[(&str, &str)]) {
    let tags = match field(doc, path) {
        None => return,
        Some(Value::Array(tags)) => tags,
        found => return r.add(file, path, "must be a list of tags, if set", found),
    };
    for (i, tag) in tags.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let name = tag.as_str().unwrap_or_default();
        if let Some((_, why)) = refused.iter().find(|(t, _)| *t == name) {
            r.add(file, &at, format!("must not be {name}: {why}"), Some(tag));
        } else if !TAGS.contains(&name) {
            let known: Vec<&str> = TAGS
                .iter()
                .filter(|t| !refused.iter().any(|(r, _)| r == *t))
                .copied()
                .collect();
            r.add(
                file,
                &at,
                format!("must be one of the daemon's tags: {}", known.join(", ")),
                Some(tag),
            );
        }
    }
}

fn check_resource(r: &mut Report, m: &Value) {
    let file = MANIFEST_FILE;
    match field(m, "resource.memory") {
        Some(Value::Number(n)) if n.as_i64().is_some_and(|b| b > 0) => {}
        found => r.add(
            file,
            "resource.memory",
            "must be a positive whole number of bytes (the daemon refuses 0), e.g. 268435456",
            found,
        ),
    }
    if let Some(found) = field(m, "resource.permission").filter(|v| !v.is_object()) {
        r.add(
            file,
            "resource.permission",
            "must be a mapping, e.g. {app: {enabled: true}, endpoint: {enabled: true}}",
            Some(found),
        );
        return;
    }
    for (kind, flags) in [
        ("tool", &["enabled"][..]),
        (
            "model",
            &[
                "enabled",
                "llm",
                "text_embedding",
                "rerank",
                "tts",
                "speech2text",
                "moderation",
            ][..],
        ),
        ("node", &["enabled"][..]),
        ("endpoint", &["enabled"][..]),
        ("app", &["enabled"][..]),
        ("storage", &["enabled"][..]),
    ] {
        let path = format!("resource.permission.{kind}");
        let Some(entry) = field(m, &path) else {
            continue;
        };
        if !entry.is_object() {
            r.add(
                file,
                &path,
                "must be a mapping, e.g. {enabled: true}",
                Some(entry),
            );
            continue;
        }
        for flag in flags {
            r.optional_bool(file, m, &format!("{path}.{flag}"));
        }
    }
    if field(m, "resource.permission.storage").is_some_and(Value::is_object) {
        match field(m, "resource.permission.storage.size") {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|s| (1024..=1 << 30).contains(&s)) => {
            }
            found => r.add(
                file,
                "resource.permission.storage.size",
                "must be a number of bytes from 1024 to 1073741824 when storage is declared",
                found,
            ),
        }
    }
    let enabled = |path: &str| field(m, path) == Some(&Value::Bool(true));
    if declares(m, "endpoints") && !enabled("resource.permission.endpoint.enabled") {
        r.add(
            file,
            "resource.permission.endpoint.enabled",
            "must be true when the plugin declares endpoints: the daemon lets a user create the \
             plugin's endpoints only then (internal/service/setup_endpoint.go)",
            field(m, "resource.permission.endpoint.enabled"),
        );
    }
    if !enabled("resource.permission.app.enabled") {
        r.add(
            file,
            "resource.permission.app.enabled",
            "must be true: every session().app() call is a backwards invocation, which the daemon \
             refuses otherwise (\"permission denied, you need to enable app access in plugin \
             manifest\")",
            field(m, "resource.permission.app.enabled"),
        );
    }
}

fn check_plugins(r: &mut Report, m: &Value) {
    let file = MANIFEST_FILE;
    if let Some(found) = field(m, "plugins").filter(|v| !v.is_object()) {
        r.add(
            file,
            "plugins",
            "must be a mapping, e.g. {endpoints: [group/<name>.yaml]} or \
             {tools: [provider/<name>.yaml]}",
            Some(found),
        );
        return;
    }
    if !declares(m, "endpoints") && !declares(m, "tools") {
        r.add(
            file,
            "plugins",
            "must declare an endpoint group (plugins.endpoints: [group/<name>.yaml]), a tool \
             provider (plugins.tools: [provider/<name>.yaml]) or both: the daemon refuses a \
             plugin with neither",
            field(m, "plugins"),
        );
    }
    for kind in PLUGIN_KINDS {
        let path = format!("plugins.{kind}");
        let list = match field(m, &path) {
            None => &[][..],
            Some(Value::Array(list)) => list.as_slice(),
            found => {
                r.add(file, &path, "must be a list of file names", found);
                continue;
            }
        };
        for (i, entry) in list.iter().enumerate() {
            if !entry
                .as_str()
                .is_some_and(|s| !s.is_empty() && s.chars().count() <= 128)
            {
                r.add(
                    file,
                    &format!("{path}[{i}]"),
                    "must be a file name of at most 128 characters",
                    Some(entry),
                );
            }
        }
        match kind {
            "endpoints" if list.len() > 1 => r.add(
                file,
                &path,
                "must list at most one endpoint group file (the daemon keeps only the first), \
                 e.g. [group/<name>.yaml]",
                field(m, &path),
            ),
            "tools" if list.len() > 1 => r.add(
                file,
                &path,
                "must list at most one tool provider file (the daemon keeps only the last: a \
                 plugin has one tool provider), e.g. [provider/<name>.yaml]",
                field(m, &path),
            ),
            "endpoints" | "tools" => {}
            _ if !list.is_empty() => r.add(
                file,
                &path,
                "must be empty: this host registers endpoints and tools only, so the daemon \
                 would get no such declaration",
                field(m, &path),
            ),
            _ => {}
        }
    }
}

fn check_meta(r: &mut Report, m: &Value) {
    let file = MANIFEST_FILE;
    r.text(
        file,
        m,
        "meta.version",
        "must be a version x.y.z (1-4 digits each, optional -suffix), e.g. 0.1.0",
        is_version,
    );
    match field(m, "meta.arch") {
        Some(Value::Array(archs)) => {
            for (i, arch) in archs.iter().enumerate() {
                if !matches!(arch.as_str(), Some("amd64" | "arm64")) {
                    r.add(
                        file,
                        &format!("meta.arch[{i}]"),
                        "must be amd64 or arm64",
                        Some(arch),
                    );
                }
            }
        }
        found => r.add(
            file,
            "meta.arch",
            "must be a list of amd64 and/or arm64, e.g. [amd64, arm64]",
            found,
        ),
    }
    r.text(
        file,
        m,
        "meta.runner.language",
        "must be \"python\": the daemon accepts no other value (is_available_language), and this \
         host is launched through a Python shim",
        |s| s == "python",
    );
    r.text(
        file,
        m,
        "meta.runner.version",
        "must be a non-empty text of at most 128 characters, e.g. \"3.12\"",
        |s| !s.is_empty() && s.chars().count() <= 128,
    );
    r.text(
        file,
        m,
        "meta.runner.entrypoint",
        "must be a non-empty text of at most 256 characters, e.g. main",
        |s| !s.is_empty() && s.chars().count() <= 256,
    );
    r.optional_text(file, m, "meta.minimum_dify_version");
}

/// Read the group file, inline its endpoint files and check it all. Returns the group as the
/// daemon receives it (empty lists where the group is unusable, with violations reported).
/// The endpoint group `group`, its endpoint files inlined; the files read are added to
/// `files`.
fn load_group(
    dir: &Path,
    group: &str,
    files: &mut Vec<String>,
    r: &mut Report,
) -> Result<Value, DeclarationError> {
    let empty = json!({"settings": [], "endpoints": []});
    if !is_inside(group) {
        r.add(
            MANIFEST_FILE,
            "plugins.endpoints[0]",
            "must be a relative path inside the plugin folder, e.g. group/<name>.yaml",
            Some(&Value::String(group.to_owned())),
        );
        return Ok(empty);
    }
    let Some(doc) = read_yaml(dir, group)? else {
        r.add(
            MANIFEST_FILE,
            "plugins.endpoints[0]",
            format!("must name an endpoint group file of the plugin folder ({group} not found)"),
            Some(&Value::String(group.to_owned())),
        );
        return Ok(empty);
    };
    files.push(group.to_owned());

    let settings = match field(&doc, "settings") {
        None => Vec::new(),
        Some(Value::Array(settings)) => settings.clone(),
        found => {
            r.add(
                group,
                "settings",
                "must be a list of settings (or [] for none)",
                found,
            );
            Vec::new()
        }
    };
    check_settings(r, group, &settings);

    let mut endpoints = Vec::new();
    match field(&doc, "endpoints") {
        Some(Value::Array(entries)) if !entries.is_empty() => {
            for (i, entry) in entries.iter().enumerate() {
                if let Some(endpoint) = load_endpoint(dir, group, i, entry, r)? {
                    endpoints.push(endpoint);
                    if let Value::String(file) = entry {
                        files.push(file.clone());
                    }
                }
            }
        }
        found => r.add(
            group,
            "endpoints",
            "must list at least one endpoint: {path, method} or the name of an endpoint YAML file",
            found,
        ),
    }
    let group_json = json!({"settings": settings, "endpoints": endpoints});
    let mut seen = HashSet::new();
    for (method, path) in endpoint_pairs(&group_json) {
        if !seen.insert((method.clone(), path.clone())) {
            r.add(
                group,
                "endpoints",
                "must declare each method and path once",
                Some(&Value::String(format!("{method} {path}"))),
            );
        }
    }
    Ok(group_json)
}

/// Which entry of which list of declarations (a group's `endpoints:`, a provider's `tools:`),
/// and what the messages about it say.
struct ListEntry<'a> {
    /// The file that holds the list.
    parent: &'a str,
    /// The list's key.
    list: &'a str,
    i: usize,
    /// What a file entry names, for "must name …" (`an endpoint file`).
    what: &'a str,
    /// The rule for an entry that is neither inline nor a file.
    expected: &'a str,
}

/// An entry of a list of declarations as the document its rules run on, with the file and the
/// prefix that make a message's field path the one the author sees: an inline entry is
/// wrapped under `list[i]` of the list's file, a file entry is its own document. `None` if the
/// entry is neither, or its file is missing (reported).
fn entry_document(
    dir: &Path,
    at: &ListEntry<'_>,
    entry: &Value,
    r: &mut Report,
) -> Result<Option<(String, String, Value)>, DeclarationError> {
    let key = format!("{}[{}]", at.list, at.i);
    match entry {
        Value::Object(_) => Ok(Some((
            at.parent.to_owned(),
            format!("{key}."),
            wrap(key, entry.clone()),
        ))),
        Value::String(name) if is_inside(name) => match read_yaml(dir, name)? {
            Some(doc) => Ok(Some((name.clone(), String::new(), doc))),
            None => {
                let rule = format!(
                    "must name {}, relative to the plugin folder ({name} not found)",
                    at.what
                );
                r.add(at.parent, &key, rule, Some(entry));
                Ok(None)
            }
        },
        _ => {
            r.add(at.parent, &key, at.expected, Some(entry));
            Ok(None)
        }
    }
}

/// One entry of the group's `endpoints:`, inline or a file; `None` if unusable (reported).
fn load_endpoint(
    dir: &Path,
    group: &str,
    i: usize,
    entry: &Value,
    r: &mut Report,
) -> Result<Option<Value>, DeclarationError> {
    let at = ListEntry {
        parent: group,
        list: "endpoints",
        i,
        what: "an endpoint file",
        expected: "must be an endpoint {path, method} or the relative path of an endpoint YAML \
                   file inside the plugin folder",
    };
    let Some((file, prefix, doc)) = entry_document(dir, &at, entry, r)? else {
        return Ok(None);
    };
    let path = r.text(
        &file,
        &doc,
        &format!("{prefix}path"),
        "must be a non-empty path pattern, e.g. \"/duck/<app_id>\"",
        |s| !s.is_empty(),
    );
    let method = r.text(
        &file,
        &doc,
        &format!("{prefix}method"),
        "must be one of HEAD GET POST PUT DELETE OPTIONS, upper case as written",
        |s| METHODS.contains(&s),
    );
    r.optional_bool(&file, &doc, &format!("{prefix}hidden"));
    let (Some(path), Some(method)) = (path, method) else {
        return Ok(None);
    };
    if let Err(reason) = Router::new([(method.to_owned(), path.to_owned())]) {
        r.add(
            &file,
            &format!("{prefix}path"),
            format!("must be a pattern the host can route: {reason}"),
            Some(&Value::String(path.to_owned())),
        );
        return Ok(None);
    }
    // The daemon's shape: path, method, hidden (default false), then anything else declared.
    let mut endpoint = Map::new();
    endpoint.insert("path".into(), json!(path));
    endpoint.insert("method".into(), json!(method));
    let hidden = field(&doc, &format!("{prefix}hidden")).and_then(Value::as_bool);
    endpoint.insert("hidden".into(), json!(hidden.unwrap_or(false)));
    let object = if prefix.is_empty() {
        doc.as_object()
    } else {
        entry.as_object()
    };
    for (key, value) in object.into_iter().flatten() {
        if !endpoint.contains_key(key) {
            endpoint.insert(key.clone(), value.clone());
        }
    }
    Ok(Some(Value::Object(endpoint)))
}

/// `{key: value}`: a document in which `value`'s fields are found as `key.field`.
fn wrap(key: String, value: Value) -> Value {
    let mut object = Map::new();
    object.insert(key, value);
    Value::Object(object)
}

/// A document in which `value`'s fields are found as `path.field`, for a dotted `path` whose
/// parts hold no `.` themselves (`tools[0].parameters[1]`).
fn nest(path: &str, value: Value) -> Value {
    path.rsplit('.')
        .fold(value, |inner, key| wrap(key.to_owned(), inner))
}

fn check_settings(r: &mut Report, group: &str, settings: &[Value]) {
    let mut names = HashSet::new();
    for (i, setting) in settings.iter().enumerate() {
        let s = format!("settings[{i}]");
        if !setting.is_object() {
            r.add(
                group,
                &s,
                "must be a mapping {name, type, label, ...}",
                Some(setting),
            );
            continue;
        }
        let doc = wrap(s.clone(), setting.clone());
        let at = |f: &str| format!("{s}.{f}");
        if let Some(name) = r.text(
            group,
            &doc,
            &at("name"),
            "must be a non-empty text of fewer than 1024 characters (the plugin reads the \
             setting by this name)",
            |n| !n.is_empty() && n.chars().count() < 1024,
        ) && !names.insert(name.to_owned())
        {
            r.add(
                group,
                &at("name"),
                "must be unique among the settings",
                field(&doc, &at("name")),
            );
        }
        check_config(r, group, &doc, &s);
    }
}

/// The fields but `name` of a `ProviderConfig` (an endpoint setting, a tool provider's
/// credential) found at `s` in `doc`.
fn check_config(r: &mut Report, file: &str, doc: &Value, s: &str) {
    let at = |f: &str| format!("{s}.{f}");
    let kind = r.text(
        file,
        doc,
        &at("type"),
        &format!("must be one of {}", SETTING_TYPES.join(" ")),
        |t| SETTING_TYPES.contains(&t),
    );
    r.i18n(file, doc, &at("label"));
    for optional in ["help", "placeholder"] {
        if field(doc, &at(optional)).is_some() {
            r.i18n(file, doc, &at(optional));
        }
    }
    r.optional_bool(file, doc, &at("required"));
    r.optional_bool(file, doc, &at("multiple"));
    r.optional_text(file, doc, &at("url"));
    if let Some(default) = field(doc, &at("default")).filter(|v| v.is_object() || v.is_array()) {
        r.add(
            file,
            &at("default"),
            "must be a text, number or boolean",
            Some(default),
        );
    }
    if let Some(scope) = field(doc, &at("scope")) {
        check_scope(r, file, &at("scope"), kind, scope);
    }
    check_options(r, file, doc, &at("options"), Some(128));
}

/// The `options` list at `path`, if set: each `{value, label}`, `value` a non-empty text.
/// With `limit` (a `ProviderConfig`'s `lt=128`), fewer than `limit` options, each value of
/// fewer than `limit` characters.
fn check_options(r: &mut Report, file: &str, doc: &Value, path: &str, limit: Option<usize>) {
    let under = |n: usize| limit.is_none_or(|limit| n < limit);
    match field(doc, path) {
        None => {}
        Some(Value::Array(options)) if under(options.len()) => {
            for (j, option) in options.iter().enumerate() {
                let o = format!("{path}[{j}]");
                let option_doc = nest(&o, option.clone());
                let rule = match limit {
                    Some(limit) => {
                        format!("must be a non-empty text of fewer than {limit} characters")
                    }
                    None => "must be a non-empty text".to_owned(),
                };
                r.text(file, &option_doc, &format!("{o}.value"), &rule, |v| {
                    !v.is_empty() && under(v.chars().count())
                });
                r.i18n(file, &option_doc, &format!("{o}.label"));
            }
        }
        found => {
            let rule = match limit {
                Some(limit) => {
                    format!("must be a list of fewer than {limit} options {{value, label}}")
                }
                None => "must be a list of options {value, label}".to_owned(),
            };
            r.add(file, path, rule, found);
        }
    }
}

/// A `scope`, on a setting or tool parameter of type `kind`: the daemon takes one only for
/// app- and model-selectors (and `any` tool parameters), made of the parts it knows.
fn check_scope(r: &mut Report, file: &str, path: &str, kind: Option<&str>, scope: &Value) {
    let known: &[&str] = match kind {
        Some("app-selector") => &APP_SCOPES,
        Some("model-selector") => &MODEL_SCOPES,
        Some("any") => &ANY_SCOPES,
        Some(_) => {
            return r.add(
                file,
                path,
                "must not be set: the daemon accepts a scope only on app-selector and \
                 model-selector settings and parameters (and any parameters)",
                Some(scope),
            );
        }
        None => return,
    };
    let valid = scope
        .as_str()
        .is_some_and(|s| s.split('&').all(|part| known.contains(&part.trim())));
    if !valid {
        r.add(
            file,
            path,
            format!(
                "must be one or more of {} joined by &, e.g. {}",
                known.join("|"),
                match kind {
                    Some("app-selector") => "chat&workflow",
                    Some("any") => "string&number",
                    _ => "llm",
                }
            ),
            Some(scope),
        );
    }
}

/// Check that each icon named at `paths` of `doc` (from `file`) is a file of `_assets/`.
fn check_icons(r: &mut Report, file: &str, doc: &Value, paths: &[&str], assets: &[Asset]) {
    for key in paths {
        let Some(Value::String(icon)) = field(doc, key) else {
            continue;
        };
        if icon.is_empty() || assets.iter().any(|a| &a.name == icon) {
            continue;
        }
        let rule = if icon.contains('/') || icon.contains('\\') {
            "must be a bare file name of _assets/ (the daemon receives assets by file name, not path)"
                .to_owned()
        } else {
            format!(
                "must name a file of _assets/ (no {ASSETS_DIR}/{icon}): the daemon refuses the \
                 registration when an icon was not sent"
            )
        };
        r.add(file, key, rule, field(doc, key));
    }
}

/// The files directly in `_assets/`, sorted by name. Empty files and a total above the
/// daemon's cap are violations (it refuses an empty `asset_chunk`, and more than 50 MB).
fn load_assets(dir: &Path, r: &mut Report) -> Result<Vec<Asset>, DeclarationError> {
    let folder = dir.join(ASSETS_DIR);
    let unreadable = |file: &Path, e: std::io::Error| DeclarationError::Unreadable {
        file: file.to_owned(),
        reason: e.to_string(),
    };
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(unreadable(&folder, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| unreadable(&folder, e))?;
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(|e| unreadable(&path, e))?;
        if !meta.is_file() {
            continue;
        }
        match entry.file_name().into_string() {
            Ok(name) => found.push((name, path, meta.len())),
            Err(name) => r.add(
                ASSETS_DIR,
                &name.to_string_lossy(),
                "must have a UTF-8 file name",
                None,
            ),
        }
    }
    found.sort();
    let total: u64 = found.iter().map(|(_, _, len)| len).sum();
    if total > MAX_ASSETS_BYTES {
        r.add(
            ASSETS_DIR,
            "(all files)",
            "must total at most 50 MB (the daemon's cap)",
            Some(&json!(total)),
        );
        return Ok(Vec::new());
    }
    let mut assets = Vec::with_capacity(found.len());
    for (name, path, _) in found {
        let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, e))?;
        if bytes.is_empty() {
            r.add(
                ASSETS_DIR,
                &name,
                "must not be empty (the daemon refuses an empty asset_chunk)",
                Some(&json!(0)),
            );
        }
        assets.push(Asset { name, bytes });
    }
    Ok(assets)
}

/// Read a YAML file of the plugin folder as JSON; `None` if it does not exist.
fn read_yaml(dir: &Path, rel: &str) -> Result<Option<Value>, DeclarationError> {
    let path = dir.join(rel);
    let unreadable = |reason: String| DeclarationError::Unreadable {
        file: path.clone(),
        reason,
    };
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    if !meta.is_file() {
        return Err(unreadable("not a file".into()));
    }
    if meta.len() > MAX_YAML_BYTES {
        return Err(unreadable(format!(
            "{} bytes, more than the {MAX_YAML_BYTES} read",
            meta.len()
        )));
    }
    let bytes = std::fs::read(&path).map_err(|e| unreadable(e.to_string()))?;
    let yaml_error = |reason: String| DeclarationError::Yaml {
        file: rel.to_owned(),
        reason,
    };
    let source = String::from_utf8(bytes).map_err(|_| yaml_error("it is not UTF-8".into()))?;
    let mut doc: serde_norway::Value =
        serde_norway::from_str(&source).map_err(|e| yaml_error(e.to_string()))?;
    doc.apply_merge().map_err(|e| yaml_error(e.to_string()))?;
    let doc = to_json(doc).map_err(yaml_error)?;
    if !doc.is_object() {
        return Err(yaml_error(format!(
            "expected a mapping of fields, found {}",
            if doc.is_null() {
                "nothing".to_owned()
            } else {
                shown(Some(&doc))
            }
        )));
    }
    Ok(Some(doc))
}

/// YAML as JSON, keys in file order (a number or boolean key becomes its text).
fn to_json(value: serde_norway::Value) -> Result<Value, String> {
    use serde_norway::Value as Yaml;
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("the number {n} has no JSON form"))?
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => return Err(format!("a mapping key must be a text, got {other:?}")),
                };
                object.insert(key, to_json(value)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            return Err(format!("YAML tags ({}) are not supported", tagged.tag));
        }
    })
}

/// The Python SDK's empty defaults that Dify needs: the daemon relays `plugins` lists as
/// `null` when absent, which Dify's model (lists defaulting to `[]`) does not take. `repo`,
/// `icon_dark` and `meta.minimum_dify_version` are `null` as the SDK sends them.
fn fill_defaults(manifest: &mut Value) {
    let Some(top) = manifest.as_object_mut() else {
        return;
    };
    for key in ["repo", "icon_dark"] {
        top.entry(key).or_insert(Value::Null);
    }
    let plugins = top.entry("plugins").or_insert_with(|| json!({}));
    if let Some(plugins) = plugins.as_object_mut() {
        for kind in PLUGIN_KINDS {
            let list = plugins.entry(kind).or_insert_with(|| json!([]));
            if list.is_null() {
                *list = json!([]);
            }
        }
    }
    if let Some(meta) = top.get_mut("meta").and_then(Value::as_object_mut) {
        meta.entry("minimum_dify_version").or_insert(Value::Null);
    }
}

fn endpoint_pairs(group: &Value) -> Vec<(String, String)> {
    group["endpoints"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| {
            Some((
                e["method"].as_str()?.to_owned(),
                e["path"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// A relative path that stays inside the plugin folder.
fn is_inside(rel: &str) -> bool {
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// `^[a-z0-9_-]{1,max}$`.
fn is_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// What google/uuid's `Parse` takes, among names the author pattern allows: 32 hex digits,
/// or 36 characters with dashes at 8, 13, 18 and 23.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        32 => b.iter().all(u8::is_ascii_hexdigit),
        36 => b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        }),
        _ => false,
    }
}

/// `^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$` (the daemon's `version` validator).
fn is_version(s: &str) -> bool {
    let (core, suffix) = match s.split_once('-') {
        Some((core, suffix)) => (core, Some(suffix)),
        None => (s, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && suffix.is_none_or(|x| {
            (1..=16).contains(&x.len()) && x.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// A URL as the validator's `url` takes it, roughly: a scheme, a colon, more, no spaces.
fn is_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

/// RFC 3339 as Go's `time.Time` decodes it: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, a real
/// date, not Go's zero time (the daemon's `required`).
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    ) else {
        return false;
    };
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if year < 2 || day == 0 || day > days || hour > 23 || minute > 59 || second > 59 {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return false;
        }
        i += 1 + digits;
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len()
                && at(i + 3, b':')
                && num(i + 1, 2).is_some_and(|h| h < 24)
                && num(i + 4, 2).is_some_and(|m| m < 60)
        }
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) use super::tools::tests::peer_plugin;
    use super::*;
    use std::fs;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A temporary plugin folder, removed on drop.
    pub(crate) struct Folder(pub(crate) PathBuf);

    impl Folder {
        pub(crate) fn new() -> Folder {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "dify-declaration-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Folder(dir)
        }

        pub(crate) fn write(&self, rel: &str, text: &str) -> &Folder {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
            self
        }

        pub(crate) fn load(&self) -> Result<Declaration, DeclarationError> {
            Declaration::load(&self.0)
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    pub(crate) const ICON: &str =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"16\" height=\"16\"/>\n";

    /// The Python plugin of the reference transcript, file by file.
    fn python_plugin() -> Folder {
        let folder = Folder::new();
        folder
            .write(
                "manifest.yaml",
                "version: 0.0.1\ntype: plugin\nauthor: wasmtest\nname: wasm_shim_probe\n\
                 label:\n  en_US: Wasm shim probe\ndescription:\n  en_US: Endpoint plugin used \
                 to capture remote-debug registration bytes\nicon: icon.svg\n\
                 created_at: 2026-01-01T00:00:00Z\nresource:\n  memory: 268435456\n  \
                 permission:\n    app:\n      enabled: true\n    endpoint:\n      enabled: true\n\
                 plugins:\n  endpoints:\n    - group/probe.yaml\nmeta:\n  version: 0.0.1\n  \
                 arch: [amd64, arm64]\n  runner:\n    language: python\n    version: \"3.12\"\n    \
                 entrypoint: main\n",
            )
            .write(
                "group/probe.yaml",
                "settings:\n  - name: app\n    type: app-selector\n    scope: chat\n    \
                 required: true\n    label:\n      en_US: App\n  - name: api_key\n    \
                 type: secret-input\n    required: false\n    label:\n      en_US: API key\n\
                 endpoints:\n  - endpoints/chat.yaml\n  - path: \"/ping\"\n    method: \"GET\"\n    \
                 extra:\n      python:\n        source: \"endpoints/ping.py\"\n",
            )
            .write(
                "endpoints/chat.yaml",
                "path: \"/chat/<app_id>\"\nmethod: \"POST\"\nextra:\n  python:\n    \
                 source: \"endpoints/chat.py\"\n",
            )
            .write("_assets/icon.svg", ICON);
        folder
    }

    const MANIFEST: &str = "\
version: 0.1.0
type: plugin
author: dify-plugin-wasm
name: test-plugin
label:
  en_US: Test plugin
description:
  en_US: A plugin for the tests
icon: icon.svg
created_at: 2026-12-01T00:00:00Z
resource:
  memory: 268435456
  permission:
    app:
      enabled: true
    endpoint:
      enabled: true
plugins:
  endpoints:
    - group/test.yaml
meta:
  version: 0.1.0
  arch: [amd64, arm64]
  runner:
    language: python
    version: \"3.12\"
    entrypoint: main
";

    const GROUP: &str = "\
settings:
  - name: app
    type: app-selector
    scope: chat
    required: true
    label:
      en_US: App
endpoints:
  - path: \"/duck/<app_id>\"
    method: \"GET\"
";

    /// A valid plugin with `edits` (`from`, `to`) made to its manifest and group.
    pub(crate) fn plugin_with(
        manifest_edits: &[(&str, &str)],
        group_edits: &[(&str, &str)],
    ) -> Folder {
        let folder = Folder::new();
        folder
            .write("manifest.yaml", &edited(MANIFEST, manifest_edits))
            .write("group/test.yaml", &edited(GROUP, group_edits))
            .write("_assets/icon.svg", ICON);
        folder
    }

    /// `text` with `edits` (`from`, `to`) made, each once.
    pub(crate) fn edited(text: &str, edits: &[(&str, &str)]) -> String {
        edits.iter().fold(text.to_owned(), |text, (from, to)| {
            assert!(text.contains(from), "{from:?} is not in the test file");
            text.replacen(from, to, 1)
        })
    }

    pub(crate) fn violations(folder: &Folder) -> Vec<Violation> {
        match folder.load() {
            Err(DeclarationError::Invalid(found)) => found,
            other => panic!("expected violations, got {other:?}"),
        }
    }

    /// The one violation of `field` in `file`, whose message contains `expect`.
    pub(crate) fn one(found: &[Violation], file: &str, field: &str, expect: &str) -> String {
        let matching: Vec<&Violation> = found
            .iter()
            .filter(|v| v.file == file && v.field == field)
            .collect();
        assert_eq!(matching.len(), 1, "{file} {field} in {found:#?}");
        let message = matching[0].to_string();
        assert!(message.contains(expect), "{message:?} lacks {expect:?}");
        message
    }

    pub(crate) fn keys(value: &Value) -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn the_python_plugin_gives_what_the_python_sdk_sends() {
        let sdk: Value = serde_json::from_str(include_str!(
            "../../../tests-data/daemon/python-sdk-endpoint-declaration.json"
        ))
        .unwrap();
        let (sdk_manifest, sdk_group) = (
            &sdk["manifest_declaration"],
            &sdk["endpoint_declaration"][0],
        );
        let folder = python_plugin();
        let declaration = folder.load().unwrap();
        let manifest = &declaration.manifest;

        assert_eq!(keys(manifest), keys(sdk_manifest));
        for key in [
            "version",
            "type",
            "author",
            "name",
            "repo",
            "icon",
            "icon_dark",
            "created_at",
            "plugins",
            "meta",
        ] {
            assert_eq!(manifest[key], sdk_manifest[key], "{key}");
        }
        assert_eq!(manifest["label"]["en_US"], sdk_manifest["label"]["en_US"]);
        assert_eq!(
            manifest["description"]["en_US"],
            sdk_manifest["description"]["en_US"]
        );
        for key in ["memory", "permission.app", "permission.endpoint"] {
            let path = format!("resource.{key}");
            assert_eq!(field(manifest, &path), field(sdk_manifest, &path), "{path}");
        }

        // The group: endpoint files inlined, each endpoint as the SDK sends it.
        let group = declaration.endpoint_group.as_ref().unwrap();
        assert_eq!(keys(group), keys(sdk_group));
        assert_eq!(group["endpoints"], sdk_group["endpoints"]);
        let settings = declaration.settings();
        assert_eq!(settings.len(), 2);
        for (ours, theirs) in settings
            .iter()
            .zip(sdk_group["settings"].as_array().unwrap())
        {
            for key in ["name", "type", "scope", "required"] {
                assert_eq!(ours.get(key).unwrap_or(&Value::Null), &theirs[key], "{key}");
            }
            assert_eq!(ours["label"]["en_US"], theirs["label"]["en_US"]);
        }
        assert_eq!(
            declaration.endpoints(),
            [
                ("POST".to_owned(), "/chat/<app_id>".to_owned()),
                ("GET".to_owned(), "/ping".to_owned())
            ]
        );
        assert_eq!(
            declaration.assets,
            [Asset {
                name: "icon.svg".into(),
                bytes: ICON.into()
            }]
        );
        assert_eq!(declaration.name(), "wasm_shim_probe");
        assert_eq!(declaration.author(), "wasmtest");
        assert_eq!(declaration.version(), "0.0.1");
        assert_eq!(declaration.group_file(), Some("group/probe.yaml"));
        assert_eq!(declaration.tool_provider(), None);
        assert_eq!(declaration.tool_declaration(), None);
        assert!(declaration.app_permission() && declaration.endpoint_permission());
    }

    #[test]
    fn the_test_plugin_is_valid() {
        let declaration = plugin_with(&[], &[]).load().unwrap();
        assert_eq!(
            declaration.endpoint_group,
            Some(json!({
                "settings": [{"name": "app", "type": "app-selector", "scope": "chat",
                              "required": true, "label": {"en_US": "App"}}],
                "endpoints": [{"path": "/duck/<app_id>", "method": "GET", "hidden": false}],
            }))
        );
        assert_eq!(
            declaration.manifest["plugins"],
            json!({"endpoints": ["group/test.yaml"], "tools": [], "models": [],
                   "agent_strategies": [], "datasources": [], "triggers": []})
        );
    }

    #[test]
    fn an_upper_case_author_is_refused() {
        let found = violations(&plugin_with(
            &[("author: dify-plugin-wasm", "author: Wasm")],
            &[],
        ));
        let message = one(&found, "manifest.yaml", "author", "lower case only");
        assert_eq!(
            message,
            "manifest.yaml: author must match ^[a-z0-9_-]{1,64}$ (lower case only: the daemon \
             refuses upper case), got \"Wasm\""
        );
    }

    #[test]
    fn a_uuid_author_is_refused() {
        let found = violations(&plugin_with(
            &[(
                "author: dify-plugin-wasm",
                "author: 0f8fad5b-d9cb-469f-a165-70867728950e",
            )],
            &[],
        ));
        one(&found, "manifest.yaml", "author", "UUID");
    }

    #[test]
    fn a_missing_icon_file_is_refused() {
        let folder = plugin_with(&[], &[]);
        fs::remove_file(folder.0.join("_assets/icon.svg")).unwrap();
        let found = violations(&folder);
        one(&found, "manifest.yaml", "icon", "no _assets/icon.svg");

        let found = violations(&plugin_with(
            &[("icon: icon.svg", "icon: icon.svg\nicon_dark: dark.svg")],
            &[],
        ));
        one(&found, "manifest.yaml", "icon_dark", "no _assets/dark.svg");

        let found = violations(&plugin_with(
            &[("icon: icon.svg", "icon: _assets/icon.svg")],
            &[],
        ));
        one(&found, "manifest.yaml", "icon", "bare file name");

        let folder = plugin_with(&[], &[]);
        folder.write("_assets/empty.png", "");
        one(
            &violations(&folder),
            "_assets",
            "empty.png",
            "must not be empty",
        );
    }

    #[test]
    fn a_runner_language_other_than_python_is_refused() {
        let found = violations(&plugin_with(&[("language: python", "language: rust")], &[]));
        one(
            &found,
            "manifest.yaml",
            "meta.runner.language",
            "the daemon accepts no other value",
        );
    }

    #[test]
    fn zero_memory_is_refused() {
        let found = violations(&plugin_with(&[("memory: 268435456", "memory: 0")], &[]));
        one(&found, "manifest.yaml", "resource.memory", "got 0");
    }

    #[test]
    fn a_missing_english_label_is_refused() {
        let found = violations(&plugin_with(
            &[("  en_US: Test plugin", "  zh_Hans: Test plugin")],
            &[("      en_US: App", "      en_US: \"\"")],
        ));
        one(&found, "manifest.yaml", "label.en_US", "but it is missing");
        one(
            &found,
            "group/test.yaml",
            "settings[0].label.en_US",
            "got \"\"",
        );
    }

    #[test]
    fn bad_methods_and_paths_are_refused() {
        let found = violations(&plugin_with(
            &[],
            &[(
                "    method: \"GET\"\n",
                "    method: \"get\"\n  - path: /x\n    method: FETCH\n  - method: GET\n  \
                 - path: duck\n    method: GET\n",
            )],
        ));
        one(
            &found,
            "group/test.yaml",
            "endpoints[0].method",
            "got \"get\"",
        );
        one(
            &found,
            "group/test.yaml",
            "endpoints[1].method",
            "got \"FETCH\"",
        );
        one(
            &found,
            "group/test.yaml",
            "endpoints[2].path",
            "but it is missing",
        );
        one(
            &found,
            "group/test.yaml",
            "endpoints[3].path",
            "must start with '/'",
        );
    }

    #[test]
    fn endpoint_files_are_inlined_and_checked() {
        let folder = plugin_with(
            &[],
            &[(
                "  - path: \"/duck/<app_id>\"\n    method: \"GET\"\n",
                "  - endpoints/a.yaml\n  - endpoints/missing.yaml\n  - ../outside.yaml\n",
            )],
        );
        folder.write("endpoints/a.yaml", "path: /a\nmethod: PUT\nhidden: yes\n");
        let found = violations(&folder);
        one(&found, "endpoints/a.yaml", "hidden", "true or false");
        one(
            &found,
            "group/test.yaml",
            "endpoints[1]",
            "missing.yaml not found",
        );
        one(
            &found,
            "group/test.yaml",
            "endpoints[2]",
            "inside the plugin folder",
        );

        folder.write("endpoints/a.yaml", "path: /a\nmethod: PUT\nhidden: true\n");
        folder.write("endpoints/missing.yaml", "path: /b\nmethod: DELETE\n");
        folder.write(
            "group/test.yaml",
            "endpoints: [endpoints/a.yaml, endpoints/missing.yaml]\n",
        );
        let declaration = folder.load().unwrap();
        assert_eq!(
            declaration.endpoint_group,
            Some(json!({"settings": [], "endpoints": [
                {"path": "/a", "method": "PUT", "hidden": true},
                {"path": "/b", "method": "DELETE", "hidden": false}]}))
        );
    }

    #[test]
    fn settings_are_checked() {
        let found = violations(&plugin_with(
            &[],
            &[(
                "    label:\n      en_US: App\n",
                "    label:\n      en_US: App\n  - name: other\n    type: any\n    label: {en_US: X}\n  \
                 - name: app\n    type: text-input\n    scope: chat\n    label: {en_US: Y}\n  \
                 - name: picker\n    type: app-selector\n    scope: chat&bots\n    label: {en_US: Z}\n  \
                 - type: boolean\n    default: [1]\n    label: {en_US: W}\n",
            )],
        ));
        one(
            &found,
            "group/test.yaml",
            "settings[1].type",
            "app-selector",
        );
        one(&found, "group/test.yaml", "settings[2].name", "unique");
        one(
            &found,
            "group/test.yaml",
            "settings[2].scope",
            "must not be set",
        );
        one(
            &found,
            "group/test.yaml",
            "settings[3].scope",
            "all|chat|workflow|completion joined by &",
        );
        one(
            &found,
            "group/test.yaml",
            "settings[4].name",
            "but it is missing",
        );
        one(&found, "group/test.yaml", "settings[4].default", "got [1]");
        assert_eq!(found.len(), 6, "{found:#?}");
    }

    #[test]
    fn permissions_are_required() {
        let found = violations(&plugin_with(
            &[(
                "    app:\n      enabled: true\n    endpoint:\n      enabled: true\n",
                "    endpoint:\n      enabled: false\n",
            )],
            &[],
        ));
        one(
            &found,
            "manifest.yaml",
            "resource.permission.app.enabled",
            "permission denied, you need to enable app access",
        );
        one(
            &found,
            "manifest.yaml",
            "resource.permission.endpoint.enabled",
            "got false",
        );
    }

    #[test]
    fn other_manifest_rules() {
        let found = violations(&plugin_with(
            &[
                ("version: 0.1.0\ntype: plugin", "version: 1.0\ntype: tool"),
                ("name: test-plugin", "name: Test Plugin"),
                (
                    "created_at: 2026-12-01T00:00:00Z",
                    "created_at: 2026-02-30T00:00:00Z",
                ),
                (
                    "    - group/test.yaml\n",
                    "    - group/test.yaml\n    - group/other.yaml\n",
                ),
                ("  arch: [amd64, arm64]", "  arch: [amd64, x86]"),
                ("    version: \"3.12\"", "    version: 3.12"),
                ("  version: 0.1.0\n  arch", "  version: 1.2.3.4\n  arch"),
            ],
            &[],
        ));
        one(&found, "manifest.yaml", "version", "quote it");
        one(&found, "manifest.yaml", "type", "\"plugin\"");
        one(&found, "manifest.yaml", "name", "got \"Test Plugin\"");
        one(&found, "manifest.yaml", "created_at", "RFC 3339");
        one(&found, "manifest.yaml", "plugins.endpoints", "at most one");
        one(&found, "manifest.yaml", "meta.arch[1]", "got \"x86\"");
        one(&found, "manifest.yaml", "meta.runner.version", "got 3.12");
        one(&found, "manifest.yaml", "meta.version", "got \"1.2.3.4\"");
        assert_eq!(found.len(), 8, "{found:#?}");
    }

    #[test]
    fn every_violation_is_listed_at_once() {
        let folder = plugin_with(
            &[
                ("author: dify-plugin-wasm", "author: Wasm"),
                ("memory: 268435456", "memory: 0"),
                ("language: python", "language: rust"),
            ],
            &[("method: \"GET\"", "method: \"FETCH\"")],
        );
        let error = folder.load().unwrap_err();
        let DeclarationError::Invalid(found) = &error else {
            panic!("{error:?}");
        };
        assert_eq!(found.len(), 4, "{found:#?}");
        let message = error.to_string();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 5, "{message}");
        assert!(lines[0].contains("breaks 4 rule(s)"), "{message}");
        for (line, field) in lines[1..].iter().zip([
            "manifest.yaml: author ",
            "manifest.yaml: resource.memory ",
            "manifest.yaml: meta.runner.language ",
            "group/test.yaml: endpoints[0].method ",
        ]) {
            assert!(line.starts_with(&format!("  {field}")), "{line}");
        }
    }

    #[test]
    fn missing_and_unparsable_files() {
        let folder = Folder::new();
        assert!(matches!(
            folder.load(),
            Err(DeclarationError::Missing { .. })
        ));
        folder.write("manifest.yaml", "name: [unclosed\n");
        assert!(
            matches!(folder.load(), Err(DeclarationError::Yaml { file, .. }) if file == "manifest.yaml")
        );
        folder.write("manifest.yaml", "- a list\n");
        assert!(matches!(folder.load(), Err(DeclarationError::Yaml { .. })));

        let folder = plugin_with(&[], &[]);
        fs::remove_file(folder.0.join("group/test.yaml")).unwrap();
        one(
            &violations(&folder),
            "manifest.yaml",
            "plugins.endpoints[0]",
            "not found",
        );
    }

    #[test]
    fn check_routes_names_both_sides() {
        let declaration = plugin_with(&[], &[]).load().unwrap();
        let same = Router::new([("GET".to_owned(), "/duck/<app_id>".to_owned())]).unwrap();
        declaration.check_routes(same.routes()).unwrap();

        let other = Router::new([("POST".to_owned(), "/goose/<app_id>".to_owned())]).unwrap();
        let error = declaration.check_routes(other.routes()).unwrap_err();
        let DeclarationError::RoutesDiffer {
            only_in_declaration,
            only_in_component,
            ..
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(
            only_in_declaration,
            &[("GET".to_owned(), "/duck/<app_id>".to_owned())]
        );
        assert_eq!(
            only_in_component,
            &[("POST".to_owned(), "/goose/<app_id>".to_owned())]
        );
        let message = error.to_string();
        assert!(
            message.contains("only in group/test.yaml: GET /duck/<app_id>"),
            "{message}"
        );
        assert!(
            message.contains("only in the component: POST /goose/<app_id>"),
            "{message}"
        );
        assert!(message.contains("fix one side"), "{message}");
    }

    /// The string value of `const NAME: &'static str = "...";` in a source text.
    fn const_str(source: &str, name: &str) -> Option<String> {
        let start = format!("const {name}: &'static str = \"");
        let rest = &source[source.find(&start)? + start.len()..];
        Some(rest[..rest.find('"')?].to_owned())
    }

    #[test]
    fn the_examples_are_valid_and_match_their_code() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        for name in ["duck", "workflow-runner", "completion-writer"] {
            let dir = examples.join(name);
            let declaration =
                Declaration::load(&dir).unwrap_or_else(|e| panic!("examples/{name}: {e}"));
            let source = fs::read_to_string(dir.join("src/lib.rs")).unwrap();
            let method = const_str(&source, "METHOD").unwrap();
            let path = const_str(&source, "PATH").unwrap();
            assert_eq!(declaration.endpoints(), [(method, path)], "examples/{name}");
            assert_eq!(declaration.name(), name);
            assert_eq!(
                declaration.group_file(),
                Some(format!("group/{name}.yaml").as_str())
            );
            assert!(declaration.app_permission() && declaration.endpoint_permission());
            assert!(
                declaration.settings().is_empty(),
                "examples/{name} reads no setting"
            );
            assert!(declaration.assets.iter().all(|a| a.bytes.len() < 2048));
        }
    }

    #[test]
    fn patterns() {
        for ok in [
            "2026-01-01T00:00:00Z",
            "2024-02-29T23:59:59.123+05:30",
            "1999-12-31T00:00:00-00:00",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "2026-01-01",
            "2026-01-01 00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "0001-01-01T00:00:00Z",
            "2026-01-01T00:00:00+5:30",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
        for ok in ["0.1.0", "1234.0.9999", "1.2.3-beta_1"] {
            assert!(is_version(ok), "{ok}");
        }
        for bad in [
            "1.0",
            "1.2.3.4",
            "12345.0.0",
            "1.2.3-",
            "1.2.3-a-b",
            "v1.2.3",
        ] {
            assert!(!is_version(bad), "{bad}");
        }
        assert!(is_uuid("0f8fad5bd9cb469fa16570867728950e"));
        assert!(!is_uuid("dify-plugin-wasm"));
        assert!(is_name("workflow-runner", 128) && !is_name("Duck", 128) && !is_name("", 64));
    }
}
