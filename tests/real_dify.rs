//! The real-Dify backends against recorded Dify 1.13.2 traffic, replayed byte for byte on
//! 127.0.0.1 (and cut into arbitrary chunks): the plugin gets exactly the recorded events and
//! the recorded errors as the right typed errors; faults give clear typed errors; dropping a
//! stream closes the upstream connection; and what the backends send has the recorded shape.

use std::time::Duration;

use dify_plugin_host::backend::record::RecordingBackend;
use dify_plugin_host::backend::{DifyConfig, InnerBackend, Secret, ServiceBackend};
use dify_plugin_host::mock::MockDify;
use dify_plugin_host::{Plugin, PluginConfig};
use serde_json::{Value, json};

use crate::replay::{Ending, Pieces, Replay, Reply, recorded, recorded_data, recorded_request};
use crate::support::{keys, load_with, probe};

const INNER_KEY: &str = "inner-key-for-tests";
const APP_KEY: &str = "app-key-for-tests";
const TENANT: &str = "1e4f77b9-8c59-4cc4-88a4-95684fcfed7e";
/// The app id the Service API tests call (the key decides the app there).
const SVC_APP: &str = "svc-app";

fn inner_plugin(replay: &Replay, tweak: impl FnOnce(&mut DifyConfig)) -> Plugin {
    let mut config = DifyConfig::new(&replay.url());
    config.inner_api_key = Some(Secret::new(INNER_KEY));
    config.idle_timeout = Duration::from_secs(10);
    tweak(&mut config);
    load_with(
        "probe",
        PluginConfig::new(InnerBackend::new(&config).unwrap(), TENANT),
    )
}

fn service_plugin(replay: &Replay) -> Plugin {
    service_plugin_as(replay, "")
}

/// A Service-API plugin whose host names `user_id` as the Dify user (`--user-id`).
fn service_plugin_as(replay: &Replay, user_id: &str) -> Plugin {
    let mut config = DifyConfig::new(&replay.url());
    config.app_keys.insert(SVC_APP.into(), Secret::new(APP_KEY));
    config.idle_timeout = Duration::from_secs(10);
    let mut plugin = PluginConfig::new(ServiceBackend::new(&config).unwrap(), TENANT);
    plugin.user_id = user_id.into();
    load_with("probe", plugin)
}

/// The probe call that reproduces a recorded request through the SDK.
fn call_for(case: &str, interface: &str, app_id: &str) -> Value {
    let req = recorded_request(case);
    let mut call = json!({
        "interface": interface,
        "mode": req["response_mode"].as_str().unwrap_or("blocking"),
        "app_id": req["app_id"].as_str().unwrap_or(app_id),
        "query": req["query"].as_str().unwrap_or(""),
        "inputs": req.get("inputs").cloned().unwrap_or(json!({})),
    });
    if let Some(id) = req["conversation_id"].as_str().filter(|id| !id.is_empty()) {
        call["conversation_id"] = json!(id);
    }
    call
}

fn interface_of(case: &str) -> &'static str {
    let req = recorded_request(case);
    if case.contains("completion") {
        "completion"
    } else if req["query"].is_string() {
        "chat"
    } else {
        "workflow"
    }
}

/// What the plugin got, as events (streaming) or a one-element list (blocking).
fn received_data(report: &Value) -> Vec<Value> {
    if let Some(reply) = report.get("reply") {
        return vec![reply.clone()];
    }
    assert_eq!(report["stream_error"], Value::Null, "{report}");
    report["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events: {report}"))
        .iter()
        .map(|e| serde_json::from_str(e["raw"].as_str().unwrap()).unwrap())
        .collect()
}

