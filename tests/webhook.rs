//! The webhook example, a port of `perzeuss/dify-plugin-webhook` 0.5.1: each behaviour of the
//! original (the sections of its behaviour reference, cited as §n), and each deliberate
//! difference listed in `examples/webhook/README.md`, against the mock's apps.
//!
//! Most requests go through `Plugin::request`, which runs the host's routing and the plugin
//! exactly as `serve` does, with per-request settings and headers; `serve` itself is checked
//! over real HTTP for routing and for the order of the key and body checks.

use std::net::SocketAddr;

use dify_plugin_host::daemon::declaration::Declaration;
use dify_plugin_host::mock::{AppMode, CallOutcome, DemoApps, MockApp, MockDify};
use dify_plugin_host::server::Server;
use dify_plugin_host::{AppKind, EndpointRequest, Plugin, PluginConfig, ResponseMode};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

use crate::http::send;
use crate::support::{demo, keys, load, load_with, workspace_root};

const KEY: &str = "s3cr3t+key";
/// A workflow with no input form that outputs its inputs, so a test sees what was sent.
const ECHO_WORKFLOW: &str = "e0000000-0000-4000-8000-000000000001";

/// The demo workspace, with [`ECHO_WORKFLOW`] added.
fn workspace() -> MockDify {
    let mock = demo();
    mock.add_app(MockApp::new(
        DemoApps::TENANT,
        ECHO_WORKFLOW,
        AppMode::Workflow,
    ))
    .expect("a valid app");
    mock
}

/// The settings a Dify user gets by default, with a key configured, changed by `overrides`.
fn settings(overrides: Value) -> Value {
    let mut all = json!({
        "api_key": KEY,
        "api_key_location": "api_key_header",
        "middleware": "none",
        "explicit_inputs": true,
        "json_string_input": false,
        "raw_data_output": false,
    });
    for (name, value) in overrides.as_object().expect("overrides are an object") {
        all[name] = value.clone();
    }
    all
}

/// Settings with no key check, for the tests about something else.
fn open(overrides: Value) -> Value {
    let mut all = settings(json!({"api_key_location": "none"}));
    for (name, value) in overrides.as_object().expect("overrides are an object") {
        all[name] = value.clone();
    }
    all
}

/// A JSON `POST`, as the original's README shows them.
fn post(target: &str, settings: Value, body: &str) -> EndpointRequest {
    EndpointRequest::post(target, body)
        .header("content-type", "application/json")
        .settings(settings)
}

/// A response read whole.
struct Answer {
    status: u16,
    content_type: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json"),
            "{}",
            self.text
        );
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    /// Asserts a JSON error `{"error": message}` with this status.
    fn assert_error(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.json(), json!({ "error": message }));
    }

    /// Asserts the original's bare 404: `application/json`, no body.
    fn assert_not_exposed(&self) {
        assert_eq!(self.status, 404, "{}", self.text);
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        assert_eq!(self.text, "");
    }

    /// Asserts the host's 500 for a failed app call, with Dify's message in it.
    fn assert_app_failed(&self, dify_message: &str) {
        assert_eq!(self.status, 500, "{}", self.text);
        assert_eq!(
            self.content_type.as_deref(),
            Some("text/plain; charset=utf-8")
        );
        assert!(
            self.text.starts_with("the plugin failed: ") && self.text.contains(dify_message),
            "{}",
            self.text
        );
    }
}

fn answer(plugin: &Plugin, req: EndpointRequest) -> Answer {
    let response = plugin.request(req);
    let status = response.status();
    let content_type = response.header("content-type").map(str::to_owned);
    let text = response.text().expect("a complete body");
    Answer {
        status,
        content_type,
        text,
    }
}

fn workflow(id: &str) -> String {
    format!("/workflow/{id}")
}

fn chatflow(id: &str) -> String {
    format!("/chatflow/{id}")
}

/// The one call the mock received.
fn only_call(mock: &MockDify) -> dify_plugin_host::AppRequest {
    let calls = mock.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].request.response_mode, ResponseMode::Blocking);
    calls[0].request.clone()
}

// §1 Routes

#[test]
fn webhook_declares_the_originals_four_post_routes_and_passes_the_daemons_rules() {
    let plugin = load("webhook", &workspace());
    let routes: Vec<(&str, &str)> = plugin
        .routes()
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        routes,
        [
            ("POST", "/workflow/<app_id>"),
            ("POST", "/chatflow/<app_id>"),
            ("POST", "/single-workflow"),
            ("POST", "/single-chatflow"),
        ]
    );
    let declaration =
        Declaration::load(&workspace_root().join("examples/webhook")).unwrap_or_else(|e| {
            panic!("{e}");
        });
    declaration
        .check_routes(plugin.routes())
        .expect("same routes");
    assert_eq!(declaration.name(), "webhook");
    // §2: the original's settings, types and defaults.
    let form: Vec<(&str, &str, Option<&Value>)> = declaration
        .settings()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["type"].as_str().unwrap(),
                s.get("default"),
            )
        })
        .collect();
    assert_eq!(
        form,
        [
            ("static_app_id", "app-selector", None),
            ("api_key", "secret-input", None),
            ("api_key_location", "select", Some(&json!("api_key_header"))),
            ("middleware", "select", Some(&json!("none"))),
            ("signature_verification_key", "secret-input", None),
            ("explicit_inputs", "boolean", Some(&json!(true))),
            ("json_string_input", "boolean", Some(&json!(false))),
            ("raw_data_output", "boolean", Some(&json!(false))),
        ]
    );
    let options = |name: &str| -> Vec<String> {
        let setting = declaration
            .settings()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        setting["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["value"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        options("api_key_location"),
        ["api_key_header", "token_query_param", "none"]
    );
    assert_eq!(options("middleware"), ["discord", "none"]);
}

