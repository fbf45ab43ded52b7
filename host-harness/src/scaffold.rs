//! A new plugin crate, ready to build for `wasm32-wasip2` outside this repository.
//!
//! What such a crate needs, and why it is written here rather than left to the author:
//!
//! - an empty `[workspace]` table: without it, a crate put inside another cargo workspace is
//!   refused as a member that workspace does not list;
//! - the guest profile ([`GUEST_PROFILE`]): profiles are per workspace, so a crate of its own
//!   does not get this repository's, and a default release build is several times larger;
//! - Dify's own files (`manifest.yaml`, one endpoint group, `_assets/icon.svg`), which the
//!   plugin daemon checks at registration: they are written to pass
//!   [`Declaration::load`](crate::daemon::declaration::Declaration::load), whose module says
//!   which rules the daemon applies and where;
//! - `.env.example` with the remote-debugging variables, and a `.gitignore` that keeps the
//!   key (`.env`) out of version control.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::build::GUEST_PROFILE;

/// Where the new crate takes the SDK (`dify-plugin`) from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// A local checkout of the SDK's crate folder (`guest-sdk/`).
    Path(PathBuf),
    /// A git repository holding the SDK crate, at `rev` or its default branch.
    Git {
        /// The repository's URL.
        url: String,
        /// A commit, tag or branch; `None` for the default branch.
        rev: Option<String>,
    },
}

/// This repository's SDK: the absolute path of `guest-sdk/` next to this crate.
pub fn default_sdk() -> SdkSource {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
    SdkSource::Path(path.canonicalize().unwrap_or(path))
}

/// What kind of plugin to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An endpoint that streams a chat app's events back (the Duck example's shape).
    Endpoint,
    /// A tool that asks a chat app and streams its answer as text (the ask-app example's shape).
    Tool,
}

/// Write a new plugin crate into `dir` (created if needed; an existing folder must be empty).
/// The folder's name becomes the crate's and the Dify plugin's name (and, for a tool plugin,
/// its provider's and its tool's). Returns the files written.
pub fn new_plugin(dir: &Path, sdk: &SdkSource, kind: Kind) -> Result<Vec<PathBuf>, String> {
    let name = plugin_name(dir)?;
    let mut dependency = sdk_dependency(sdk)?;
    prepare_dir(dir)?;

    let declaration = match kind {
        Kind::Endpoint => vec![(format!("group/{name}.yaml"), GROUP.replace("NAME", &name))],
        Kind::Tool => {
            dependency.push_str("\nserde = { version = \"1\", features = [\"derive\"] }");
            vec![
                (
                    format!("provider/{name}.yaml"),
                    PROVIDER.replace("NAME", &name),
                ),
                (format!("tools/{name}.yaml"), TOOL.replace("NAME", &name)),
            ]
        }
    };
    // The tool's template has Rust's own `NAME` (the `Tool` constant), so its placeholder differs.
    let lib = match kind {
        Kind::Endpoint => LIB_RS.replace("NAME", &name),
        Kind::Tool => TOOL_LIB_RS.replace("@NAME@", &name),
    };
    let mut files = vec![
        ("Cargo.toml".to_owned(), cargo_toml(&name, &dependency)),
        ("src/lib.rs".to_owned(), lib),
        (
            "manifest.yaml".to_owned(),
            manifest(&name, &created_at(), kind),
        ),
    ];
    files.extend(declaration);
    files.extend([
        ("_assets/icon.svg".to_owned(), ICON.to_owned()),
        (".env.example".to_owned(), ENV_EXAMPLE.to_owned()),
        (".gitignore".to_owned(), "target/\n.env\n".to_owned()),
    ]);
    let mut written = Vec::with_capacity(files.len());
    for (rel, content) in files {
        let path = dir.join(rel);
        write_new(&path, &content)?;
        written.push(path);
    }
    Ok(written)
}

