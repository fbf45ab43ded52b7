//! A plugin that panics, traps, loops or asks too much fails its own request with a clear
//! status and text, and the host goes on serving.

use std::time::Duration;

use dify_plugin_host::mock::DemoApps;
use dify_plugin_host::{EndpointRequest, Limits, PluginFailure};
use serde_json::{Value, json};

use crate::support::{demo, load, load_limited, probe};

fn still_serves(plugin: &dify_plugin_host::Plugin) {
    let report = probe(
        plugin,
        json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::CHATBOT, "query": "still there?"}),
    );
    assert_eq!(report["reply"]["answer"], "You said: still there?");
}

#[test]
fn a_panicking_plugin_gives_a_500_with_the_panic_message_and_the_host_goes_on() {
    let plugin = load("probe", &demo());
    let response = plugin.request(EndpointRequest::get("/panic"));
    assert_eq!(response.status(), 500);
    let text = response.text().unwrap();
    assert!(text.starts_with("the plugin crashed: "), "{text}");
    assert!(text.contains("the probe panics on purpose"), "{text}");
    still_serves(&plugin);
}

#[test]
fn a_panic_mid_stream_cuts_the_body_so_it_never_looks_complete() {
    let plugin = load("probe", &demo());
    let mut response = plugin.request(EndpointRequest::get("/panic-mid-stream"));
    assert_eq!(response.status(), 200);
    assert_eq!(response.next().unwrap().unwrap(), b"line 0\n");
    assert_eq!(response.next().unwrap().unwrap(), b"line 1\n");
    match response.next() {
        Some(Err(PluginFailure::Trap(text))) => {
            assert!(text.contains("the probe panics mid-stream"), "{text}")
        }
        other => panic!("expected the body to end in a trap, got {other:?}"),
    }
    assert!(response.next().is_none());
    still_serves(&plugin);
}

#[test]
fn a_plugin_that_loops_forever_hits_its_deadline_with_a_504() {
    let plugin = load_limited(
        "probe",
        &demo(),
        Limits {
            deadline: Duration::from_millis(200),
            ..Limits::default()
        },
    );
    let response = plugin.request(EndpointRequest::get("/loop"));
    assert_eq!(response.status(), 504);
    assert_eq!(
        response.text().unwrap(),
        "the plugin ran past its deadline of 200 ms"
    );
    still_serves(&plugin);
}

#[test]
fn a_bad_request_from_the_handler_is_a_400_with_its_text() {
    let plugin = load("probe", &demo());
    let response = plugin.request(EndpointRequest::get("/bad-request"));
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().unwrap(),
        "bad request: the probe wants a better request"
    );
}

#[test]
fn open_streams_are_capped_per_request_and_all_released_after_it() {
    let mock = demo();
    let plugin = load("probe", &mock);
    let response = plugin.request(EndpointRequest::get(&format!(
        "/streams?app_id={}",
        DemoApps::WORKFLOW
    )));
    let report: Value = serde_json::from_str(&response.text().unwrap()).unwrap();
    assert_eq!(report["opened"], Limits::default().open_streams);
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("already has 16 open app streams, the host's limit"),
        "{report}"
    );
    assert_eq!(mock.open_streams(), 0);
}

#[test]
fn plugin_log_lines_reach_the_host_log_tagged_with_the_plugin() {
    let plugin = load("probe", &demo());
    assert_eq!(
        plugin.request(EndpointRequest::get("/log")).text().unwrap(),
        "logged"
    );
    assert!(
        crate::support::logged()
            .contains(&"INFO dify_plugin_host::plugin [probe] probe says hello".to_owned()),
        "{:?}",
        crate::support::logged()
    );
}

#[test]
fn a_panic_message_reaches_the_host_log_too() {
    let plugin = load("probe", &demo());
    plugin
        .request(EndpointRequest::get("/panic"))
        .text()
        .unwrap();
    assert!(
        crate::support::logged().iter().any(|l| l
            .starts_with("WARN dify_plugin_host::plugin [probe] the plugin crashed")
            && l.contains("the probe panics on purpose")),
        "{:?}",
        crate::support::logged()
    );
}

#[test]
fn time_spent_waiting_for_the_app_does_not_count_against_the_deadline() {
    let mock = demo();
    let gate = mock.gate(DemoApps::CHATBOT, 1);
    let duck = load_limited(
        "duck",
        &mock,
        Limits {
            deadline: Duration::from_millis(50),
            ..Limits::default()
        },
    );
    let mut response = duck.request(EndpointRequest::get(&format!(
        "/duck/{}?query=hi",
        DemoApps::CHATBOT
    )));
    assert!(response.next().unwrap().is_ok());
    assert!(gate.wait_for_held(1, Duration::from_secs(10)));
    // The app stays silent four times longer than the plugin's deadline: the time passing is
    // what this test is about, not a wait for something to happen.
    std::thread::sleep(Duration::from_millis(200));
    gate.open();
    let rest = response.read_all().expect("the plugin was not interrupted");
    assert_eq!(String::from_utf8_lossy(&rest).matches(" <br>").count(), 2);
}
