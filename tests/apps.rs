//! Every app interface, blocking and streaming, through the SDK and the examples.

use dify_plugin_host::mock::{AppMode, Behaviour, DemoApps, MockApp};
use dify_plugin_host::{EndpointRequest, PluginFailure};
use serde_json::{Value, json};

use crate::support::{demo, load, names, probe};

#[test]
fn chat_blocking_returns_the_whole_answer_with_a_conversation() {
    let probe_plugin = load("probe", &demo());
    let report = probe(
        &probe_plugin,
        json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::CHATFLOW, "query": "hello there"}),
    );
    let reply = &report["reply"];
    assert_eq!(reply["event"], "message");
    assert_eq!(reply["mode"], "advanced-chat");
    assert_eq!(reply["answer"], "You said: hello there");
    assert!(
        reply["conversation_id"]
            .as_str()
            .is_some_and(|c| c.len() == 36)
    );
}

#[test]
fn chat_streaming_on_a_chatbot_yields_messages_then_message_end() {
    let probe_plugin = load("probe", &demo());
    let report = probe(
        &probe_plugin,
        json!({"interface": "chat", "mode": "streaming", "app_id": DemoApps::CHATBOT, "query": "hi"}),
    );
    assert_eq!(names(&report), ["message", "message", "message_end"]);
    assert_eq!(report["events"][1]["data"]["answer"], "hi");
    assert_eq!(report["stream_error"], Value::Null);
}

#[test]
fn agent_streaming_yields_thoughts_and_agent_messages() {
    let probe_plugin = load("probe", &demo());
    let report = probe(
        &probe_plugin,
        json!({"interface": "chat", "mode": "streaming", "app_id": DemoApps::AGENT, "query": "ducks?"}),
    );
    assert_eq!(
        names(&report),
        [
            "agent_thought",
            "agent_message",
            "agent_message",
            "agent_message",
            "agent_thought",
            "message_end"
        ]
    );
}

#[test]
fn a_conversation_continues_with_the_id_from_the_first_reply() {
    let mock = demo();
    let probe_plugin = load("probe", &mock);
    let first = probe(
        &probe_plugin,
        json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::CHATFLOW, "query": "one"}),
    );
    let conversation = first["reply"]["conversation_id"].as_str().unwrap();
    let second = probe(
        &probe_plugin,
        json!({"interface": "chat", "mode": "streaming", "app_id": DemoApps::CHATFLOW,
               "query": "two", "conversation_id": conversation}),
    );
    let started = &second["events"][0]["data"];
    assert_eq!(started["conversation_id"], conversation);
    assert_eq!(started["data"]["inputs"]["sys.dialogue_count"], 2);
    assert_eq!(
        mock.calls()[1].request.conversation_id.as_deref(),
        Some(conversation)
    );
}

#[test]
fn workflow_blocking_returns_the_run_result_without_an_event_key() {
    let probe_plugin = load("probe", &demo());
    let report = probe(
        &probe_plugin,
        json!({"interface": "workflow", "mode": "blocking", "app_id": DemoApps::WORKFLOW, "inputs": {"name": "Alice"}}),
    );
    let reply = &report["reply"];
    assert_eq!(reply.get("event"), None);
    assert_eq!(reply["data"]["status"], "succeeded");
    assert_eq!(reply["data"]["outputs"], json!({"name": "Alice"}));
}

#[test]
fn workflow_streaming_yields_the_run_node_by_node() {
    let probe_plugin = load("probe", &demo());
    let report = probe(
        &probe_plugin,
        json!({"interface": "workflow", "mode": "streaming", "app_id": DemoApps::WORKFLOW, "inputs": {"name": "Alice"}}),
    );
    assert_eq!(
        names(&report),
        [
            "workflow_started",
            "node_started",
            "text_chunk",
            "node_finished",
            "node_started",
            "node_finished",
            "workflow_finished"
        ]
    );
    assert_eq!(report["events"][2]["data"]["data"]["text"], "Alice");
}

#[test]
fn a_workflow_app_answers_the_chat_interface_too_because_dify_routes_on_the_mode() {
    let probe_plugin = load("probe", &demo());
    let report = probe(
        &probe_plugin,
        json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::WORKFLOW,
               "query": "ignored", "inputs": {"name": "Bob"}}),
    );
    assert_eq!(report["reply"]["data"]["outputs"], json!({"name": "Bob"}));
}

#[test]
fn completion_blocking_and_streaming_through_the_example() {
    let writer = load("completion-writer", &demo());
    let target = format!("/complete/{}", DemoApps::COMPLETION);
    let inputs = json!({"topic": "ducks"}).to_string();

    let streamed = writer.request(EndpointRequest::post(&target, inputs.clone()));
    assert_eq!(streamed.status(), 200);
    // Only the answer's pieces, without the events around them.
    assert_eq!(streamed.text().unwrap(), "Ducks quack and swim.");

    let blocking = writer.request(EndpointRequest::post(
        &format!("{target}?mode=blocking"),
        inputs,
    ));
    assert_eq!(blocking.text().unwrap(), "Ducks quack and swim.");
}

#[test]
fn workflow_example_streams_server_sent_events_and_blocks_as_json() {
    let runner = load("workflow-runner", &demo());
    let target = format!("/workflow/{}", DemoApps::WORKFLOW);
    let inputs = json!({"name": "Alice"}).to_string();

    let streamed = runner.request(EndpointRequest::post(
        &format!("{target}?mode=streaming"),
        inputs.clone(),
    ));
    assert_eq!(streamed.header("content-type"), Some("text/event-stream"));
    let body = streamed.text().unwrap();
    let events: Vec<Value> = body
        .split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| serde_json::from_str(f.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    assert_eq!(events.len(), 7);
    assert_eq!(events[6]["event"], "workflow_finished");
    assert_eq!(events[6]["data"]["outputs"], json!({"name": "Alice"}));

    let blocking = runner.request(EndpointRequest::post(&target, inputs));
    assert_eq!(blocking.header("content-type"), Some("application/json"));
    let reply: Value = serde_json::from_str(&blocking.text().unwrap()).unwrap();
    assert_eq!(reply["data"]["outputs"], json!({"name": "Alice"}));
}

#[test]
fn an_app_failing_mid_stream_cuts_the_examples_body() {
    let mock = demo();
    let failing = "c0000000-0000-4000-8000-000000000200";
    mock.add_app(
        MockApp::new(DemoApps::TENANT, failing, AppMode::Completion)
            .behaviour(Behaviour::Fail("[openai] Error: Rate limit reached".into())),
    )
    .unwrap();
    let writer = load("completion-writer", &mock);
    let mut response = writer.request(EndpointRequest::post(&format!("/complete/{failing}"), "{}"));
    // The head went out before the app failed: the failure can only cut the body.
    assert_eq!(response.status(), 200);
    match response.next() {
        Some(Err(PluginFailure::Handler(text))) => assert_eq!(
            text,
            "the app failed: [openai] Error: Rate limit reached (completion_request_error)"
        ),
        other => panic!("expected a cut body, got {other:?}"),
    }
    assert!(response.next().is_none());
}