/// The folder's name, if it is a valid crate and Dify plugin name.
fn plugin_name(dir: &Path) -> Result<String, String> {
    // An existing folder may be given as `.`: its real name is the one that counts.
    let resolved = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    let Some(name) = resolved.file_name().and_then(|n| n.to_str()) else {
        return Err(format!(
            "cannot take a plugin name from the folder {}: give a folder such as my-plugin",
            dir.display()
        ));
    };
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        return Err(format!(
            "the folder name '{name}' becomes the crate's and the Dify plugin's name, which must \
             match ^[a-z][a-z0-9_-]{{0,63}}$ (the daemon takes lower case only): rename it, e.g. \
             '{}'",
            suggest(name)
        ));
    }
    let crate_name = name.replace('-', "_");
    if RESERVED.contains(&crate_name.as_str()) {
        return Err(format!(
            "the folder name '{name}' cannot be a crate name (a Rust keyword, a standard crate \
             or the SDK's own name): choose another, e.g. '{name}-plugin'"
        ));
    }
    Ok(name.to_owned())
}

/// A name close to `name` that the rules accept.
fn suggest(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, "plugin-");
    }
    out.chars().take(64).collect()
}

/// Names cargo or rustc refuse as this crate's (with `-` read as `_`).
const RESERVED: &[&str] = &[
    "abstract",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
    "alloc",
    "core",
    "std",
    "proc_macro",
    "test",
    "dify_plugin",
];

/// The `dify-plugin = { ... }` line of `Cargo.toml`.
fn sdk_dependency(sdk: &SdkSource) -> Result<String, String> {
    match sdk {
        SdkSource::Path(path) => {
            // Absolute, so that the crate can be moved without losing the SDK.
            let path = std::path::absolute(path)
                .map_err(|e| format!("cannot resolve the SDK path {}: {e}", path.display()))?;
            if !path.join("Cargo.toml").is_file() {
                return Err(format!(
                    "the SDK path {} has no Cargo.toml: give the folder of the dify-plugin crate \
                     (guest-sdk/ in this repository)",
                    path.display()
                ));
            }
            let Some(text) = path.to_str() else {
                return Err(format!(
                    "the SDK path {} is not UTF-8, which Cargo.toml cannot hold",
                    path.display()
                ));
            };
            Ok(format!("dify-plugin = {{ path = {} }}", toml_string(text)))
        }
        SdkSource::Git { url, rev } => {
            if url.trim().is_empty() {
                return Err("the SDK's git URL is empty".into());
            }
            let rev = match rev {
                Some(rev) if !rev.trim().is_empty() => format!(", rev = {}", toml_string(rev)),
                _ => String::new(),
            };
            Ok(format!(
                "dify-plugin = {{ git = {}{rev} }}",
                toml_string(url)
            ))
        }
    }
}

/// Create `dir`, or check that the existing one is an empty folder.
fn prepare_dir(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!(
                    "refusing to write a plugin into {}: the folder is not empty (give a new or \
                     empty folder)",
                    dir.display()
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display())),
        Err(e) if dir.exists() && !dir.is_dir() => Err(format!(
            "refusing to write a plugin into {}: it is not a folder ({e})",
            dir.display()
        )),
        Err(e) => Err(format!("cannot read {}: {e}", dir.display())),
    }
}

