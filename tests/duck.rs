//! The canonical Duck plugin: a chat app's events streamed back as `{json} <br>` lines.

use dify_plugin_host::EndpointRequest;
use dify_plugin_host::mock::{CallOutcome, DemoApps};
use dify_plugin_host::{AppKind, ResponseMode};
use serde_json::Value;

use crate::support::{demo, load};

fn duck_request(app_id: &str, query: &str) -> EndpointRequest {
    EndpointRequest::get(&format!("/duck/{app_id}?query={query}"))
}

#[test]
fn duck_streams_the_chat_apps_events_as_html_lines_in_order() {
    let mock = demo();
    let duck = load("duck", &mock);

    let response = duck.request(duck_request(DemoApps::CHATFLOW, "hello%20there"));
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("text/html"));
    let body = response.text().unwrap();

    let lines: Vec<Value> = body
        .split(" <br>")
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let names: Vec<&str> = lines.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "workflow_started",
            "node_started",
            "message",
            "message",
            "node_finished",
            "node_started",
            "node_finished",
            "message_end",
            "workflow_finished"
        ]
    );
    let answer: String = lines
        .iter()
        .filter(|e| e["event"] == "message")
        .map(|e| e["answer"].as_str().unwrap())
        .collect();
    assert_eq!(answer, "You said: hello there");

    let calls = mock.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].request.kind, AppKind::Chat);
    assert_eq!(calls[0].request.response_mode, ResponseMode::Streaming);
    assert_eq!(calls[0].request.query.as_deref(), Some("hello there"));
    assert_eq!(calls[0].outcome, CallOutcome::Completed { delivered: 9 });
}

#[test]
fn duck_batches_ready_events_but_sends_each_before_waiting_on_the_app() {
    let mock = demo();
    let duck = load("duck", &mock);
    // All three events are ready at once: one write carries them.
    let chunks: Vec<Vec<u8>> = duck
        .request(duck_request(DemoApps::CHATBOT, "hi"))
        .map(|c| c.unwrap())
        .collect();
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&chunks[0]).matches(" <br>").count(),
        3
    );

    // The app stalls after its first event: that event goes out before the plugin waits.
    let gate = mock.gate(DemoApps::CHATBOT, 1);
    let mut response = duck.request(duck_request(DemoApps::CHATBOT, "hi"));
    let first = response.next().unwrap().unwrap();
    assert_eq!(String::from_utf8_lossy(&first).matches(" <br>").count(), 1);
    assert!(gate.wait_for_held(1, std::time::Duration::from_secs(10)));
    gate.open();
    let rest = response.read_all().unwrap();
    assert_eq!(String::from_utf8_lossy(&rest).matches(" <br>").count(), 2);
}

#[test]
fn duck_without_an_app_id_matches_no_endpoint() {
    let duck = load("duck", &demo());
    let response = duck.request(EndpointRequest::get("/duck/"));
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.text().unwrap(),
        "no endpoint of plugin duck matches GET /duck/; it serves: GET /duck/<app_id>"
    );
}

#[test]
fn duck_refuses_other_methods_with_a_405_and_allow() {
    let duck = load("duck", &demo());
    let response = duck.request(EndpointRequest::post("/duck/x", ""));
    assert_eq!(response.status(), 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
    assert_eq!(
        response.text().unwrap(),
        "POST /duck/x is not allowed; this endpoint accepts GET, HEAD"
    );
}

#[test]
fn duck_declares_its_endpoint_like_dify_yaml() {
    let duck = load("duck", &demo());
    let routes: Vec<(&str, &str)> = duck
        .routes()
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(routes, [("GET", "/duck/<app_id>")]);
}

#[test]
fn duck_on_an_unknown_app_fails_with_a_500_naming_the_app() {
    let duck = load("duck", &demo());
    let missing = "00000000-0000-4000-8000-00000000dead";
    let response = duck.request(duck_request(missing, "hi"));
    assert_eq!(response.status(), 500);
    assert_eq!(
        response.text().unwrap(),
        format!(
            "the plugin failed: chat app '{missing}': not found: app not found (Dify: HTTP 400, invalid_param)"
        )
    );
}