fn serve(settings: Value) -> Server {
    let mut config = PluginConfig::new(workspace(), DemoApps::TENANT);
    config.settings = settings;
    let plugin = load_with("webhook", config);
    Server::start(plugin, SocketAddr::from(([127, 0, 0, 1], 0))).expect("server")
}

#[test]
fn serve_answers_a_path_of_no_route_with_404_and_a_get_with_405() {
    let server = serve(open(json!({})));
    for path in [
        "/other",
        "/workflow/",
        "/workflow/a/b",
        "/single-workflow/x",
    ] {
        let response = send(server.addr(), "POST", path, b"{}");
        assert_eq!(response.status, 404, "{path}");
        assert!(
            response.text().starts_with(&format!(
                "no endpoint of plugin webhook matches POST {path};"
            )),
            "{path}"
        );
    }
    for path in [
        "/workflow/x",
        "/chatflow/x",
        "/single-workflow",
        "/single-chatflow",
    ] {
        let response = send(server.addr(), "GET", path, b"");
        assert_eq!(response.status, 405, "{path}");
        assert_eq!(response.header("allow"), Some("POST"), "{path}");
    }
}

#[test]
fn serve_checks_the_key_in_the_query_before_the_body() {
    let server = serve(settings(json!({"api_key_location": "token_query_param"})));
    let target = |token: &str| format!("/workflow/{ECHO_WORKFLOW}?difyToken={token}");
    // `send` sets no Content-Type: the body cannot be read as JSON, but a wrong key comes first.
    let wrong = send(server.addr(), "POST", &target("nope"), b"{}");
    assert_eq!(wrong.status, 403);
    assert_eq!(wrong.header("content-type"), Some("application/json"));
    assert_eq!(wrong.text(), r#"{"error":"Invalid API key"}"#);
    // `%2B` is `+`; the right key reaches the body check.
    let right = send(server.addr(), "POST", &target("s3cr3t%2Bkey"), b"{}");
    assert_eq!(right.status, 415);
    let error: Value = serde_json::from_str(&right.text()).unwrap();
    assert_eq!(
        error["error"],
        "the request body must be sent as JSON (Content-Type: application/json), got Content-Type: ''"
    );
}

#[test]
fn chatflow_routes_call_chatbots_too() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let reply = answer(
        &plugin,
        post(
            &chatflow(DemoApps::CHATBOT),
            open(json!({})),
            r#"{"query": "hi"}"#,
        ),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["mode"], "chat");
    assert_eq!(only_call(&mock).kind, AppKind::Chat);
}

// §2 Settings