/// Write a file that must not exist yet, creating its folder.
fn write_new(path: &Path, content: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(content.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn cargo_toml(name: &str, dependency: &str) -> String {
    format!(
        "[package]
name = \"{name}\"
version = \"0.1.0\"
edition = \"2024\"
publish = false

# A plugin is a WebAssembly component, built from a cdylib.
[lib]
crate-type = [\"cdylib\"]

[dependencies]
{dependency}

# A workspace of its own: the crate builds wherever it is put, never as a member of an
# enclosing workspace.
[workspace]

# Small components: cargo build --target wasm32-wasip2 --profile guest
# (`dify-plugin-host serve .` builds with the same profile).
{GUEST_PROFILE}"
    )
}

fn manifest(name: &str, created_at: &str, kind: Kind) -> String {
    let (what, permission, plugins) = match kind {
        Kind::Endpoint => (
            "an endpoint plugin",
            "\n    # Needed for a user to create the plugin's endpoints.\n    endpoint:\n      enabled: true",
            "endpoints:\n    - group/NAME.yaml",
        ),
        Kind::Tool => ("a tool plugin", "", "tools:\n    - provider/NAME.yaml"),
    };
    MANIFEST
        .replace("WHAT", what)
        .replace("\n    ENDPOINT_PERMISSION", permission)
        .replace("PLUGINS", plugins)
        .replace("NAME", name)
        .replace("CREATED_AT", created_at)
}

/// Now, as RFC 3339 in UTC, to the second.
fn created_at() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

const LIB_RS: &str = r#"//! NAME: a Dify endpoint plugin in Rust, built as a wasm32-wasip2 component.
//!
//! `GET /NAME/<app_id>?query=...` invokes the chat app `app_id` in streaming mode and sends each
//! event back as it arrives, one `{json} <br>` line each (the shape of the Duck example).
//! METHOD and PATH must be the endpoint of group/NAME.yaml: the host checks that they agree.

use dify_plugin::prelude::*;

struct Chat;

impl Endpoint for Chat {
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/NAME/<app_id>";

    fn invoke(req: Request, values: Values, _settings: Settings) -> Result<Response, Error> {
        // The app comes from the path pattern.
        let app_id = values.get("app_id")?;
        // Dify needs a query for chat apps; take it from `?query=` or say hello.
        let query = req.query("query").unwrap_or_else(|| "Hello!".to_owned());
        let conversation_id = req.query("conversation_id");

        let events = session()
            .app()
            .chat()
            .invoke(
                app_id,
                &query,
                json!({}),
                ResponseMode::Streaming,
                conversation_id.as_deref(),
                vec![],
            )?
            .into_stream()?;

        // Each event goes out as soon as it arrives.
        Ok(Response::stream(
            200,
            "text/html",
            events.map(|event| Ok(format!("{} <br>", event?))),
        ))
    }
}

dify_plugin::export_endpoints!(Chat);
"#;

const MANIFEST: &str = r#"# Dify's declaration of this plugin, as a Python plugin folder carries it: the host checks it
# with the plugin daemon's rules and sends it when it registers the plugin with Dify.
version: 0.1.0
type: plugin
author: dify-plugin-wasm
name: NAME
label:
  en_US: NAME
description:
  en_US: A Dify WHAT written in Rust and run as a WebAssembly component.
icon: icon.svg
created_at: CREATED_AT
resource:
  memory: 268435456
  permission:
    # Needed for every app call (the daemon refuses backwards invocations otherwise).
    app:
      enabled: true
    ENDPOINT_PERMISSION
plugins:
  PLUGINS
meta:
  version: 0.1.0
  arch: [amd64]
  runner:
    # The daemon accepts no other language; the host is launched through a Python shim.
    language: python
    version: "3.12"
    entrypoint: main
"#;

const GROUP: &str = r#"# The endpoint group: the settings form a Dify user fills in when creating the endpoint
# (secret-input, text-input, select, boolean, app-selector, model-selector, array[tools]),
# and the endpoints, exactly the METHOD and PATH of src/lib.rs.
settings: []
endpoints:
  - path: "/NAME/<app_id>"
    method: "GET"
"#;

const TOOL_LIB_RS: &str = r#"//! @NAME@: a Dify tool plugin in Rust, built as a wasm32-wasip2 component.
//!
//! The tool `@NAME@` asks the chat app its `app` parameter selects (an app-selector: the app and
//! the inputs the Dify user set) with its `question`, and streams the answer back as text
//! messages; the conversation id comes last, as the variable `conversation_id`. @NAME@ and the
//! Params fields must be the tool of tools/@NAME@.yaml: the host checks the name, and checks the
//! parameters Dify sends against the YAML before the tool runs.

use dify_plugin::event::EventKind;
use dify_plugin::prelude::*;
use serde::Deserialize;

/// The tool's parameters, as tools/@NAME@.yaml declares them.
#[derive(Deserialize)]
struct Params {
    app: AppSelector,
    question: String,
}

struct Ask;

impl Tool for Ask {
    const NAME: &'static str = "@NAME@";
    type Parameters = Params;

    fn invoke(params: Params, call: &ToolCall, out: &mut Messages) -> Result<(), Error> {
        let mut ask = session()
            .app()
            .chat()
            .call(&params.app.app_id)
            .query(params.question)
            .inputs(params.app.inputs);
        if !call.user_id().is_empty() {
            ask = ask.user(call.user_id());
        }
        for event in ask.invoke(ResponseMode::Streaming)?.into_stream()? {
            match event?.kind()? {
                // Each piece of the answer goes out as soon as it arrives.
                EventKind::Message(piece) | EventKind::AgentMessage(piece) => {
                    out.text(piece.answer)?;
                }
                EventKind::MessageEnd(end) => {
                    out.variable("conversation_id", &end.conversation_id)?;
                }
                EventKind::Error(error) => {
                    return Err(Error::msg(format!("the app failed: {}", error.message)));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

dify_plugin::export_tools!(Ask);
"#;

const PROVIDER: &str = r#"# The tool provider, what Dify lists under Tools: its identity, the credentials a Dify user
# enters once (credentials_for_provider: none here), and its tools.
identity:
  author: dify-plugin-wasm
  name: NAME
  label:
    en_US: NAME
  description:
    en_US: A Dify tool provider written in Rust.
  icon: icon.svg
tools:
  - tools/NAME.yaml
"#;

const TOOL: &str = r#"# The tool: what Dify's agents and workflow tool nodes see, and its parameters (type: string,
# number, boolean, select, app-selector, ...; form: llm (the model sets it), form (the user),
# schema), exactly the Params of src/lib.rs.
identity:
  author: dify-plugin-wasm
  name: NAME
  label:
    en_US: NAME
description:
  human:
    en_US: Asks a chat app of this workspace and streams its answer.
  llm: Asks another Dify app a question and returns its answer.
parameters:
  - name: app
    type: app-selector
    scope: chat
    required: true
    label:
      en_US: App
    human_description:
      en_US: The chat app to ask.
    form: form
  - name: question
    type: string
    required: true
    label:
      en_US: Question
    human_description:
      en_US: What to ask the app.
    llm_description: The question to ask the app, in full sentences.
    form: llm
"#;

const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <title>Dify plugin in WebAssembly</title>
  <rect x="2" y="2" width="60" height="60" rx="14" fill="#1c64f2"/>
  <path d="M14 22h8l3 14 4-14h6l4 14 3-14h8l-7 24h-7l-4-13-4 13h-7z" fill="#fff"/>
</svg>
"##;

const ENV_EXAMPLE: &str = "\
# Remote debugging: copy to .env and fill in. Both values are on Dify's Plugins page, under
# Debug (the key is valid for a while after it is shown; get a new one when it is refused).
REMOTE_INSTALL_URL=localhost:5003
REMOTE_INSTALL_KEY=
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::declaration::Declaration;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A temporary folder, removed on drop.
    struct Temp(PathBuf);

    impl Temp {
        fn new() -> Temp {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "dify-scaffold-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Temp(dir)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The files written, relative to `dir`, with `/` separators.
    fn relative(dir: &Path, written: Vec<PathBuf>) -> Vec<String> {
        written
            .iter()
            .map(|p| {
                p.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect()
    }

    #[test]
    fn a_new_plugin_loads_and_has_the_profile_and_the_sdk() {
        let temp = Temp::new();
        let dir = temp.0.join("my-plugin");
        let sdk = default_sdk();
        let names = relative(&dir, new_plugin(&dir, &sdk, Kind::Endpoint).unwrap());
        assert_eq!(
            names,
            [
                "Cargo.toml",
                "src/lib.rs",
                "manifest.yaml",
                "group/my-plugin.yaml",
                "_assets/icon.svg",
                ".env.example",
                ".gitignore"
            ]
        );

        let declaration = Declaration::load(&dir).unwrap();
        assert_eq!(declaration.name(), "my-plugin");
        assert_eq!(
            declaration.endpoints(),
            [("GET".to_owned(), "/my-plugin/<app_id>".to_owned())]
        );
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("const PATH: &'static str = \"/my-plugin/<app_id>\";"));

        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(cargo.contains(GUEST_PROFILE), "{cargo}");
        assert!(cargo.contains("name = \"my-plugin\""));
        assert!(cargo.contains("crate-type = [\"cdylib\"]"));
        assert!(cargo.contains("\n[workspace]\n"));
        let SdkSource::Path(sdk_path) = sdk else {
            panic!("the default SDK is a path");
        };
        assert!(sdk_path.is_absolute() && sdk_path.join("Cargo.toml").is_file());
        let line = format!(
            "dify-plugin = {{ path = {} }}",
            toml_string(sdk_path.to_str().unwrap())
        );
        assert!(cargo.contains(&line), "{cargo}");
        // The manifest is TOML that cargo can read.
        let parsed: toml::Table = toml::from_str(&cargo).unwrap();
        assert_eq!(parsed["profile"]["guest"]["opt-level"].as_str(), Some("s"));

        let env = std::fs::read_to_string(dir.join(".env.example")).unwrap();
        assert!(env.contains("REMOTE_INSTALL_URL=localhost:5003\nREMOTE_INSTALL_KEY=\n"));
        let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
        assert_eq!(ignore, "target/\n.env\n");
    }

    #[test]
    fn a_new_tool_plugin_declares_its_tool_and_checks_its_parameters() {
        let temp = Temp::new();
        let dir = temp.0.join("ask-it");
        let names = relative(&dir, new_plugin(&dir, &default_sdk(), Kind::Tool).unwrap());
        assert_eq!(
            names,
            [
                "Cargo.toml",
                "src/lib.rs",
                "manifest.yaml",
                "provider/ask-it.yaml",
                "tools/ask-it.yaml",
                "_assets/icon.svg",
                ".env.example",
                ".gitignore"
            ]
        );
        let declaration = Declaration::load(&dir).unwrap();
        assert!(declaration.endpoint_group.is_none());
        let provider = declaration.tool_provider().expect("a tool provider");
        assert_eq!(provider.name, "ask-it");
        let tool = provider.tool("ask-it").expect("the tool");
        declaration.check_tools(&["ask-it".to_owned()]).unwrap();
        let params = serde_json::json!({"app": {"app_id": "a", "inputs": {}}, "question": "hi"});
        assert!(tool.check_parameters(params.as_object().unwrap()).is_ok());
        let missing = tool.check_parameters(&serde_json::Map::new()).unwrap_err();
        assert_eq!(missing.len(), 2, "{missing:?}");

        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("const NAME: &'static str = \"ask-it\";"));
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let parsed: toml::Table = toml::from_str(&cargo).unwrap();
        assert!(parsed["dependencies"].get("serde").is_some(), "{cargo}");
        let manifest = std::fs::read_to_string(dir.join("manifest.yaml")).unwrap();
        assert!(!manifest.contains("endpoint:"), "{manifest}");
    }

    #[test]
    fn a_git_sdk_and_the_refusals() {
        let temp = Temp::new();
        let dir = temp.0.join("from_git");
        let sdk = SdkSource::Git {
            url: "https://example.com/dify-plugin-wasm.git".into(),
            rev: Some("v0.1.0".into()),
        };
        new_plugin(&dir, &sdk, Kind::Endpoint).unwrap();
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(cargo.contains(
            "dify-plugin = { git = \"https://example.com/dify-plugin-wasm.git\", rev = \"v0.1.0\" }"
        ));
        Declaration::load(&dir).unwrap();

        // Not empty (the plugin just written).
        let error = new_plugin(&dir, &sdk, Kind::Endpoint).unwrap_err();
        assert!(error.contains("not empty"), "{error}");
        // Names the daemon or cargo refuse.
        let error = new_plugin(&temp.0.join("MyPlugin"), &sdk, Kind::Endpoint).unwrap_err();
        assert!(error.contains("'myplugin'"), "{error}");
        let error = new_plugin(&temp.0.join("fn"), &sdk, Kind::Endpoint).unwrap_err();
        assert!(error.contains("keyword"), "{error}");
        assert!(!temp.0.join("MyPlugin").exists() && !temp.0.join("fn").exists());
        // An SDK path without a crate.
        let error = new_plugin(
            &temp.0.join("lost"),
            &SdkSource::Path(temp.0.clone()),
            Kind::Endpoint,
        )
        .unwrap_err();
        assert!(error.contains("has no Cargo.toml"), "{error}");
        // A file in the way.
        std::fs::write(temp.0.join("file"), "x").unwrap();
        let error = new_plugin(&temp.0.join("file"), &sdk, Kind::Endpoint).unwrap_err();
        assert!(error.contains("not a folder"), "{error}");
    }

    #[test]
    fn created_at_is_rfc_3339() {
        let now = created_at();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
        assert_eq!(toml_string("a\nb"), "\"a\\u000Ab\"");
    }
}