fn assert_replays_exactly(case: &str, interface: &str, plugin_for: impl Fn(&Replay) -> Plugin) {
    let expected = recorded_data(case);
    for pieces in [
        Pieces::Whole,
        Pieces::Every(1),
        Pieces::Every(7),
        Pieces::Every(509),
    ] {
        let replay = Replay::start(vec![recorded(case).pieces(pieces)]);
        let report = probe(&plugin_for(&replay), call_for(case, interface, SVC_APP));
        let got = received_data(&report);
        assert_eq!(got, expected, "{case} cut {pieces:?}");
        if report.get("events").is_some() {
            // Streamed events reach the plugin as Dify's own text: key order kept too.
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!(keys(g), keys(e), "{case}");
            }
        }
    }
}

#[test]
fn inner_api_recorded_successes_reach_the_plugin_exactly() {
    for case in [
        "inner-01-workflow-blocking",
        "inner-02-workflow-streaming",
        "inner-03-chat-blocking",
        "inner-04-chat-streaming",
        "inner-05b-chat-blocking-continue-with-enduser-id",
        "inner-17-workflow-extra-unknown-input-blocking",
        "inner-34-account-id-as-user-id",
        "inner-36-other-tenant-own-app-ok",
        "inner-37-empty-user-id-anonymous",
        "inner-50-workflow-node-failure-blocking",
        "inner-70-daemonshape-workflow-blocking",
        "inner-72-daemonshape-chat-blocking",
    ] {
        assert_replays_exactly(case, interface_of(case), |r| inner_plugin(r, |_| {}));
    }
}

#[test]
fn recorded_wire_bytes_with_one_frame_per_http_chunk_decode_the_same() {
    let streamed = Replay::start(vec![
        recorded("inner-60-RAWWIRE-workflow-streaming").pieces(Pieces::Raw),
    ]);
    let report = probe(
        &inner_plugin(&streamed, |_| {}),
        call_for("inner-60-RAWWIRE-workflow-streaming", "workflow", ""),
    );
    let events = received_data(&report);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let recorded_names: Vec<String> = recorded_data("inner-02-workflow-streaming")
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, recorded_names);
    assert_eq!(events[6]["data"]["outputs"], json!({"greeting": "Alice"}));

    let blocking = Replay::start(vec![
        recorded("inner-61-RAWWIRE-workflow-blocking").pieces(Pieces::Raw),
    ]);
    let report = probe(
        &inner_plugin(&blocking, |_| {}),
        call_for("inner-61-RAWWIRE-workflow-blocking", "workflow", ""),
    );
    assert_eq!(report["reply"]["data"]["status"], "succeeded");
    assert_eq!(
        report["reply"]["data"]["outputs"],
        json!({"greeting": "Alice"})
    );
}

#[test]
fn service_api_recorded_successes_reach_the_plugin_exactly() {
    for case in [
        "svc-01-workflow-run-blocking",
        "svc-02-workflow-run-streaming",
        "svc-03-chat-blocking",
        "svc-04-chat-streaming",
        "svc-05-chat-blocking-continue",
        "svc-20-workflow-no-response-mode",
        "svc-21-other-tenant-key-workflow",
        "svc-50-workflow-node-failure-blocking",
    ] {
        assert_replays_exactly(case, interface_of(case), service_plugin);
    }
}

/// (case, the typed error kind, Dify's code or "" for none, a part of the message or "" for an empty one)
type ErrorCase = (&'static str, &'static str, &'static str, &'static str);

fn assert_errors(cases: &[ErrorCase], plugin_for: impl Fn(&Replay) -> Plugin) {
    for (case, kind, code, message) in cases {
        let replay = Replay::start(vec![recorded(case)]);
        let report = probe(
            &plugin_for(&replay),
            call_for(case, interface_of(case), SVC_APP),
        );
        let error = &report["error"];
        assert_eq!(error["kind"], *kind, "{case}: {report}");
        if !code.is_empty() {
            assert_eq!(error["code"], *code, "{case}");
        }
        if message.is_empty() {
            // Dify 1.13 reports an unknown conversation with an empty message.
            assert_eq!(error["message"], "", "{case}");
            continue;
        }
        // Dify's message when it gave one, else the host's own text.
        let text = error["message"]
            .as_str()
            .unwrap_or_else(|| error["display"].as_str().unwrap());
        assert!(text.contains(message), "{case}: {message:?} not in {error}");
    }
}

