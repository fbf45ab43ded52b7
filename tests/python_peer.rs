//! The real Python plugin SDK (dify-plugin 0.10.2) against the same fake daemon, in
//! remote-debug mode, then the Rust host answering the same requests, compared: the vendored
//! endpoint plugin `tests/python/endpoint-plugin/` beside Duck, and the Python twin of the tool
//! probe (`tests/python/tool-plugin/`, with the Rust plugin's own YAML files) beside it.
//!
//! Needs `DIFY_PLUGIN_PYTHON` (the venv's python, `tests/python/setup.sh | tail -1`); without a
//! usable one the tests say so and pass.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dify_plugin_host::daemon::declaration::Declaration;
use dify_plugin_host::mock::DemoApps;
use serde_json::{Value, json};

use crate::daemon::{
    KEY, SCRIPTED, attach, daemon_plugin, duck_declaration, mock_with_script, scripted_events,
};
use crate::fake_daemon::{FakeDaemon, HttpAnswer, raw_request};
use crate::support::{demo, workspace_root};

const T: Duration = Duration::from_secs(30);

/// The venv's python, if set and it has the SDK.
fn python() -> Option<PathBuf> {
    let Some(python) = std::env::var_os("DIFY_PLUGIN_PYTHON").map(PathBuf::from) else {
        eprintln!(
            "skipping: DIFY_PLUGIN_PYTHON is not set (DIFY_PLUGIN_PYTHON=$(tests/python/setup.sh | tail -1))"
        );
        return None;
    };
    let usable = Command::new(&python)
        .args(["-c", "import dify_plugin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        eprintln!("skipping: {} cannot import dify_plugin", python.display());
        return None;
    }
    Some(python)
}

/// The Python plugin's process, killed on drop.
struct PythonPlugin {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl PythonPlugin {
    fn spawn(python: &PathBuf, daemon: &FakeDaemon, dir: &Path) -> PythonPlugin {
        let mut child = Command::new(python)
            .args(["-m", "main"])
            .current_dir(dir)
            .env("INSTALL_METHOD", "remote")
            .env("REMOTE_INSTALL_URL", daemon.addr().to_string())
            .env("REMOTE_INSTALL_KEY", KEY)
            .env_remove("REMOTE_INSTALL_HOST")
            .env_remove("REMOTE_INSTALL_PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("launch the Python plugin");
        let output = Arc::new(Mutex::new(String::new()));
        let pipes: Vec<Box<dyn Read + Send>> = vec![
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for mut pipe in pipes {
            let output = output.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    output
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        PythonPlugin { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }
}

impl Drop for PythonPlugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `data: {json}\n\n` events.
fn sse_events(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter(|s| !s.is_empty())
        .map(|s| {
            let data = s.strip_prefix("data: ").unwrap_or_else(|| panic!("{s:?}"));
            serde_json::from_str(data).unwrap()
        })
        .collect()
}

fn duck_events(body: &str) -> Vec<Value> {
    body.split(" <br>")
        .filter(|s| !s.is_empty())
        .map(|s| serde_json::from_str(s).unwrap())
        .collect()
}

fn get(daemon: &FakeDaemon, target: &str, settings: &Value) -> HttpAnswer {
    daemon
        .request(raw_request("GET", target, &[], b""), settings.clone())
        .answer(T)
}

#[test]
fn python_sdk_registers_and_serves_over_the_fake_daemon_as_the_host_does() {
    let Some(python) = python() else {
        return;
    };
    let mock = mock_with_script();
    let settings = json!({"app": {"app_id": SCRIPTED}});

    // The Python SDK.
    let py_daemon = FakeDaemon::start(&[KEY], mock.clone(), DemoApps::TENANT);
    let py = PythonPlugin::spawn(
        &python,
        &py_daemon,
        &workspace_root().join("tests/python/endpoint-plugin"),
    );
    assert!(
        py_daemon.wait_registrations(1, Duration::from_secs(60)),
        "refusals {:?}; python said: {}",
        py_daemon.refusals(),
        py.output()
    );
    let reg = &py_daemon.registrations()[0];
    assert_eq!(reg.manifest["name"], "wasm_shim_probe");
    let paths: Vec<&str> = reg.endpoint_group["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/chat/<app_id>", "/ping"]);
    assert!(reg.assets.contains_key("icon.svg"));

    let ping = get(&py_daemon, "/ping", &settings);
    assert_eq!(ping.status, 200, "{}", py.output());
    assert_eq!(ping.text(), "pong");
    assert!(
        ping.header("Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );

    let chat = py_daemon
        .request(
            raw_request(
                "POST",
                "/chat/x",
                &[("Content-Type", "application/json")],
                br#"{"query":"hi"}"#,
            ),
            settings.clone(),
        )
        .answer(T);
    assert_eq!(chat.status, 200, "{}: {}", chat.text(), py.output());
    assert!(!chat.cut);
    assert!(
        chat.header("Content-Type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    // json.dumps of the event as the daemon encoded it (Go's key order).
    assert!(
        chat.text()
            .starts_with("data: {\"answer\": \"Hel\", \"event\": \"message\"}\n\n"),
        "{}",
        chat.text()
    );
    let py_events = sse_events(&chat.text());
    assert_eq!(py_events, scripted_events());
    let py_nope = get(&py_daemon, "/nope", &settings);
    assert_eq!(py_nope.status, 404);

    // The Rust host, Duck, the same app through its own fake daemon.
    let rust_daemon = FakeDaemon::start(&[KEY], mock.clone(), DemoApps::TENANT);
    let _ = attach(
        &rust_daemon,
        daemon_plugin("duck", None),
        duck_declaration(),
        KEY,
        false,
    );
    assert!(rust_daemon.wait_registrations(1, T));
    let duck = get(
        &rust_daemon,
        &format!("/duck/{SCRIPTED}?query=hi"),
        &settings,
    );
    assert_eq!(duck.status, chat.status);
    assert!(!duck.cut);
    assert_eq!(duck_events(&duck.text()), py_events);
    // The app call: byte for byte the same request.
    let py_invoke = &py_daemon.invokes()[0];
    let rust_invoke = &rust_daemon.invokes()[0];
    assert_eq!(py_invoke["type"], rust_invoke["type"]);
    assert_eq!(
        py_invoke["request"].to_string(),
        rust_invoke["request"].to_string()
    );
    // An unrouted path: the same status and Content-Type.
    let rust_nope = get(&rust_daemon, "/nope", &settings);
    assert_eq!(rust_nope.status, py_nope.status);
    assert_eq!(
        rust_nope.header("Content-Type"),
        py_nope.header("Content-Type"),
        "python {:?}, rust {:?}",
        py_nope.headers,
        rust_nope.headers
    );
    // The Python plugin kept its connection; it heartbeats on its own clock (10 s).
    assert!(py_daemon.refusals().is_empty());
}

/// The Python twin of the tool probe: its sources beside the Rust plugin's declaration files,
/// in a folder of the target directory.
fn tool_twin() -> PathBuf {
    let rust = workspace_root().join("tests/plugins/tool-probe");
    let python = workspace_root().join("tests/python/tool-plugin");
    let dir = crate::daemon::target_dir().join("python-tool-plugin");
    let _ = std::fs::remove_dir_all(&dir);
    for (from, files) in [
        (
            &rust,
            &[
                "manifest.yaml",
                "provider/probe.yaml",
                "tools/echo.yaml",
                "tools/fail.yaml",
                "_assets/icon.svg",
            ][..],
        ),
        (
            &python,
            &[
                "main.py",
                "provider/probe.py",
                "tools/echo.py",
                "tools/fail.py",
            ][..],
        ),
    ] {
        for file in files {
            let to = dir.join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from.join(file), &to).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }
    dir
}

/// A tool session's answer, the random id of each file's pieces replaced.
fn tool_answer(daemon: &FakeDaemon, action: &str, fields: Value) -> crate::fake_daemon::ToolAnswer {
    let mut answer = daemon.tool_request(action, fields).tool_answer(T);
    for chunk in &mut answer.stream {
        if chunk["type"] == "blob_chunk" {
            chunk["message"]["id"] = json!("<id>");
        }
    }
    answer
}

#[test]
fn python_sdk_tool_plugin_declares_and_answers_as_the_host_does() {
    let Some(python) = python() else {
        return;
    };
    let py_daemon = FakeDaemon::start(&[KEY], demo(), DemoApps::TENANT);
    let py = PythonPlugin::spawn(&python, &py_daemon, &tool_twin());
    assert!(
        py_daemon.wait_registrations(1, Duration::from_secs(60)),
        "refusals {:?}; python said: {}",
        py_daemon.refusals(),
        py.output()
    );
    let rs_daemon = FakeDaemon::start(&[KEY], demo(), DemoApps::TENANT);
    let declaration =
        Declaration::load(&workspace_root().join("tests/plugins/tool-probe")).unwrap();
    let _ = attach(
        &rs_daemon,
        daemon_plugin("tool-probe", None),
        declaration,
        KEY,
        false,
    );
    assert!(
        rs_daemon.wait_registrations(1, T),
        "{:?}",
        rs_daemon.refusals()
    );

    // The same declaration, field for field.
    let (py_reg, rs_reg) = (
        py_daemon.registrations().remove(0),
        rs_daemon.registrations().remove(0),
    );
    assert_eq!(rs_reg.tool_provider, py_reg.tool_provider);
    let kinds = |r: &crate::fake_daemon::Registration| -> Vec<String> {
        r.messages
            .iter()
            .map(|m| m["type"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(kinds(&rs_reg), kinds(&py_reg));

    // The same messages, file pieces included.
    let echo = json!({
        "provider": "probe",
        "tool": "echo",
        "credentials": {"api_key": "sesame"},
        "credential_type": "api-key",
        "tool_parameters": {"text": "hello wasm", "count": 2, "mode": "files"},
    });
    let (py_echo, rs_echo) = (
        tool_answer(&py_daemon, "invoke_tool", echo.clone()),
        tool_answer(&rs_daemon, "invoke_tool", echo),
    );
    assert_eq!(py_echo.error, None, "python said: {}", py.output());
    assert_eq!(rs_echo.stream, py_echo.stream);
    assert_eq!(rs_echo.error, None);

    // The same refusal of wrong credentials; the Python error also carries its traceback.
    let wrong = json!({"provider": "probe", "credentials": {"api_key": "open"}});
    let py_refused = py_daemon
        .tool_request("validate_tool_credentials", wrong.clone())
        .validation_answer(T)
        .unwrap_err();
    let rs_refused = rs_daemon
        .tool_request("validate_tool_credentials", wrong)
        .validation_answer(T)
        .unwrap_err();
    for field in ["error_type", "message"] {
        assert_eq!(rs_refused[field], py_refused[field], "{field}");
    }

    // A failure after a message: the message, then the error with the same text (its type is
    // the exception's class name in Python, what happened in the host).
    let fail = json!({"provider": "probe", "tool": "fail", "credentials": {}, "tool_parameters": {"how": "error"}});
    let (py_fail, rs_fail) = (
        tool_answer(&py_daemon, "invoke_tool", fail.clone()),
        tool_answer(&rs_daemon, "invoke_tool", fail),
    );
    assert_eq!(rs_fail.stream, py_fail.stream);
    let (py_error, rs_error) = (py_fail.error.unwrap(), rs_fail.error.unwrap());
    assert_eq!(rs_error["message"], py_error["message"]);
    assert_eq!(
        (
            py_error["error_type"].as_str(),
            rs_error["error_type"].as_str()
        ),
        (Some("Exception"), Some("ToolInvokeError"))
    );
}
