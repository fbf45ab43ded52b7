//! Mock apps from a file (`--apps FILE`), TOML or JSON, for the command-line tool.
//!
//! ```toml
//! workspace = "my-workspace"        # the plugin's workspace (default: the demo one)
//!
//! [[app]]
//! id = "support-bot"
//! mode = "chat"                     # chat | agent-chat | advanced-chat | workflow | completion
//! name = "Support bot"
//! answer = "Have you tried turning it off and on again?"
//! # or: script = [{ event = "message", answer = "Hi" }], or: fail = "the model is down";
//! # none of them: echo
//!
//! [[app.input]]
//! variable = "name"
//! type = "text-input"               # text-input | paragraph | select | number
//! required = true
//! max_length = 48
//! ```
//!
//! Apps go to `workspace` unless they name their own (`workspace = "..."` in the app).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::app::{AppMode, Behaviour, InputField, MockApp};
use super::{DemoApps, MockDify};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppsFile {
    workspace: Option<String>,
    #[serde(default, rename = "app")]
    apps: Vec<AppEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppEntry {
    id: String,
    mode: AppMode,
    name: Option<String>,
    workspace: Option<String>,
    #[serde(default, rename = "input")]
    inputs: Vec<InputField>,
    answer: Option<String>,
    script: Option<Vec<Value>>,
    fail: Option<String>,
}

/// Why an apps file was refused.
#[derive(Debug, thiserror::Error)]
#[error("apps file {path}: {reason}")]
pub struct AppsFileError {
    /// The file.
    pub path: String,
    /// What is wrong, with the line for syntax errors.
    pub reason: String,
}

impl MockDify {
    /// A mock with the apps of a TOML (`.toml`) or JSON (`.json`) file. Returns the mock and
    /// the workspace the plugin should run in.
    pub fn from_file(path: &Path) -> Result<(MockDify, String), AppsFileError> {
        let fail = |reason: String| AppsFileError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let file: AppsFile = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => toml::from_str(&text).map_err(|e| fail(e.to_string()))?,
            Some("json") => serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?,
            _ => return Err(fail("expected a .toml or .json file".into())),
        };
        let workspace = file
            .workspace
            .unwrap_or_else(|| DemoApps::TENANT.to_owned());
        let mock = MockDify::new();
        mock.add_workspace(&workspace);
        for entry in file.apps {
            let behaviour = match (entry.answer, entry.script, entry.fail) {
                (None, None, None) => Behaviour::Echo,
                (Some(text), None, None) => Behaviour::Answer(text),
                (None, Some(events), None) => Behaviour::Script(events),
                (None, None, Some(message)) => Behaviour::Fail(message),
                _ => {
                    return Err(fail(format!(
                        "app '{}': give at most one of answer, script, fail",
                        entry.id
                    )));
                }
            };
            let tenant = entry.workspace.as_deref().unwrap_or(&workspace);
            let mut app = MockApp::new(tenant, &entry.id, entry.mode).behaviour(behaviour);
            if let Some(name) = entry.name {
                app = app.name(&name);
            }
            app.form = entry.inputs;
            mock.add_app(app).map_err(|e| fail(e.to_string()))?;
        }
        Ok((mock, workspace))
    }
}