#[test]
fn inner_api_recorded_errors_become_typed_errors() {
    assert_errors(
        &[
            (
                "inner-05-chat-blocking-continue-conversation",
                "not-found",
                "invalid_param",
                "",
            ),
            (
                "inner-06-chat-streaming-continue-conversation",
                "not-found",
                "invalid_param",
                "",
            ),
            (
                "inner-35-chat-unknown-conversation-id",
                "not-found",
                "invalid_param",
                "",
            ),
            (
                "inner-10-chat-missing-query-blocking",
                "invalid-request",
                "invalid_param",
                "missing query",
            ),
            (
                "inner-11-chat-missing-query-streaming",
                "invalid-request",
                "invalid_param",
                "missing query",
            ),
            (
                "inner-12-chat-empty-query-streaming",
                "invalid-request",
                "invalid_param",
                "missing query",
            ),
            (
                "inner-74-daemonshape-chat-empty-query",
                "invalid-request",
                "invalid_param",
                "missing query",
            ),
            (
                "inner-13-workflow-missing-required-input-blocking",
                "invalid-request",
                "invalid_param",
                "name is required in input form",
            ),
            (
                "inner-14-workflow-missing-required-input-streaming",
                "invalid-request",
                "invalid_param",
                "name is required in input form",
            ),
            (
                "inner-15-workflow-input-wrong-type-streaming",
                "invalid-request",
                "invalid_param",
                "(type 'text-input') name in input form must be a string",
            ),
            (
                "inner-20-cross-tenant-app-id",
                "not-found",
                "invalid_param",
                "app not found",
            ),
            (
                "inner-21-random-uuid-app-id",
                "not-found",
                "invalid_param",
                "app not found",
            ),
            (
                "inner-22-non-uuid-app-id",
                "not-found",
                "invalid_param",
                "app not found",
            ),
            (
                "inner-23-unknown-tenant",
                "invalid-request",
                "invalid_param",
                "tenant not found",
            ),
            (
                "inner-27-bad-key-and-unknown-tenant",
                "invalid-request",
                "invalid_param",
                "tenant not found",
            ),
            (
                "inner-24-missing-tenant-id",
                "invalid-request",
                "invalid_param",
                "1 validation error for TenantUserPayload",
            ),
            (
                "inner-32-no-user-id",
                "invalid-request",
                "invalid_param",
                "1 validation error for TenantUserPayload",
            ),
            (
                "inner-28-missing-response-mode",
                "invalid-request",
                "invalid_param",
                "invalid payload",
            ),
            (
                "inner-29-invalid-response-mode",
                "invalid-request",
                "invalid_param",
                "invalid payload",
            ),
            (
                "inner-30-missing-inputs",
                "invalid-request",
                "invalid_param",
                "invalid payload",
            ),
            (
                "inner-31-invalid-json",
                "invalid-request",
                "invalid_param",
                "2 validation errors for TenantUserPayload",
            ),
            (
                "inner-52-chat-node-failure-blocking",
                "app-failed",
                "invalid_param",
                "Run failed: Failed to execute code",
            ),
            (
                "inner-25-bad-inner-key",
                "permission-denied",
                "",
                "Dify refused the host's inner API key",
            ),
            (
                "inner-26-no-inner-key",
                "permission-denied",
                "",
                "Dify refused the host's inner API key",
            ),
            (
                "inner-07-completion-blocking",
                "internal",
                "",
                "a known Dify defect",
            ),
            (
                "inner-08-completion-streaming",
                "internal",
                "",
                "use the Service API backend",
            ),
        ],
        |r| inner_plugin(r, |_| {}),
    );
}

