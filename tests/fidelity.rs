//! The mock's events and replies have the shape of the recorded real Dify 1.13.2 exchanges:
//! the same events in the same order, the same keys in the same order, and the same keys
//! inside `data`. Values (ids, timestamps) differ by nature.
//!
//! Key order is checked on streamed events, whose JSON text reaches the plugin untouched;
//! blocking replies are parsed by the SDK, so only their key sets are compared.

use dify_plugin_host::mock::DemoApps;
use serde_json::{Value, json};

use crate::support::{demo, keys, load, probe, recorded_frames};

fn assert_same_shape(ours: &[Value], recorded: &[Value]) {
    let names = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["event"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(names(ours), names(recorded));
    for (o, r) in ours.iter().zip(recorded) {
        assert_eq!(keys(o), keys(r), "top-level keys of {}", r["event"]);
        if r["data"].is_object() {
            assert_eq!(
                keys(&o["data"]),
                keys(&r["data"]),
                "data keys of {}",
                r["event"]
            );
        }
    }
}

fn key_set(v: &Value) -> Vec<String> {
    let mut keys = keys(v);
    keys.sort();
    keys
}

fn streamed(call: Value) -> Vec<Value> {
    let report = probe(&load("probe", &demo()), call);
    report["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(e["raw"].as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn chatflow_stream_matches_recorded_inner_04() {
    let ours = streamed(
        json!({"interface": "chat", "mode": "streaming", "app_id": DemoApps::CHATFLOW, "query": "hello there"}),
    );
    let recorded = recorded_frames("inner-04-chat-streaming");
    assert_same_shape(&ours, &recorded);
    // The echo itself, and where each piece came from, as recorded.
    for (o, r) in ours
        .iter()
        .zip(&recorded)
        .filter(|(_, r)| r["event"] == "message")
    {
        assert_eq!(o["answer"], r["answer"]);
        assert_eq!(o["from_variable_selector"], r["from_variable_selector"]);
    }
    let started = |events: &[Value]| keys(&events[0]["data"]["inputs"]);
    assert_eq!(started(&ours), started(&recorded));
}

#[test]
fn workflow_stream_matches_recorded_inner_02() {
    let ours = streamed(
        json!({"interface": "workflow", "mode": "streaming", "app_id": DemoApps::WORKFLOW, "inputs": {"name": "Alice"}}),
    );
    let recorded = recorded_frames("inner-02-workflow-streaming");
    assert_same_shape(&ours, &recorded);
    let last = ours.len() - 1;
    assert_eq!(ours[last]["data"]["outputs"], json!({"name": "Alice"}));
}

#[test]
fn blocking_replies_match_recorded_inner_01_and_inner_03() {
    let plugin = load("probe", &demo());
    let workflow = probe(
        &plugin,
        json!({"interface": "workflow", "mode": "blocking", "app_id": DemoApps::WORKFLOW, "inputs": {"name": "Alice"}}),
    );
    let recorded = &recorded_frames("inner-01-workflow-blocking")[0];
    assert_eq!(key_set(&workflow["reply"]), key_set(recorded));
    assert_eq!(
        key_set(&workflow["reply"]["data"]),
        key_set(&recorded["data"])
    );

    let chat = probe(
        &plugin,
        json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::CHATFLOW, "query": "hello there"}),
    );
    let recorded = &recorded_frames("inner-03-chat-blocking")[0];
    assert_eq!(key_set(&chat["reply"]), key_set(recorded));
    assert_eq!(chat["reply"]["answer"], recorded["answer"]);
    assert_eq!(
        key_set(&chat["reply"]["metadata"]["usage"]),
        key_set(&recorded["metadata"]["usage"])
    );
}

#[test]
fn failed_workflow_blocking_reply_matches_recorded_inner_50() {
    let report = probe(
        &load("probe", &demo()),
        json!({"interface": "workflow", "mode": "blocking", "app_id": DemoApps::FAILING_WORKFLOW, "inputs": {"name": "Alice"}}),
    );
    let recorded = &recorded_frames("inner-50-workflow-node-failure-blocking")[0];
    assert_eq!(
        key_set(&report["reply"]["data"]),
        key_set(&recorded["data"])
    );
    assert_eq!(report["reply"]["data"]["error"], recorded["data"]["error"]);
    assert_eq!(report["reply"]["data"]["status"], "failed");
}