#[test]
fn static_app_id_as_a_selection_or_a_plain_id_serves_the_single_routes() {
    for selected in [json!({"app_id": ECHO_WORKFLOW}), json!(ECHO_WORKFLOW)] {
        let mock = workspace();
        let plugin = load("webhook", &mock);
        let s = open(json!({"static_app_id": selected}));
        let reply = answer(
            &plugin,
            post("/single-workflow", s, r#"{"inputs": {"name": "Bo"}}"#),
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json()["data"]["outputs"], json!({"name": "Bo"}));
        let call = only_call(&mock);
        assert_eq!(
            (call.kind, call.app_id.as_str()),
            (AppKind::Workflow, ECHO_WORKFLOW)
        );
    }
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let s = open(json!({"static_app_id": {"app_id": DemoApps::CHATFLOW}}));
    let reply = answer(
        &plugin,
        post("/single-chatflow", s, r#"{"query": "hello"}"#),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["answer"], "You said: hello");
    let call = only_call(&mock);
    assert_eq!(
        (call.kind, call.app_id.as_str()),
        (AppKind::Chat, DemoApps::CHATFLOW)
    );
}

#[test]
fn static_app_id_turns_the_dynamic_routes_off() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let s = open(json!({"static_app_id": {"app_id": ECHO_WORKFLOW}}));
    answer(&plugin, post(&workflow(ECHO_WORKFLOW), s.clone(), "{}")).assert_not_exposed();
    answer(
        &plugin,
        post(&chatflow(DemoApps::CHATFLOW), s, r#"{"query": "hi"}"#),
    )
    .assert_not_exposed();
    assert!(mock.calls().is_empty());
}

#[test]
fn single_routes_without_a_static_app_are_a_bare_404() {
    let plugin = load("webhook", &workspace());
    for unset in [json!(null), json!(""), json!({}), json!({"app_id": ""})] {
        let s = open(json!({"static_app_id": unset}));
        // Before the inputs are checked: even inputs that are not an object get the 404.
        answer(
            &plugin,
            post("/single-workflow", s.clone(), r#"{"inputs": 1}"#),
        )
        .assert_not_exposed();
        answer(&plugin, post("/single-chatflow", s, r#"{"query": "hi"}"#)).assert_not_exposed();
    }
}

#[test]
fn with_no_settings_at_all_every_request_is_a_500_for_the_missing_key() {
    let plugin = load("webhook", &workspace());
    for target in [workflow(ECHO_WORKFLOW), "/single-chatflow".to_owned()] {
        let req = EndpointRequest::post(&target, "{}")
            .header("content-type", "application/json")
            .header("x-api-key", KEY);
        answer(&plugin, req).assert_error(500, "Expected API key is not configured.");
    }
}

#[test]
fn settings_that_the_form_cannot_store_are_a_500_naming_the_setting() {
    let plugin = load("webhook", &workspace());
    let cases = [
        (
            json!({"api_key_location": "cookie"}),
            r#"setting 'api_key_location' must be one of api_key_header, token_query_param, none, got "cookie""#,
        ),
        (
            json!({"middleware": "slack"}),
            r#"setting 'middleware' must be one of discord, none, got "slack""#,
        ),
        (
            json!({"explicit_inputs": "false"}),
            r#"setting 'explicit_inputs' must be true or false, got "false""#,
        ),
        (
            json!({"api_key": 12345}),
            "setting 'api_key' must be a text",
        ),
        (
            json!({"static_app_id": 7}),
            r#"setting 'static_app_id' must be an app selection {"app_id": "..."} or an app id, got 7"#,
        ),
    ];
    for (overrides, message) in cases {
        let req =
            post(&workflow(ECHO_WORKFLOW), settings(overrides), "{}").header("x-api-key", KEY);
        answer(&plugin, req).assert_error(500, message);
    }
}

#[test]
fn a_null_key_location_is_the_default_header_check() {
    let plugin = load("webhook", &workspace());
    let s = settings(json!({"api_key_location": null}));
    answer(&plugin, post(&workflow(ECHO_WORKFLOW), s.clone(), "{}"))
        .assert_error(403, "Invalid API key");
    let req = post(&workflow(ECHO_WORKFLOW), s, "{}").header("x-api-key", KEY);
    assert_eq!(answer(&plugin, req).status, 200);
}

// §3 From the request to the app call

#[test]
fn the_api_key_is_checked_before_the_body_is_read() {
    let plugin = load("webhook", &workspace());
    for (content_type, body) in [
        ("application/json", "{not json"),
        ("application/json", ""),
        ("text/plain", "{}"),
    ] {
        let req = EndpointRequest::post(&workflow(ECHO_WORKFLOW), body)
            .header("content-type", content_type)
            .header("x-api-key", "wrong")
            .settings(settings(json!({})));
        answer(&plugin, req).assert_error(403, "Invalid API key");
    }
}

#[test]
fn a_body_that_is_not_json_is_a_400_and_one_not_sent_as_json_a_415() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let target = workflow(ECHO_WORKFLOW);
    let empty = answer(&plugin, post(&target, open(json!({})), " \n"));
    empty.assert_error(400, "the request body is empty; it must be JSON");
    let broken = answer(&plugin, post(&target, open(json!({})), r#"{"inputs": "#));
    assert_eq!(broken.status, 400);
    assert!(
        broken.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("the request body is not valid JSON: EOF while parsing"),
        "{}",
        broken.text
    );
    let form = EndpointRequest::post(&target, "a=1")
        .header("content-type", "application/x-www-form-urlencoded")
        .settings(open(json!({})));
    answer(&plugin, form).assert_error(
        415,
        "the request body must be sent as JSON (Content-Type: application/json), got Content-Type: 'application/x-www-form-urlencoded'",
    );
    assert!(mock.calls().is_empty());
    // As for Werkzeug: any `application/*+json`, parameters and case ignored.
    for content_type in [
        "application/vnd.api+json",
        "Application/JSON; charset=utf-8",
    ] {
        let req = EndpointRequest::post(&target, "{}")
            .header("content-type", content_type)
            .settings(open(json!({})));
        assert_eq!(answer(&plugin, req).status, 200, "{content_type}");
    }
}

#[test]
fn explicit_inputs_are_body_inputs_and_other_keys_are_ignored() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let body =
        r#"{"inputs": {"name": "Alice"}, "query": "q", "response_mode": "streaming", "user": "u"}"#;
    let reply = answer(
        &plugin,
        post(&workflow(ECHO_WORKFLOW), open(json!({})), body),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let call = only_call(&mock);
    assert_eq!(call.kind, AppKind::Workflow);
    assert_eq!(Value::Object(call.inputs), json!({"name": "Alice"}));
    assert_eq!((call.query, call.user), (None, None));
    // No inputs at all are `{}`.
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let reply = answer(
        &plugin,
        post(&workflow(ECHO_WORKFLOW), open(json!({})), "{}"),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(Value::Object(only_call(&mock).inputs), json!({}));
}

#[test]
fn without_explicit_inputs_the_whole_body_is_the_workflows_inputs() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let body = json!({
        "name": "Alice", "query": "q", "conversation_id": "c",
        "response_mode": "streaming", "inputs": {"x": 1},
    });
    let s = open(json!({"explicit_inputs": false}));
    let reply = answer(
        &plugin,
        post(&workflow(ECHO_WORKFLOW), s, &body.to_string()),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(Value::Object(only_call(&mock).inputs), body);
}

#[test]
fn inputs_that_are_not_an_object_are_a_400() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    for inputs in [r#""x""#, "[]", "1", "null", "true"] {
        let body = format!(r#"{{"inputs": {inputs}}}"#);
        answer(
            &plugin,
            post(&workflow(ECHO_WORKFLOW), open(json!({})), &body),
        )
        .assert_error(400, "inputs must be an object");
    }
    // Without explicit inputs the body is the inputs: any body that is not an object.
    let s = open(json!({"explicit_inputs": false}));
    for body in ["[1]", r#""x""#, "3", "null"] {
        answer(&plugin, post(&workflow(ECHO_WORKFLOW), s.clone(), body))
            .assert_error(400, "inputs must be an object");
    }
    // With explicit inputs, the body must be an object to hold them.
    for body in ["[1]", r#""x""#, "null"] {
        answer(
            &plugin,
            post(&workflow(ECHO_WORKFLOW), open(json!({})), body),
        )
        .assert_error(400, "the request body must be a JSON object");
    }
    assert!(mock.calls().is_empty());
}

#[test]
fn inputs_are_checked_before_the_route_and_query_checks() {
    let plugin = load("webhook", &workspace());
    let s = open(json!({"static_app_id": ECHO_WORKFLOW}));
    answer(
        &plugin,
        post(&workflow(ECHO_WORKFLOW), s, r#"{"inputs": []}"#),
    )
    .assert_error(400, "inputs must be an object");
    answer(
        &plugin,
        post(
            &chatflow(DemoApps::CHATFLOW),
            open(json!({})),
            r#"{"inputs": 1}"#,
        ),
    )
    .assert_error(400, "inputs must be an object");
}

#[test]
fn chatflow_takes_query_and_conversation_id_from_the_body() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let body = r#"{"query": "Hi", "inputs": {"name": "John"}, "conversation_id": "", "response_mode": "streaming"}"#;
    let reply = answer(
        &plugin,
        post(&chatflow(DemoApps::CHATFLOW), open(json!({})), body),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let chat = reply.json();
    assert_eq!(chat["answer"], "You said: Hi");
    let call = only_call(&mock);
    assert_eq!(
        (call.kind, call.app_id.as_str()),
        (AppKind::Chat, DemoApps::CHATFLOW)
    );
    assert_eq!(call.query.as_deref(), Some("Hi"));
    assert_eq!(Value::Object(call.inputs), json!({"name": "John"}));
    // `""` goes to Dify as is, where it starts a new conversation.
    assert_eq!(call.conversation_id.as_deref(), Some(""));

    // The conversation goes on with the id Dify gave.
    let id = chat["conversation_id"].as_str().unwrap();
    let body = json!({"query": "again", "conversation_id": id}).to_string();
    let next = answer(
        &plugin,
        post(&chatflow(DemoApps::CHATFLOW), open(json!({})), &body),
    );
    assert_eq!(next.status, 200, "{}", next.text);
    assert_eq!(next.json()["conversation_id"], id);
    assert_eq!(mock.calls()[1].request.conversation_id.as_deref(), Some(id));
}

#[test]
fn without_explicit_inputs_query_and_conversation_id_are_taken_out_of_the_inputs() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let s = open(json!({"explicit_inputs": false}));
    let body =
        r#"{"query": "hello", "conversation_id": null, "topic": "ducks", "inputs": {"a": 1}}"#;
    let reply = answer(&plugin, post(&chatflow(DemoApps::CHATFLOW), s, body));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let call = only_call(&mock);
    assert_eq!(call.query.as_deref(), Some("hello"));
    assert_eq!(call.conversation_id, None);
    assert_eq!(
        Value::Object(call.inputs),
        json!({"topic": "ducks", "inputs": {"a": 1}})
    );
}

#[test]
fn query_must_be_a_non_empty_string_and_conversation_id_a_string_or_null() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    for explicit in [true, false] {
        let s = open(json!({"explicit_inputs": explicit}));
        for body in [
            r#"{}"#,
            r#"{"query": ""}"#,
            r#"{"query": null}"#,
            r#"{"query": 5}"#,
            r#"{"query": ["hi"]}"#,
            r#"{"inputs": {"query": "in the inputs"}}"#,
        ] {
            // Without explicit inputs, `inputs.query` is not the query either.
            answer(
                &plugin,
                post(&chatflow(DemoApps::CHATFLOW), s.clone(), body),
            )
            .assert_error(400, "query must be a string");
        }
        for id in ["5", "{}", "[]", "true"] {
            let body = format!(r#"{{"query": "hi", "conversation_id": {id}}}"#);
            answer(
                &plugin,
                post(&chatflow(DemoApps::CHATFLOW), s.clone(), &body),
            )
            .assert_error(400, "conversation_id must be a string");
        }
    }
    // The same checks on the single route.
    let s = open(json!({"static_app_id": DemoApps::CHATFLOW}));
    answer(&plugin, post("/single-chatflow", s.clone(), "{}"))
        .assert_error(400, "query must be a string");
    answer(
        &plugin,
        post(
            "/single-chatflow",
            s,
            r#"{"query": "x", "conversation_id": 1}"#,
        ),
    )
    .assert_error(400, "conversation_id must be a string");
    assert!(mock.calls().is_empty());
}

#[test]
fn the_url_query_never_becomes_inputs_or_the_query() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let s = open(json!({"explicit_inputs": false}));
    let target = format!("{}?query=from-url&name=x", chatflow(DemoApps::CHATFLOW));
    answer(&plugin, post(&target, s.clone(), "{}")).assert_error(400, "query must be a string");
    let target = format!("{}?name=x", workflow(ECHO_WORKFLOW));
    assert_eq!(answer(&plugin, post(&target, s, "{}")).status, 200);
    assert_eq!(Value::Object(only_call(&mock).inputs), json!({}));
}

// §3.1 and §3.2: blocking only, Dify's errors

#[test]
fn an_agent_app_is_refused_in_blocking_mode_with_a_500() {
    let plugin = load("webhook", &workspace());
    let body = r#"{"query": "hi", "response_mode": "streaming"}"#;
    answer(
        &plugin,
        post(&chatflow(DemoApps::AGENT), open(json!({})), body),
    )
    .assert_app_failed("Agent Chat App does not support blocking mode");
}

#[test]
fn difys_errors_are_a_500_with_difys_message() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let s = open(json!({}));
    let unknown = "00000000-0000-4000-8000-00000000dead";
    let cases = [
        (workflow(unknown), "{}", "app not found"),
        (
            workflow(DemoApps::OTHER_WORKSPACE_WORKFLOW),
            "{}",
            "app not found",
        ),
        (
            workflow(DemoApps::WORKFLOW),
            "{}",
            "name is required in input form",
        ),
        (workflow(DemoApps::CHATBOT), "{}", "missing query"),
        (
            chatflow(DemoApps::CHATFLOW),
            r#"{"query": "hi", "conversation_id": "00000000-0000-4000-8000-000000000000"}"#,
            "conversation '00000000-0000-4000-8000-000000000000' does not exist",
        ),
        (
            chatflow(DemoApps::FAILING_CHATFLOW),
            r#"{"query": "hi"}"#,
            "Run failed: Failed to execute code",
        ),
    ];
    for (target, body, message) in cases {
        answer(&plugin, post(&target, s.clone(), body)).assert_app_failed(message);
    }
    assert!(
        mock.calls()
            .iter()
            .all(|c| matches!(c.outcome, CallOutcome::Rejected(_)))
    );
}

#[test]
fn a_failed_workflow_run_is_a_200_and_its_empty_raw_outputs_a_500() {
    let plugin = load("webhook", &workspace());
    let target = workflow(DemoApps::FAILING_WORKFLOW);
    let full = answer(&plugin, post(&target, open(json!({})), "{}"));
    assert_eq!(full.status, 200, "{}", full.text);
    let run = full.json();
    assert_eq!(run["data"]["status"], "failed");
    assert!(
        run["data"]["error"]
            .as_str()
            .unwrap()
            .starts_with("Failed to execute code")
    );
    answer(
        &plugin,
        post(&target, open(json!({"raw_data_output": true})), "{}"),
    )
    .assert_error(500, "Failed to get response");
}

// §3.3 json_string_input

#[test]
fn json_string_input_passes_the_body_as_pythons_json_dumps_text() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let s = open(json!({"json_string_input": true, "explicit_inputs": false}));
    let body = "{\"zeta\":1,\"alpha\":[1.5,\"é😀\",null,true,false],\"n\":{\"big\":1e16,\"small\":0.00001,\"whole\":100.0,\"exp\":1e2,\"neg\":-2,\"tiny\":0.0001},\"s\":\"\\u007f\\n/\\\"\",\"e\":{},\"l\":[]}";
    let reply = answer(&plugin, post(&workflow(ECHO_WORKFLOW), s, body));
    assert_eq!(reply.status, 200, "{}", reply.text);
    // What Python 3 prints for `json.dumps(json.loads(body))`.
    let python = r#"{"zeta": 1, "alpha": [1.5, "\u00e9\ud83d\ude00", null, true, false], "n": {"big": 1e+16, "small": 1e-05, "whole": 100.0, "exp": 100.0, "neg": -2, "tiny": 0.0001}, "s": "\u007f\n/\"", "e": {}, "l": []}"#;
    assert_eq!(
        Value::Object(only_call(&mock).inputs),
        json!({ "json_string": python })
    );
    assert_eq!(reply.json()["data"]["outputs"]["json_string"], python);
}

#[test]
fn json_string_input_takes_any_json_and_applies_explicit_inputs_after() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let implicit = open(json!({"json_string_input": true, "explicit_inputs": false}));
    let reply = answer(
        &plugin,
        post(&workflow(ECHO_WORKFLOW), implicit.clone(), "[1, 2]"),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        Value::Object(mock.calls()[0].request.inputs.clone()),
        json!({"json_string": "[1, 2]"})
    );
    // Explicit inputs read `inputs` of the replacement, which has none.
    let explicit = open(json!({"json_string_input": true}));
    let body = r#"{"inputs": {"name": "x"}}"#;
    assert_eq!(
        answer(&plugin, post(&workflow(ECHO_WORKFLOW), explicit, body)).status,
        200
    );
    assert_eq!(
        Value::Object(mock.calls()[1].request.inputs.clone()),
        json!({})
    );
    // The replacement has no query: chat routes always refuse it.
    let body = r#"{"query": "hi"}"#;
    answer(&plugin, post(&chatflow(DemoApps::CHATFLOW), implicit, body))
        .assert_error(400, "query must be a string");
    assert_eq!(mock.calls().len(), 2);
}

#[test]
fn json_string_input_reads_the_body_before_the_api_key() {
    let plugin = load("webhook", &workspace());
    let s = settings(json!({"json_string_input": true}));
    let broken = answer(&plugin, post(&workflow(ECHO_WORKFLOW), s.clone(), "{oops"));
    assert_eq!(broken.status, 400);
    assert!(
        broken.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("the request body is not valid JSON"),
        "{}",
        broken.text
    );
    answer(&plugin, post(&workflow(ECHO_WORKFLOW), s, "{}")).assert_error(403, "Invalid API key");
}

// §4 Authentication

#[test]
fn the_header_key_must_match_exactly() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let target = workflow(ECHO_WORKFLOW);
    let s = settings(json!({}));
    let ok = answer(
        &plugin,
        post(&target, s.clone(), "{}").header("X-Api-KEY", KEY),
    );
    assert_eq!(ok.status, 200, "{}", ok.text);
    for wrong in ["S3CR3T+KEY", "s3cr3t+ke", "s3cr3t+key ", ""] {
        answer(
            &plugin,
            post(&target, s.clone(), "{}").header("x-api-key", wrong),
        )
        .assert_error(403, "Invalid API key");
    }
    answer(&plugin, post(&target, s.clone(), "{}")).assert_error(403, "Invalid API key");
    // Neither the query parameter nor a bearer token stands in for the header.
    let query = format!("{target}?difyToken=s3cr3t%2Bkey");
    answer(&plugin, post(&query, s.clone(), "{}")).assert_error(403, "Invalid API key");
    let bearer = post(&target, s, "{}").header("authorization", &format!("Bearer {KEY}"));
    answer(&plugin, bearer).assert_error(403, "Invalid API key");
    assert_eq!(mock.calls().len(), 1);
}

#[test]
fn the_query_key_is_form_decoded_and_the_header_not_accepted() {
    let plugin = load("webhook", &workspace());
    let target = workflow(ECHO_WORKFLOW);
    let s = settings(json!({"api_key_location": "token_query_param"}));
    let ok = format!("{target}?a=1&difyToken=s3cr3t%2Bkey&difyToken=other");
    assert_eq!(answer(&plugin, post(&ok, s.clone(), "{}")).status, 200);
    // `+` is a space in a query string.
    let plus = format!("{target}?difyToken=s3cr3t+key");
    answer(&plugin, post(&plus, s.clone(), "{}")).assert_error(403, "Invalid API key");
    let spaced = settings(json!({"api_key_location": "token_query_param", "api_key": "a b"}));
    let space = format!("{target}?difyToken=a+b");
    assert_eq!(answer(&plugin, post(&space, spaced, "{}")).status, 200);
    let header = post(&target, s, "{}").header("x-api-key", KEY);
    answer(&plugin, header).assert_error(403, "Invalid API key");
}

#[test]
fn no_key_location_checks_nothing_and_a_missing_key_is_a_500_elsewhere() {
    let plugin = load("webhook", &workspace());
    let target = workflow(ECHO_WORKFLOW);
    let none = settings(json!({"api_key_location": "none"}));
    let req = post(&format!("{target}?difyToken=x"), none, "{}").header("x-api-key", "wrong");
    assert_eq!(answer(&plugin, req).status, 200);
    let keyless = settings(json!({"api_key_location": "none", "api_key": ""}));
    assert_eq!(answer(&plugin, post(&target, keyless, "{}")).status, 200);
    for location in ["api_key_header", "token_query_param"] {
        for key in [json!(""), json!(null)] {
            let s = settings(json!({"api_key_location": location, "api_key": key}));
            let req = post(&format!("{target}?difyToken="), s, "{}").header("x-api-key", "");
            answer(&plugin, req).assert_error(500, "Expected API key is not configured.");
        }
    }
}

// §5 Responses

#[test]
fn workflow_routes_answer_difys_response_or_only_its_outputs() {
    let plugin = load("webhook", &workspace());
    let target = workflow(DemoApps::WORKFLOW);
    let body = r#"{"inputs": {"name": "Alice"}}"#;
    let full = answer(&plugin, post(&target, open(json!({})), body));
    assert_eq!(full.status, 200, "{}", full.text);
    let run = full.json();
    let mut top = keys(&run);
    top.sort();
    assert_eq!(top, ["data", "task_id", "workflow_run_id"]);
    let mut data = keys(&run["data"]);
    data.sort();
    assert_eq!(
        data,
        [
            "created_at",
            "elapsed_time",
            "error",
            "finished_at",
            "id",
            "outputs",
            "status",
            "total_steps",
            "total_tokens",
            "workflow_id"
        ]
    );
    assert_eq!(run["data"]["outputs"], json!({"name": "Alice"}));

    let raw = answer(
        &plugin,
        post(&target, open(json!({"raw_data_output": true})), body),
    );
    assert_eq!(raw.status, 200, "{}", raw.text);
    assert_eq!(raw.json(), json!({"name": "Alice"}));
    let s = open(json!({"raw_data_output": true, "static_app_id": DemoApps::WORKFLOW}));
    assert_eq!(
        answer(&plugin, post("/single-workflow", s, body)).json(),
        json!({"name": "Alice"})
    );
}

#[test]
fn chat_routes_answer_difys_chat_response_whatever_raw_data_output_says() {
    let plugin = load("webhook", &workspace());
    for raw in [false, true] {
        let s = open(json!({"raw_data_output": raw}));
        let reply = answer(
            &plugin,
            post(&chatflow(DemoApps::CHATFLOW), s, r#"{"query": "yo"}"#),
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
        let chat = reply.json();
        let mut names = keys(&chat);
        names.sort();
        assert_eq!(
            names,
            [
                "answer",
                "conversation_id",
                "created_at",
                "event",
                "id",
                "message_id",
                "metadata",
                "mode",
                "task_id"
            ]
        );
        assert_eq!(
            (chat["event"].as_str(), chat["mode"].as_str()),
            (Some("message"), Some("advanced-chat"))
        );
    }
}

// §6 Discord

/// Discord's signing side, with a fixed test key.
struct Discord(SigningKey);

impl Discord {
    fn new() -> Self {
        Discord(SigningKey::from_bytes(&[7; 32]))
    }

    fn public_key(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }

    /// Settings with the Discord middleware on and `overrides`.
    fn settings(&self, overrides: Value) -> Value {
        let mut all = settings(
            json!({"middleware": "discord", "signature_verification_key": self.public_key()}),
        );
        for (name, value) in overrides.as_object().unwrap() {
            all[name] = value.clone();
        }
        all
    }

    fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let message = [timestamp.as_bytes(), body].concat();
        hex::encode(self.0.sign(&message).to_bytes())
    }

    /// A request to `target` signed as Discord signs it.
    fn signed(&self, target: &str, settings: Value, body: &str) -> EndpointRequest {
        let timestamp = "1700000000";
        post(target, settings, body)
            .header(
                "x-signature-ed25519",
                &self.sign(timestamp, body.as_bytes()),
            )
            .header("x-signature-timestamp", timestamp)
    }
}

#[test]
fn discord_ping_is_a_204_and_type_1_an_ack_without_an_api_key() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let discord = Discord::new();
    for target in [workflow(ECHO_WORKFLOW), "/single-chatflow".to_owned()] {
        let ping = answer(
            &plugin,
            discord.signed(&target, discord.settings(json!({})), r#"{"type": 0}"#),
        );
        assert_eq!((ping.status, ping.text.as_str()), (204, ""));
        let ack = answer(
            &plugin,
            discord.signed(
                &target,
                discord.settings(json!({})),
                r#"{"type":1,"id":"x"}"#,
            ),
        );
        assert_eq!(ack.status, 200);
        assert_eq!(ack.json(), json!({"type": 1}));
    }
    assert!(mock.calls().is_empty());
}

#[test]
fn discord_refuses_a_missing_or_wrong_signature_with_a_401() {
    let plugin = load("webhook", &workspace());
    let discord = Discord::new();
    let target = workflow(ECHO_WORKFLOW);
    let s = discord.settings(json!({}));
    let body = r#"{"type": 1}"#;
    let good = discord.sign("1700000000", body.as_bytes());
    let signed_other = discord.sign("1700000000", br#"{"type": 0}"#);
    let other_key = hex::encode(
        SigningKey::from_bytes(&[8; 32])
            .sign(format!("1700000000{body}").as_bytes())
            .to_bytes(),
    );
    let cases: [(Option<&str>, Option<&str>); 8] = [
        (None, Some("1700000000")),
        (Some(&good), None),
        (Some(&good), Some("1700000001")),
        (Some(&signed_other), Some("1700000000")),
        (Some(&other_key), Some("1700000000")),
        (Some("zz"), Some("1700000000")),
        (Some(&good[..126]), Some("1700000000")),
        (Some(""), Some("1700000000")),
    ];
    for (signature, timestamp) in cases {
        let mut req = post(&target, s.clone(), body);
        if let Some(signature) = signature {
            req = req.header("x-signature-ed25519", signature);
        }
        if let Some(timestamp) = timestamp {
            req = req.header("x-signature-timestamp", timestamp);
        }
        answer(&plugin, req).assert_error(401, "invalid request signature");
    }
    // Upper-case hex is the same signature.
    let req = post(&target, s, body)
        .header("x-signature-ed25519", &good.to_ascii_uppercase())
        .header("x-signature-timestamp", "1700000000");
    assert_eq!(answer(&plugin, req).json(), json!({"type": 1}));
}

#[test]
fn discord_signs_the_raw_body_bytes() {
    let plugin = load("webhook", &workspace());
    let discord = Discord::new();
    // Whitespace and key order are part of what is signed; the same JSON re-spaced is not.
    let body = "{ \"type\" :1 }";
    let s = discord.settings(json!({}));
    let req = discord.signed(&workflow(ECHO_WORKFLOW), s.clone(), body);
    assert_eq!(answer(&plugin, req).json(), json!({"type": 1}));
    let mut req = discord.signed(&workflow(ECHO_WORKFLOW), s, body);
    req.body = br#"{"type":1}"#.to_vec();
    answer(&plugin, req).assert_error(401, "invalid request signature");
}

#[test]
fn discord_other_interactions_go_on_to_the_key_check_and_the_app() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let discord = Discord::new();
    let target = workflow(ECHO_WORKFLOW);
    let s = discord.settings(json!({"explicit_inputs": false}));
    let body = r#"{"type": 2, "data": {"name": "hi"}}"#;
    answer(&plugin, discord.signed(&target, s.clone(), body)).assert_error(403, "Invalid API key");
    let reply = answer(
        &plugin,
        discord.signed(&target, s, body).header("x-api-key", KEY),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    // `type` is an ordinary body key: an input, here.
    assert_eq!(
        Value::Object(only_call(&mock).inputs),
        json!({"type": 2, "data": {"name": "hi"}})
    );
    // Only the integers 0 and 1 are a ping and an ack: these are ordinary requests.
    let open_discord = discord.settings(json!({"api_key_location": "none"}));
    for body in [
        r#"{"type": true}"#,
        r#"{"type": false}"#,
        r#"{"type": 1.0}"#,
        r#"{"type": "1"}"#,
    ] {
        let reply = answer(&plugin, discord.signed(&target, open_discord.clone(), body));
        assert_eq!(reply.status, 200, "{body}: {}", reply.text);
        assert_eq!(reply.json()["data"]["status"], "succeeded", "{body}");
    }
    assert_eq!(mock.calls().len(), 5);
    // A signed body that is not an object is no interaction either; it gets the usual 400.
    answer(&plugin, discord.signed(&target, open_discord, "[1]"))
        .assert_error(400, "the request body must be a JSON object");
}

#[test]
fn discord_reads_the_signed_body_before_the_key_and_json_string_input_after() {
    let mock = workspace();
    let plugin = load("webhook", &mock);
    let discord = Discord::new();
    let target = workflow(ECHO_WORKFLOW);
    let broken = answer(
        &plugin,
        discord.signed(&target, discord.settings(json!({})), "not json"),
    );
    assert_eq!(broken.status, 400, "{}", broken.text);
    let s = discord.settings(
        json!({"json_string_input": true, "explicit_inputs": false, "api_key_location": "none"}),
    );
    let ping = answer(&plugin, discord.signed(&target, s.clone(), r#"{"type":0}"#));
    assert_eq!(ping.status, 204);
    let reply = answer(&plugin, discord.signed(&target, s, r#"{"type":2}"#));
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        Value::Object(only_call(&mock).inputs),
        json!({"json_string": "{\"type\": 2}"})
    );
}

#[test]
fn a_misconfigured_discord_key_is_a_500_on_every_request() {
    let plugin = load("webhook", &workspace());
    let discord = Discord::new();
    let name = "signature_verification_key";
    let not_a_point = format!("02{}", "00".repeat(31));
    let cases = [
        (
            json!(null),
            format!(
                "setting '{name}' is required by the Discord middleware: the application's public key, in hex"
            ),
        ),
        (
            json!(""),
            format!(
                "setting '{name}' is required by the Discord middleware: the application's public key, in hex"
            ),
        ),
        (
            json!("abcd"),
            format!("setting '{name}' must be 64 hex digits: Invalid string length"),
        ),
        (
            json!(not_a_point),
            format!("setting '{name}' is not an Ed25519 public key"),
        ),
        (json!(42), format!("setting '{name}' must be a text")),
    ];
    for (key, message) in cases {
        let s = discord.settings(json!({ name: key }));
        answer(
            &plugin,
            discord.signed("/single-workflow", s, r#"{"type":0}"#),
        )
        .assert_error(500, &message);
    }
    // Surrounding whitespace, as pasted, is fine.
    let s = discord.settings(json!({ name: format!(" {}\n", discord.public_key()) }));
    let ping = answer(
        &plugin,
        discord.signed("/single-workflow", s, r#"{"type":0}"#),
    );
    assert_eq!(ping.status, 204);
}