#[test]
fn service_api_recorded_errors_become_typed_errors() {
    assert_errors(
        &[
            (
                "svc-07-chat-continue-other-user",
                "not-found",
                "not_found",
                "Conversation Not Exists.",
            ),
            (
                "svc-19-chat-unknown-conversation",
                "not-found",
                "not_found",
                "Conversation Not Exists.",
            ),
            (
                "svc-08-completion-blocking",
                "invalid-request",
                "invalid_param",
                "2 validation errors for ModelConfigEntity",
            ),
            (
                "svc-09-completion-streaming",
                "invalid-request",
                "invalid_param",
                "2 validation errors for ModelConfigEntity",
            ),
            (
                "svc-10-chat-missing-query",
                "invalid-request",
                "invalid_param",
                "1 validation error for ChatRequestPayload",
            ),
            (
                "svc-12-workflow-missing-input-blocking",
                "invalid-request",
                "invalid_param",
                "name is required in input form",
            ),
            (
                "svc-14-workflow-wrong-type-input",
                "invalid-request",
                "invalid_param",
                "(type 'text-input') name in input form must be a string",
            ),
            (
                "svc-16-chat-endpoint-with-workflow-key",
                "invalid-request",
                "not_chat_app",
                "Please check if your app mode matches",
            ),
            (
                "svc-17-workflow-endpoint-with-chat-key",
                "invalid-request",
                "",
                "Please check if your app mode matches",
            ),
            (
                "svc-18-workflow-no-user",
                "invalid-request",
                "invalid_param",
                "Arg user must be provided.",
            ),
            (
                "svc-52-chat-node-failure-blocking",
                "app-failed",
                "invalid_param",
                "Run failed: Failed to execute code",
            ),
            (
                "svc-15-bad-api-key",
                "permission-denied",
                "",
                "Dify refused the app's Service API key",
            ),
        ],
        service_plugin,
    );
}

#[test]
fn an_unknown_host_user_tells_the_operator_which_setting_to_fix() {
    // Dify's answer for a user id it cannot find (reference §3.9, `_get_user`).
    let replay = Replay::start(vec![Reply::new(
        "HTTP/1.1 400 BAD REQUEST",
        "application/json",
        br#"{"code": "invalid_param", "message": "user not found", "status": 400}"#.to_vec(),
    )]);
    let report = probe(
        &inner_plugin(&replay, |_| {}),
        json!({"interface": "workflow", "mode": "blocking", "app_id": "a", "inputs": {}}),
    );
    assert_eq!(report["error"]["kind"], "internal", "{report}");
    let display = report["error"]["display"].as_str().unwrap();
    assert!(
        display.contains("--user-id") && display.contains("user not found"),
        "{display}"
    );
}

#[test]
fn error_texts_name_the_app_once() {
    let replay = Replay::start(vec![recorded("inner-25-bad-inner-key")]);
    let report = probe(
        &inner_plugin(&replay, |_| {}),
        json!({"interface": "chat", "mode": "blocking", "app_id": "app-x", "query": "hi"}),
    );
    let display = report["error"]["display"].as_str().unwrap();
    assert_eq!(display.matches("app-x").count(), 1, "{display}");
    assert!(
        display.starts_with("chat app 'app-x': permission denied: "),
        "{display}"
    );

    let body = frames_body();
    let replay = Replay::start(vec![
        Reply::new("HTTP/1.1 200 OK", "text/event-stream", &body[..20]).ending(Ending::Drop),
    ]);
    let report = probe(
        &inner_plugin(&replay, |_| {}),
        json!({"interface": "workflow", "mode": "streaming", "app_id": "app-y", "inputs": {}}),
    );
    let display = report["stream_error"]["display"].as_str().unwrap();
    assert_eq!(display.matches("app-y").count(), 1, "{display}");
}

