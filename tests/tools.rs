//! Tool plugins: `examples/ask-app` and the `tool-probe` test plugin, through the library,
//! through the fake daemon (remote debugging and the local runtime over stdio), and through
//! `dify-plugin-host tool`.
//!
//! What Dify's daemon receives is checked with the fake daemon's own rules, written from the
//! daemon's source (`check_tool_provider`, `check_tool_chunk`), and the messages against the
//! shapes the Python SDK sends (`dify_plugin` 0.10.2's `ToolInvokeMessage`).

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use dify_plugin_host::daemon::declaration::Declaration;
use dify_plugin_host::mock::DemoApps;
use dify_plugin_host::{PluginFailure, ToolMessage, ToolRequest};
use serde_json::{Value, json};

use crate::daemon::{KEY, attach, daemon_plugin, host_binary};
use crate::fake_daemon::{FakeDaemon, ToolAnswer};
use crate::support::{demo, load, workspace_root};

const T: Duration = Duration::from_secs(30);

fn app(id: &str, inputs: Value) -> Value {
    json!({"app_id": id, "inputs": inputs, "files": []})
}

fn messages(response: dify_plugin_host::ToolResponse) -> Vec<Value> {
    response
        .messages()
        .expect("the tool's messages")
        .into_iter()
        .map(ToolMessage::into_json)
        .collect()
}

fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["type"] == "text")
        .map(|m| m["message"]["text"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The library

#[test]
fn ask_app_streams_a_chat_apps_answer_as_text_then_its_conversation_id() {
    let plugin = load("ask-app", &demo());
    assert_eq!(plugin.tools(), ["ask_app"]);
    assert!(plugin.routes().is_empty(), "a tool plugin has no endpoints");
    let request = ToolRequest::new("ask_app")
        .param("app", app(DemoApps::AGENT, json!({})))
        .param("question", "What are ducks?");
    let messages = messages(plugin.invoke_tool(request));
    let texts = texts(&messages);
    assert!(texts.len() > 1, "the answer streams in pieces: {texts:?}");
    assert_eq!(texts.concat(), "Ducks are waterfowl.");
    let last = messages.last().unwrap();
    assert_eq!(last["type"], "variable");
    assert_eq!(last["message"]["variable_name"], "conversation_id");
    assert_eq!(last["message"]["stream"], false);
    assert_eq!(
        last["message"]["variable_value"].as_str().map(str::len),
        Some(36),
        "a conversation id: {last}"
    );
}

#[test]
fn ask_app_returns_a_workflows_outputs_as_json_and_its_run_id() {
    let plugin = load("ask-app", &demo());
    let request =
        ToolRequest::new("ask_app").param("app", app(DemoApps::WORKFLOW, json!({"name": "Ada"})));
    let messages = messages(plugin.invoke_tool(request));
    assert_eq!(messages.len(), 2, "{messages:?}");
    // The Greeter echoes its inputs as its outputs.
    assert_eq!(
        messages[0],
        json!({"type": "json", "message": {"json_object": {"name": "Ada"}}, "meta": null})
    );
    assert_eq!(messages[1]["message"]["variable_name"], "workflow_run_id");
}

#[test]
fn a_tool_cannot_tell_another_workspaces_app_from_one_that_does_not_exist() {
    let plugin = load("ask-app", &demo());
    let ask = |id: &str| {
        let request = ToolRequest::new("ask_app").param("app", app(id, json!({})));
        match plugin.invoke_tool(request).messages() {
            Err(PluginFailure::Handler(text)) => text.replace(id, "<id>"),
            other => panic!("not a failure: {other:?}"),
        }
    };
    let elsewhere = ask(DemoApps::OTHER_WORKSPACE_WORKFLOW);
    assert!(elsewhere.contains("not found"), "{elsewhere}");
    assert_eq!(elsewhere, ask("00000000-0000-4000-8000-00000000dead"));
}

#[test]
fn a_tools_failure_comes_after_the_messages_it_wrote() {
    let plugin = load("tool-probe", &demo());
    let mut response = plugin.invoke_tool(ToolRequest::new("fail").param("how", "error"));
    let first = response.next().unwrap().unwrap();
    assert_eq!(first.text(), Some("before the failure"));
    assert_eq!(
        response.next().unwrap().unwrap_err(),
        PluginFailure::Handler("it failed on purpose".into())
    );
    assert!(response.next().is_none());
}

#[test]
fn the_provider_checks_credentials() {
    let plugin = load("tool-probe", &demo());
    let credentials = |key: &str| {
        let mut map = serde_json::Map::new();
        map.insert("api_key".into(), json!(key));
        map
    };
    assert_eq!(plugin.validate_credentials(credentials("sesame")), Ok(()));
    match plugin.validate_credentials(credentials("open")) {
        Err(PluginFailure::InvalidCredentials(text)) => {
            assert!(text.contains("'open' is not the probe's"), "{text}")
        }
        other => panic!("accepted: {other:?}"),
    }
    match plugin.validate_credentials(serde_json::Map::new()) {
        Err(PluginFailure::InvalidCredentials(text)) => {
            assert!(text.contains("'api_key' is missing"), "{text}")
        }
        other => panic!("accepted: {other:?}"),
    }
    // A plugin without a provider of its own accepts any.
    let ask = load("ask-app", &demo());
    assert_eq!(ask.validate_credentials(credentials("anything")), Ok(()));
}

#[test]
fn an_unknown_tool_is_refused_without_running_the_plugin() {
    let plugin = load("tool-probe", &demo());
    match plugin.invoke_tool(ToolRequest::new("nope")).messages() {
        Err(PluginFailure::UnknownTool(text)) => {
            assert_eq!(
                text,
                "plugin tool_probe has no tool 'nope'; it has: echo, fail"
            )
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Through the daemon

fn probe_declaration() -> Declaration {
    Declaration::load(&workspace_root().join("tests/plugins/tool-probe"))
        .expect("the probe's files")
}

/// The probe registered on a fake daemon by remote debugging.
fn probe_daemon() -> FakeDaemon {
    let daemon = FakeDaemon::start(&[KEY], demo(), DemoApps::TENANT);
    let plugin = daemon_plugin("tool-probe", None);
    let _ = attach(&daemon, plugin, probe_declaration(), KEY, false);
    assert!(
        daemon.wait_registrations(1, T),
        "no registration: {:?}",
        daemon.refusals()
    );
    daemon
}

fn invoke(daemon: &FakeDaemon, tool: &str, parameters: Value) -> ToolAnswer {
    let fields = json!({
        "provider": "probe",
        "tool": tool,
        "credentials": {"api_key": "sesame"},
        "credential_type": "api-key",
        "tool_parameters": parameters,
    });
    daemon.tool_request("invoke_tool", fields).tool_answer(T)
}

#[test]
fn a_tool_plugin_registers_its_provider_as_the_python_sdk_does() {
    let daemon = probe_daemon();
    let registration = daemon.registrations().remove(0);
    let kinds: Vec<&str> = registration
        .messages
        .iter()
        .map(|m| m["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "handshake",
            "manifest_declaration",
            "tool_declaration",
            "asset_chunk",
            "end"
        ]
    );
    let provider = &registration.tool_provider;
    assert_eq!(provider["identity"]["name"], "probe");
    // The SDK's i18n fill-in, and the credentials as a list with their names.
    assert_eq!(provider["identity"]["label"]["zh_Hans"], "Probe");
    assert_eq!(provider["credentials_schema"][0]["name"], "api_key");
    assert_eq!(provider["credentials_schema"][0]["type"], "secret-input");
    let tools: Vec<&str> = provider["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["identity"]["name"].as_str().unwrap())
        .collect();
    // Kept by the daemon: none was dropped for a field of the wrong JSON type.
    assert_eq!(tools, ["echo", "fail"]);
    let count = &provider["tools"][0]["parameters"][1];
    assert_eq!(
        (count["name"].as_str(), count["min"].as_f64()),
        (Some("count"), Some(1.0))
    );
}

#[test]
fn invoke_tool_streams_the_messages_the_python_sdk_would_send() {
    let daemon = probe_daemon();
    let answer = invoke(
        &daemon,
        "echo",
        json!({"text": "hello wasm", "count": 2, "mode": "files"}),
    );
    assert_eq!(answer.error, None);
    let stream = &answer.stream;
    assert_eq!(
        stream[0],
        json!({"type": "text", "message": {"text": "hello wasm"}, "meta": null})
    );
    assert_eq!(stream[1], stream[0]);
    assert_eq!(stream[2]["type"], "json");
    assert_eq!(
        stream[2]["message"]["json_object"]["credentials"],
        json!(["api_key"])
    );
    assert_eq!(stream[2]["message"]["json_object"]["user_id"], "bench-user");
    assert_eq!(
        stream[3],
        json!({"type": "link", "message": {"text": "https://dify.ai"}, "meta": null})
    );
    assert_eq!(stream[4]["type"], "image");
    assert_eq!(
        stream[5],
        json!({"type": "variable", "message": {"variable_name": "echoed", "variable_value": "hello wasm", "stream": false}, "meta": null})
    );
    let pieces: Vec<&str> = stream[6..8]
        .iter()
        .map(|m| {
            assert_eq!(m["message"]["stream"], true);
            m["message"]["variable_value"].as_str().unwrap()
        })
        .collect();
    assert_eq!(pieces, ["hello ", "wasm"]);
    // The file: 8,192-byte pieces, then the end, the metadata on each, as the SDK sends it.
    let blob: Vec<&Value> = stream[8..].iter().collect();
    assert_eq!(blob.len(), 3);
    let mut bytes = Vec::new();
    for (i, chunk) in blob.iter().enumerate() {
        assert_eq!(chunk["type"], "blob_chunk");
        assert_eq!(
            chunk["meta"],
            json!({"mime_type": "application/octet-stream"})
        );
        assert_eq!(chunk["message"]["sequence"], i);
        assert_eq!(chunk["message"]["total_length"], 10_000);
        assert_eq!(chunk["message"]["end"], i == 2);
        let piece = base64::engine::general_purpose::STANDARD
            .decode(chunk["message"]["blob"].as_str().unwrap())
            .unwrap();
        bytes.extend(piece);
    }
    let expected: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(bytes, expected);
}

#[test]
fn parameters_are_checked_against_the_tools_yaml_before_the_plugin_runs() {
    let daemon = probe_daemon();
    let refused = |parameters: Value| {
        let answer = invoke(&daemon, "echo", parameters);
        assert!(
            answer.stream.is_empty(),
            "the plugin ran: {:?}",
            answer.stream
        );
        let error = answer.error.expect("an error");
        assert_eq!(error["error_type"], "ToolParameterValidationError");
        error["message"].as_str().unwrap().to_owned()
    };
    let missing = refused(json!({"count": 1}));
    assert!(
        missing
            .contains("parameter text is missing, but it is declared required in tools/echo.yaml"),
        "{missing}"
    );
    assert!(refused(json!({"text": ""})).contains("parameter text is missing"));
    let mistyped = refused(json!({"text": "a", "count": "two"}));
    assert!(
        mistyped.contains("parameter count") && mistyped.contains("\"two\""),
        "{mistyped}"
    );
    let too_many = refused(json!({"text": "a", "count": 9}));
    assert!(
        too_many.contains("parameter count") && too_many.contains('5'),
        "{too_many}"
    );
    let option = refused(json!({"text": "a", "mode": "loud"}));
    assert!(
        option.contains("plain") && option.contains("files"),
        "{option}"
    );
    let selector = refused(json!({"text": "a", "app": "chat"}));
    assert!(selector.contains("app_id"), "{selector}");
    // An absent optional parameter gets its declared default.
    let answer = invoke(&daemon, "echo", json!({"text": "once"}));
    assert_eq!(texts(&answer.stream), ["once"]);
    assert_eq!(answer.stream[1]["message"]["json_object"]["count"], 1.0);
}

#[test]
fn a_failing_tool_reaches_dify_as_an_error_after_its_messages() {
    let daemon = probe_daemon();
    for (how, error_type, says) in [
        ("error", "ToolInvokeError", "it failed on purpose"),
        (
            "parameters",
            "ToolParameterValidationError",
            "the text must not be empty",
        ),
        (
            "credentials",
            "ToolProviderCredentialValidationError",
            "the API key has expired",
        ),
        ("panic", "PluginFailure", "the probe panics on purpose"),
        (
            "reserved",
            "ToolInvokeError",
            "the variable name 'text' is Dify's own",
        ),
    ] {
        let answer = invoke(&daemon, "fail", json!({"how": how}));
        assert_eq!(texts(&answer.stream), ["before the failure"], "{how}");
        let error = answer.error.unwrap_or_else(|| panic!("{how}: no error"));
        assert_eq!(error["error_type"], error_type, "{how}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{how}: {error}"
        );
        assert_eq!(error["args"], json!({}));
    }
}

#[test]
fn credentials_are_validated_through_the_daemon() {
    let daemon = probe_daemon();
    let validate = |key: &str| {
        let fields = json!({"provider": "probe", "credentials": {"api_key": key}});
        daemon
            .tool_request("validate_tool_credentials", fields)
            .validation_answer(T)
    };
    assert_eq!(validate("sesame"), Ok(true));
    let refused = validate("open").unwrap_err();
    assert_eq!(
        refused["error_type"],
        "ToolProviderCredentialValidationError"
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("is not the probe's")
    );
}

#[test]
fn requests_for_another_provider_an_unknown_tool_or_action_are_errors() {
    let daemon = probe_daemon();
    let other = daemon
        .tool_request("invoke_tool", json!({"provider": "other", "tool": "echo"}))
        .tool_answer(T);
    assert_eq!(
        other.error.unwrap()["message"],
        "Provider `other` not found: this plugin's provider is `probe`"
    );
    let unknown = invoke(&daemon, "nope", json!({}));
    let error = unknown.error.unwrap();
    assert_eq!(error["error_type"], "ValueError");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("has no tool 'nope'; it has: echo, fail")
    );
    let runtime = daemon
        .tool_request(
            "get_tool_runtime_parameters",
            json!({"provider": "probe", "tool": "echo"}),
        )
        .tool_answer(T);
    assert_eq!(runtime.error.unwrap()["error_type"], "NotSupportedError");
}

#[test]
fn a_tools_app_calls_are_backwards_invocations_of_its_session() {
    let daemon = FakeDaemon::start(&[KEY], demo(), DemoApps::TENANT);
    let declaration =
        Declaration::load(&workspace_root().join("examples/ask-app")).expect("ask-app's files");
    let _ = attach(
        &daemon,
        daemon_plugin("ask-app", None),
        declaration,
        KEY,
        false,
    );
    assert!(daemon.wait_registrations(1, T), "{:?}", daemon.refusals());
    let fields = json!({
        "provider": "ask_app",
        "tool": "ask_app",
        "credentials": {},
        "tool_parameters": {"app": app(DemoApps::CHATBOT, json!({})), "question": "hi"},
    });
    let answer = daemon.tool_request("invoke_tool", fields).tool_answer(T);
    assert_eq!(answer.error, None);
    assert_eq!(texts(&answer.stream).concat(), "You said: hi");
    let invokes = daemon.invokes();
    assert_eq!(invokes.len(), 1);
    assert_eq!(invokes[0]["request"]["app_id"], DemoApps::CHATBOT);
    assert_eq!(
        invokes[0]["request"]["user"], "bench-user",
        "the tool's user goes with its call"
    );
}

#[test]
fn the_local_runtime_serves_tools_with_their_declaration() {
    let Some(bin) = host_binary() else {
        return;
    };
    let mut command = Command::new(bin);
    command
        .arg("run")
        .arg(workspace_root().join("tests/plugins/tool-probe"))
        .arg("--stdio");
    let daemon = FakeDaemon::spawn_stdio(command, demo(), DemoApps::TENANT);
    assert!(daemon.wait_ready(T), "not ready: {}", daemon.stderr());
    let answer = invoke(&daemon, "echo", json!({"text": "stdio"}));
    assert_eq!(answer.error, None, "{}", daemon.stderr());
    assert_eq!(texts(&answer.stream), ["stdio"]);
    // Checked against the YAML there too.
    let missing = invoke(&daemon, "echo", json!({}));
    assert_eq!(
        missing.error.unwrap()["error_type"],
        "ToolParameterValidationError"
    );
}

// ---------------------------------------------------------------------------------------------
// The command line

#[test]
fn dify_plugin_host_tool_prints_the_messages_as_the_daemon_receives_them() {
    let Some(bin) = host_binary() else {
        return;
    };
    let run = |args: &[&str]| {
        Command::new(&bin)
            .arg("tool")
            .arg(workspace_root().join("examples/ask-app"))
            .args(args)
            .output()
            .expect("run dify-plugin-host tool")
    };
    let selector = format!("app={}", app(DemoApps::CHATBOT, json!({})));
    let out = run(&["ask_app", "-p", &selector, "-p", "question=quack"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON message a line"))
        .collect();
    assert_eq!(texts(&lines).concat(), "You said: quack");
    assert_eq!(
        lines.last().unwrap()["message"]["variable_name"],
        "conversation_id"
    );

    let out = run(&["ask_app", "-p", "question=quack"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "parameter app is missing, but it is declared required in tools/ask_app.yaml"
        ),
        "{stderr}"
    );
}
