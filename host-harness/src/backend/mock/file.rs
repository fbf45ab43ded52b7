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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{AppError, AppKind, AppRequest, Backend, CallContext, ResponseMode};
    use serde_json::Map;

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn call(mock: &MockDify, tenant: &str, app_id: &str, inputs: Value) -> Result<(), AppError> {
        let ctx = CallContext {
            tenant_id: tenant.into(),
            user_id: String::new(),
        };
        let req = AppRequest {
            kind: AppKind::Workflow,
            app_id: app_id.into(),
            query: None,
            inputs: inputs.as_object().cloned().unwrap_or_else(Map::new),
            conversation_id: None,
            files: Vec::new(),
            user: None,
            response_mode: ResponseMode::Blocking,
        };
        mock.invoke(&ctx, req).map(drop)
    }

    #[test]
    fn the_example_apps_file_loads_with_its_forms_and_workspaces() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/apps.toml");
        let (mock, workspace) = MockDify::from_file(&path).unwrap();
        assert_eq!(workspace, "0c0ffee0-0000-4000-8000-000000000001");
        assert!(
            call(
                &mock,
                &workspace,
                "greeter",
                serde_json::json!({"name": "Ada"})
            )
            .is_ok()
        );
        match call(&mock, &workspace, "greeter", serde_json::json!({})) {
            Err(AppError::InvalidRequest(d)) => {
                assert_eq!(d.message, "name is required in input form")
            }
            other => panic!("{other:?}"),
        }
        // An app of the file's other workspace is out of reach.
        assert!(matches!(
            call(&mock, &workspace, "elsewhere", serde_json::json!({})),
            Err(AppError::NotFound(_))
        ));
    }

    #[test]
    fn json_files_use_the_same_keys() {
        let path = temp_file(
            "apps.json",
            r#"{"app": [{"id": "a", "mode": "workflow", "answer": "hi"}]}"#,
        );
        let (mock, workspace) = MockDify::from_file(&path).unwrap();
        assert_eq!(workspace, DemoApps::TENANT);
        assert!(call(&mock, &workspace, "a", serde_json::json!({})).is_ok());
    }

    #[test]
    fn mistakes_are_named_with_the_file_and_the_app() {
        let two = temp_file(
            "two.toml",
            "[[app]]\nid = \"x\"\nmode = \"chat\"\nanswer = \"a\"\nfail = \"b\"\n",
        );
        let err = MockDify::from_file(&two).unwrap_err().to_string();
        assert!(
            err.ends_with("app 'x': give at most one of answer, script, fail"),
            "{err}"
        );

        let typo = temp_file(
            "typo.toml",
            "[[app]]\nid = \"x\"\nmode = \"chat\"\nanswr = \"a\"\n",
        );
        let err = MockDify::from_file(&typo).unwrap_err().to_string();
        assert!(err.contains("unknown field `answr`"), "{err}");
        assert!(err.contains("line 4"), "{err}");

        let mode = temp_file("mode.toml", "[[app]]\nid = \"x\"\nmode = \"chatbot\"\n");
        let err = MockDify::from_file(&mode).unwrap_err().to_string();
        assert!(err.contains("unknown variant `chatbot`"), "{err}");
    }
}