#[test]
fn a_service_stream_that_ends_with_only_a_ping_is_explained() {
    for case in [
        "svc-11-chat-empty-query-streaming",
        "svc-13-workflow-missing-input-streaming",
    ] {
        let replay = Replay::start(vec![recorded(case)]);
        let report = probe(
            &service_plugin(&replay),
            call_for(case, interface_of(case), SVC_APP),
        );
        assert_eq!(report["events"], json!([]), "{case}");
        let error = &report["stream_error"];
        assert_eq!(error["kind"], "internal", "{case}");
        assert!(
            error["display"]
                .as_str()
                .unwrap()
                .contains("Dify ended the stream without any event"),
            "{case}: {error}"
        );
    }
}

/// A streaming workflow call through the inner backend, with the reply given.
fn stream_with(reply: Reply, tweak: impl FnOnce(&mut DifyConfig)) -> Value {
    let replay = Replay::start(vec![reply]);
    probe(
        &inner_plugin(&replay, tweak),
        json!({"interface": "workflow", "mode": "streaming", "app_id": "a", "inputs": {}}),
    )
}

fn frames_body() -> Vec<u8> {
    recorded("inner-02-workflow-streaming").body
}

#[test]
fn a_connection_dropped_mid_stream_is_a_clear_error_after_the_events_before_it() {
    let body = frames_body();
    let first_frame_end = 14 + u32::from_le_bytes(body[4..8].try_into().unwrap()) as usize;
    let reply = Reply::new(
        "HTTP/1.1 200 OK",
        "text/event-stream",
        &body[..first_frame_end + 20],
    )
    .ending(Ending::Drop);
    let report = stream_with(reply, |_| {});
    assert_eq!(report["events"].as_array().unwrap().len(), 1);
    let error = &report["stream_error"];
    assert_eq!(error["kind"], "internal");
    assert!(
        error["display"]
            .as_str()
            .unwrap()
            .contains("the response broke off"),
        "{error}"
    );
}

#[test]
fn a_truncated_frame_is_a_clear_error() {
    let body = frames_body();
    let reply = Reply::new("HTTP/1.1 200 OK", "text/event-stream", &body[..100]);
    let report = stream_with(reply, |_| {});
    assert!(
        report["stream_error"]["display"]
            .as_str()
            .unwrap()
            .contains("the response ended inside a frame (100 of"),
        "{report}"
    );
}

#[test]
fn garbage_bytes_are_a_clear_error() {
    let reply = Reply::new("HTTP/1.1 200 OK", "text/event-stream", "<html>oops</html>");
    let report = stream_with(reply, |_| {});
    assert!(
        report["stream_error"]["display"]
            .as_str()
            .unwrap()
            .contains("not a Dify frame at byte 0: magic 0x3c, expected 0x0f"),
        "{report}"
    );
}

