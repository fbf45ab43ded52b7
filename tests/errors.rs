//! Every error real Dify gives reaches the plugin as the right typed error, with Dify's code
//! and message intact and a text that names the app.

use dify_plugin_host::mock::{DemoApps, MockDify};
use dify_plugin_host::{EndpointRequest, PluginConfig};
use serde_json::{Value, json};

use crate::support::{demo, load, load_with, names, probe};

/// Run `call` in both modes and check that both fail the same way, before any event.
fn assert_error_in_both_modes(call: Value, kind: &str, message: &str, display: &str) {
    let probe_plugin = load("probe", &demo());
    for mode in ["blocking", "streaming"] {
        let mut call = call.clone();
        call["mode"] = json!(mode);
        let report = probe(&probe_plugin, call);
        let error = &report["error"];
        assert_eq!(error["kind"], kind, "{mode}: {report}");
        assert_eq!(error["status"], 400, "{mode}");
        assert_eq!(error["code"], "invalid_param", "{mode}");
        assert_eq!(error["message"], message, "{mode}");
        assert_eq!(error["display"], display, "{mode}");
    }
}

#[test]
fn chat_without_a_query_is_an_invalid_request() {
    let app = DemoApps::CHATFLOW;
    assert_error_in_both_modes(
        json!({"interface": "chat", "app_id": app, "query": ""}),
        "invalid-request",
        "missing query",
        &format!(
            "chat app '{app}': invalid request: missing query (Dify: HTTP 400, invalid_param)"
        ),
    );
}

#[test]
fn a_chat_app_through_the_workflow_interface_is_missing_its_query() {
    let app = DemoApps::CHATBOT;
    assert_error_in_both_modes(
        json!({"interface": "workflow", "app_id": app}),
        "invalid-request",
        "missing query",
        &format!(
            "workflow app '{app}': invalid request: missing query (Dify: HTTP 400, invalid_param)"
        ),
    );
}

#[test]
fn a_missing_required_input_is_named() {
    let app = DemoApps::WORKFLOW;
    assert_error_in_both_modes(
        json!({"interface": "workflow", "app_id": app, "inputs": {}}),
        "invalid-request",
        "name is required in input form",
        &format!(
            "workflow app '{app}': invalid request: name is required in input form (Dify: HTTP 400, invalid_param)"
        ),
    );
}

#[test]
fn an_input_of_the_wrong_type_is_named_with_its_expected_type() {
    let app = DemoApps::WORKFLOW;
    assert_error_in_both_modes(
        json!({"interface": "workflow", "app_id": app, "inputs": {"name": 42}}),
        "invalid-request",
        "(type 'text-input') name in input form must be a string",
        &format!(
            "workflow app '{app}': invalid request: (type 'text-input') name in input form must be a string (Dify: HTTP 400, invalid_param)"
        ),
    );
}

#[test]
fn an_input_that_is_too_long_gives_the_limit() {
    assert_error_in_both_modes(
        json!({"interface": "workflow", "app_id": DemoApps::WORKFLOW, "inputs": {"name": "x".repeat(49)}}),
        "invalid-request",
        "name in input form must be less than 48 characters",
        &format!(
            "workflow app '{}': invalid request: name in input form must be less than 48 characters (Dify: HTTP 400, invalid_param)",
            DemoApps::WORKFLOW
        ),
    );
}

#[test]
fn an_unknown_app_is_not_found() {
    let app = "00000000-0000-4000-8000-000000000000";
    assert_error_in_both_modes(
        json!({"interface": "chat", "app_id": app, "query": "hi"}),
        "not-found",
        "app not found",
        &format!("chat app '{app}': not found: app not found (Dify: HTTP 400, invalid_param)"),
    );
}

#[test]
fn an_unknown_conversation_is_not_found_and_named_although_dify_says_nothing() {
    let app = DemoApps::CHATFLOW;
    let conversation = "11111111-2222-4333-8444-555555555555";
    assert_error_in_both_modes(
        json!({"interface": "chat", "app_id": app, "query": "hi", "conversation_id": conversation}),
        "not-found",
        "",
        &format!(
            "chat app '{app}': not found: conversation '{conversation}' does not exist for this app and user (Dify: HTTP 400, invalid_param, empty message)"
        ),
    );
}

