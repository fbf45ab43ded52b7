//! Dropping an app stream cancels the run, and the mock sees it: when the plugin stops
//! reading, and when the HTTP caller goes away.

use std::time::Duration;

use dify_plugin_host::mock::{CallOutcome, DemoApps};
use dify_plugin_host::{EndpointRequest, Limits};
use serde_json::json;

use crate::support::{add_long_chat, demo, load, load_limited, probe};

#[test]
fn dropping_a_stream_early_cancels_the_run() {
    let mock = demo();
    let long_chat = add_long_chat(&mock, 1000);
    let plugin = load("probe", &mock);
    let report = probe(
        &plugin,
        json!({"interface": "chat", "mode": "streaming", "app_id": long_chat, "query": "hi", "take": 2}),
    );
    assert_eq!(report["events"].as_array().unwrap().len(), 2);
    // The host reads ahead at most one batch (256 events) of what the plugin has not asked for.
    match mock.calls()[0].outcome {
        CallOutcome::Cancelled { delivered } => {
            assert!((2..=256).contains(&delivered), "{delivered}")
        }
        ref other => panic!("expected a cancelled run, got {other:?}"),
    }
    assert_eq!(mock.open_streams(), 0);
}

#[test]
fn a_stream_read_to_the_end_is_not_cancelled() {
    let mock = demo();
    let plugin = load("probe", &mock);
    probe(
        &plugin,
        json!({"interface": "workflow", "mode": "streaming", "app_id": DemoApps::WORKFLOW, "inputs": {"name": "A"}}),
    );
    assert_eq!(
        mock.calls()[0].outcome,
        CallOutcome::Completed { delivered: 7 }
    );
}

#[test]
fn a_caller_that_goes_away_cancels_the_plugins_app_stream() {
    let mock = demo();
    let long_chat = &add_long_chat(&mock, 1000);
    let duck = load_limited(
        "duck",
        &mock,
        Limits {
            response_buffer: 1,
            ..Limits::default()
        },
    );

    let mut response = duck.request(EndpointRequest::get(&format!("/duck/{long_chat}?query=hi")));
    let first = response.next().unwrap().unwrap();
    assert!(first.starts_with(br#"{"event":"message","answer":"piece 0 "}"#));
    drop(response);

    assert!(
        duck.wait_idle(Duration::from_secs(10)),
        "the plugin kept running"
    );
    match mock.calls()[0].outcome {
        CallOutcome::Cancelled { delivered } => assert!(delivered < 1000, "{delivered}"),
        ref other => panic!("expected a cancelled run, got {other:?}"),
    }
}