#[test]
fn an_oversized_frame_is_refused() {
    let report = stream_with(recorded("inner-02-workflow-streaming"), |c| {
        c.max_frame_bytes = 512;
    });
    assert!(
        report["stream_error"]["display"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit of 512 bytes"),
        "{report}"
    );
}

#[test]
fn a_stalled_server_times_out_after_the_idle_timeout() {
    let body = frames_body();
    let first_frame_end = 14 + u32::from_le_bytes(body[4..8].try_into().unwrap()) as usize;
    let reply = Reply::new(
        "HTTP/1.1 200 OK",
        "text/event-stream",
        &body[..first_frame_end],
    )
    .ending(Ending::Stall);
    let report = stream_with(reply, |c| c.idle_timeout = Duration::from_millis(300));
    assert_eq!(report["events"].as_array().unwrap().len(), 1);
    assert_eq!(report["stream_error"]["kind"], "timeout", "{report}");
    assert!(
        report["stream_error"]["display"]
            .as_str()
            .unwrap()
            .contains("Dify sent nothing for 0.3 s"),
        "{report}"
    );
}

#[test]
fn a_proxy_502_page_is_a_clear_error() {
    let reply = Reply::new(
        "HTTP/1.1 502 Bad Gateway",
        "text/html",
        "<html><body>502 Bad Gateway</body></html>",
    );
    let report = stream_with(reply, |_| {});
    assert_eq!(report["error"]["kind"], "internal");
    assert!(
        report["error"]["display"]
            .as_str()
            .unwrap()
            .contains("Dify answered HTTP 502 with a body that is not Dify's JSON"),
        "{report}"
    );
}

#[test]
fn dropping_the_stream_in_the_plugin_closes_the_upstream_connection() {
    let body = frames_body();
    let first_frame_end = 14 + u32::from_le_bytes(body[4..8].try_into().unwrap()) as usize;
    let replay = Replay::start(vec![
        Reply::new(
            "HTTP/1.1 200 OK",
            "text/event-stream",
            &body[..first_frame_end],
        )
        .ending(Ending::Stall),
    ]);
    let report = probe(
        &inner_plugin(&replay, |_| {}),
        json!({"interface": "workflow", "mode": "streaming", "app_id": "a", "take": 1}),
    );
    assert_eq!(report["events"].as_array().unwrap().len(), 1);
    assert!(
        replay.wait_hangup(Duration::from_secs(10)),
        "the upstream connection stayed open"
    );
}

#[test]
fn inner_requests_have_the_recorded_daemon_shape_and_the_hosts_identity() {
    let replay = Replay::start(vec![
        recorded("inner-72-daemonshape-chat-blocking"),
        recorded("inner-70-daemonshape-workflow-blocking"),
    ]);
    let plugin = inner_plugin(&replay, |_| {});
    probe(
        &plugin,
        call_for("inner-72-daemonshape-chat-blocking", "chat", ""),
    );
    probe(
        &plugin,
        call_for("inner-70-daemonshape-workflow-blocking", "workflow", ""),
    );
    let received = replay.received();
    for (request, case) in received.iter().zip([
        "inner-72-daemonshape-chat-blocking",
        "inner-70-daemonshape-workflow-blocking",
    ]) {
        assert_eq!(request.path, "/inner/api/invoke/app");
        assert_eq!(request.header("x-inner-api-key"), Some(INNER_KEY));
        let sent = request.json();
        let recorded = recorded_request(case);
        assert_eq!(keys(&sent), keys(&recorded), "{case}");
        assert_eq!(sent["tenant_id"], TENANT);
        for key in [
            "type",
            "app_id",
            "inputs",
            "query",
            "response_mode",
            "conversation_id",
            "user",
            "files",
        ] {
            assert_eq!(sent[key], recorded[key], "{case}: {key}");
        }
    }
}

#[test]
fn service_requests_have_the_recorded_shape_and_a_default_user() {
    let replay = Replay::start(vec![
        recorded("svc-04-chat-streaming"),
        recorded("svc-01-workflow-run-blocking"),
    ]);
    let plugin = service_plugin(&replay);
    probe(&plugin, call_for("svc-04-chat-streaming", "chat", SVC_APP));
    probe(
        &plugin,
        call_for("svc-01-workflow-run-blocking", "workflow", SVC_APP),
    );
    let received = replay.received();
    assert_eq!(received[0].path, "/v1/chat-messages");
    assert_eq!(received[1].path, "/v1/workflows/run");
    for (request, case) in received
        .iter()
        .zip(["svc-04-chat-streaming", "svc-01-workflow-run-blocking"])
    {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {APP_KEY}").as_str())
        );
        let sent = request.json();
        assert_eq!(keys(&sent), keys(&recorded_request(case)), "{case}");
        assert_eq!(sent["user"], "dify-plugin-wasm");
    }
}