#[test]
fn an_agent_refuses_blocking_mode() {
    let probe_plugin = load("probe", &demo());
    let report = probe(
        &probe_plugin,
        json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::AGENT, "query": "hi"}),
    );
    assert_eq!(report["error"]["kind"], "invalid-request");
    assert_eq!(
        report["error"]["message"],
        "Agent Chat App does not support blocking mode"
    );
}

#[test]
fn a_chatflow_failing_while_streaming_ends_with_an_error_event() {
    let probe_plugin = load("probe", &demo());
    let report = probe(
        &probe_plugin,
        json!({"interface": "chat", "mode": "streaming", "app_id": DemoApps::FAILING_CHATFLOW, "query": "hi"}),
    );
    let names = names(&report);
    assert_eq!(names[names.len() - 2..], ["workflow_finished", "error"]);
    let events = report["events"].as_array().unwrap();
    assert_eq!(events[events.len() - 2]["data"]["data"]["status"], "failed");
    let error = &events[events.len() - 1]["data"];
    assert_eq!(error["code"], "invalid_param");
    assert_eq!(error["status"], 400);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Run failed: Failed to execute code"),
        "{error}"
    );
    // A failure of the app is an event, as in Dify, not a stream error.
    assert_eq!(report["stream_error"], Value::Null);
}

#[test]
fn a_chatflow_failing_in_blocking_mode_is_an_app_failure() {
    let probe_plugin = load("probe", &demo());
    let report = probe(
        &probe_plugin,
        json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::FAILING_CHATFLOW, "query": "hi"}),
    );
    assert_eq!(report["error"]["kind"], "app-failed");
    assert!(
        report["error"]["display"]
            .as_str()
            .unwrap()
            .contains("the app failed: Run failed: Failed to execute code"),
        "{report}"
    );
}

#[test]
fn a_failing_workflow_still_answers_blocking_calls_with_status_failed() {
    let probe_plugin = load("probe", &demo());
    let report = probe(
        &probe_plugin,
        json!({"interface": "workflow", "mode": "blocking", "app_id": DemoApps::FAILING_WORKFLOW, "inputs": {"name": "Alice"}}),
    );
    assert_eq!(report["reply"]["data"]["status"], "failed");
    assert!(
        report["reply"]["data"]["error"]
            .as_str()
            .unwrap()
            .starts_with("Failed to execute code")
    );
}

#[test]
fn inputs_that_are_not_an_object_never_leave_the_plugin() {
    let mock = demo();
    let probe_plugin = load("probe", &mock);
    let report = probe(
        &probe_plugin,
        json!({"interface": "workflow", "mode": "blocking", "app_id": DemoApps::WORKFLOW, "inputs": ["Alice"]}),
    );
    assert_eq!(report["error"]["kind"], "sdk");
    assert_eq!(
        report["error"]["display"],
        format!(
            "inputs for workflow app '{}' must be a JSON object, got an array",
            DemoApps::WORKFLOW
        )
    );
    assert!(mock.calls().is_empty());
}

#[test]
fn dify_1_13s_completion_defect_reads_as_an_internal_error() {
    let mock = demo().with_completion_defect(true);
    let probe_plugin = load_with("probe", PluginConfig::new(mock, DemoApps::TENANT));
    let report = probe(
        &probe_plugin,
        json!({"interface": "completion", "mode": "blocking", "app_id": DemoApps::COMPLETION, "inputs": {"topic": "x"}}),
    );
    assert_eq!(report["error"]["kind"], "internal");
    assert_eq!(
        report["error"]["display"],
        format!(
            "completion app '{}': internal error: Dify failed (HTTP 500 unknown: \"Internal Server Error\")",
            DemoApps::COMPLETION
        )
    );
}

#[test]
fn the_completion_example_reports_an_unknown_app_as_a_500() {
    let mock = MockDify::demo().unwrap();
    let writer = load("completion-writer", &mock);
    let response = writer.request(EndpointRequest::post(
        "/complete/nope?mode=blocking",
        r#"{"topic":"x"}"#,
    ));
    assert_eq!(response.status(), 500);
    assert!(
        response
            .text()
            .unwrap()
            .contains("completion app 'nope': not found")
    );
}