#[test]
fn every_backend_sends_the_hosts_user_when_the_plugin_names_none() {
    let replay = Replay::start(vec![
        recorded("svc-01-workflow-run-blocking"),
        recorded("svc-03-chat-blocking"),
    ]);
    let plugin = service_plugin_as(&replay, "svc-user-1");
    probe(
        &plugin,
        call_for("svc-01-workflow-run-blocking", "workflow", SVC_APP),
    );
    let mut own = call_for("svc-03-chat-blocking", "chat", SVC_APP);
    own["user"] = json!("the-plugins-user");
    probe(&plugin, own);
    let received = replay.received();
    assert_eq!(received[0].json()["user"], "svc-user-1");
    assert_eq!(received[1].json()["user"], "the-plugins-user");

    let replay = Replay::start(vec![recorded("inner-70-daemonshape-workflow-blocking")]);
    let mut config = DifyConfig::new(&replay.url());
    config.inner_api_key = Some(Secret::new(INNER_KEY));
    let mut host = PluginConfig::new(InnerBackend::new(&config).unwrap(), TENANT);
    host.user_id = "0f0e0d0c-0000-4000-8000-000000000001".into();
    probe(
        &load_with("probe", host),
        call_for("inner-70-daemonshape-workflow-blocking", "workflow", ""),
    );
    assert_eq!(
        replay.received()[0].json()["user_id"],
        "0f0e0d0c-0000-4000-8000-000000000001"
    );
}

/// A plugin author's async test: the real backends neither panic inside a tokio runtime
/// (no nested `block_on`) nor when they are dropped there.
#[tokio::test(flavor = "current_thread")]
async fn a_real_backend_serves_a_plugin_driven_from_async_code() {
    let case = "inner-04-chat-streaming";
    let replay = Replay::start(vec![recorded(case)]);
    let plugin = inner_plugin(&replay, |_| {});
    let call = call_for(case, "chat", "");
    let response = plugin.request_inline(dify_plugin_host::EndpointRequest::post(
        "/call",
        call.to_string(),
    ));
    assert_eq!(response.status(), 200);
    let report: Value = serde_json::from_str(&response.text().unwrap()).unwrap();
    assert_eq!(received_data(&report), recorded_data(case));
    drop(plugin);
}

#[test]
fn an_app_without_a_service_key_is_refused_before_any_request() {
    let replay = Replay::start(vec![]);
    let report = probe(
        &service_plugin(&replay),
        json!({"interface": "workflow", "mode": "blocking", "app_id": "other-app"}),
    );
    assert_eq!(report["error"]["kind"], "permission-denied");
    assert!(replay.received().is_empty());
}

#[test]
fn secrets_never_reach_errors_or_the_config_debug_output() {
    let mut config = DifyConfig::new("http://127.0.0.1:9");
    config.inner_api_key = Some(Secret::new(INNER_KEY));
    config.app_keys.insert("a".into(), Secret::new(APP_KEY));
    let debug = format!("{config:?}");
    assert!(
        !debug.contains(INNER_KEY) && !debug.contains(APP_KEY),
        "{debug}"
    );

    let replay = Replay::start(vec![recorded("inner-25-bad-inner-key")]);
    let report = probe(
        &inner_plugin(&replay, |_| {}),
        json!({"interface": "chat", "mode": "blocking", "app_id": "a", "query": "hi"}),
    );
    assert!(!report.to_string().contains(INNER_KEY), "{report}");
}

#[test]
fn record_mode_captures_a_real_stream_that_the_mock_then_replays() {
    let case = "inner-04-chat-streaming";
    let replay = Replay::start(vec![recorded(case)]);
    let mut config = DifyConfig::new(&replay.url());
    config.inner_api_key = Some(Secret::new(INNER_KEY));
    let file = std::env::temp_dir().join(format!("recorded-{}.json", std::process::id()));
    let recording = RecordingBackend::new(
        Box::new(InnerBackend::new(&config).unwrap()),
        file.clone(),
        TENANT,
    );
    let call = call_for(case, "chat", "");
    let live = probe(
        &load_with("probe", PluginConfig::new(recording, TENANT)),
        call.clone(),
    );

    let (mock, workspace): (MockDify, String) = MockDify::from_file(&file).unwrap();
    assert_eq!(workspace, TENANT);
    let replayed = probe(&load_with("probe", PluginConfig::new(mock, TENANT)), call);
    assert_eq!(received_data(&replayed), received_data(&live));
    assert_eq!(received_data(&live), recorded_data(case));
}
