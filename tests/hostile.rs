//! A hostile plugin attacks its sandbox; every attempt fails cleanly, for that request only,
//! and the host goes on serving.

use std::time::Duration;

use dify_plugin_host::mock::DemoApps;
use dify_plugin_host::{EndpointRequest, Limits, Plugin, PluginFailure};
use serde_json::{Value, json};

use crate::support::{demo, load, load_limited, logged};

fn get_json(plugin: &Plugin, target: &str) -> Value {
    let response = plugin.request(EndpointRequest::get(target));
    assert_eq!(response.status(), 200, "{target}");
    serde_json::from_str(&response.text().unwrap()).unwrap()
}

fn still_serves(plugin: &Plugin) {
    assert_eq!(get_json(plugin, "/env")["vars"], json!([]));
}

fn with_limits(limits: Limits) -> Plugin {
    load_limited("hostile", &demo(), limits)
}

#[test]
fn no_environment_variables_or_arguments() {
    let plugin = load("hostile", &demo());
    assert_eq!(
        get_json(&plugin, "/env"),
        json!({"vars": [], "home": null, "args": []})
    );
}

#[test]
fn no_file_can_be_read_listed_or_created() {
    let plugin = load("hostile", &demo());
    for attempt in get_json(&plugin, "/files").as_array().unwrap() {
        for action in ["read", "list", "create"] {
            assert!(
                attempt[action].get("Err").is_some(),
                "{} {action} succeeded: {attempt}",
                attempt["path"]
            );
        }
    }
}

#[test]
fn no_socket_can_be_opened_even_to_a_listening_loopback_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let plugin = load("hostile", &demo());
    let seen = get_json(&plugin, &format!("/sockets?addr={addr}"));
    for kind in ["tcp", "udp", "listen"] {
        assert!(seen[kind].get("Err").is_some(), "{kind}: {seen}");
    }
    assert!(
        listener.accept().is_err(),
        "the listener was reached from inside the sandbox"
    );
    assert!(
        get_json(&plugin, "/dns")["lookup"].get("Err").is_some(),
        "name lookups must fail"
    );
}

#[test]
fn clocks_and_random_numbers_are_granted_and_work() {
    let plugin = load("hostile", &demo());
    let seen = get_json(&plugin, "/clock-and-random");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let theirs = seen["unix_seconds"].as_u64().unwrap();
    assert!(theirs.abs_diff(now) < 60, "{theirs} vs {now}");
}

#[test]
fn a_log_flood_is_capped_per_request_and_long_lines_are_cut() {
    let plugin = with_limits(Limits {
        log_lines: 50,
        ..Limits::default()
    });
    let response = plugin.request(EndpointRequest::get("/log-flood?lines=100000"));
    assert_eq!(response.text().unwrap(), "logged 100000 lines");
    let lines = logged();
    let kept = lines
        .iter()
        .filter(|l| l.contains("[hostile] flood line"))
        .count();
    // Tests share the log; other requests of this test's plugin may add their own 50.
    assert!(kept >= 50 && kept % 50 == 0, "{kept}");
    assert!(lines.iter().any(|l| {
        l.contains("[hostile] log limit of 50 lines per request reached; dropping the rest")
    }));

    let response = plugin.request(EndpointRequest::get("/log-flood?lines=0"));
    assert_eq!(response.text().unwrap(), "logged 0 lines");
    assert!(
        logged()
            .iter()
            .any(|l| l.starts_with("ERROR") && l.ends_with("… (1044480 bytes cut)")),
        "the 1 MiB line was not cut"
    );
}

#[test]
fn printing_without_end_fails_the_request_with_a_clear_500() {
    let plugin = load("hostile", &demo());
    let response = plugin.request(EndpointRequest::get("/print-flood"));
    assert_eq!(response.status(), 500);
    assert_eq!(
        response.text().unwrap(),
        "the plugin printed more than 65536 bytes to stdout and stderr; log with the log crate instead"
    );
    still_serves(&plugin);
}

#[test]
fn a_response_over_the_limit_is_cut() {
    let plugin = with_limits(Limits {
        response_bytes: 1 << 20,
        ..Limits::default()
    });
    let mut response = plugin.request(EndpointRequest::get("/big?bytes=10000000"));
    assert_eq!(response.status(), 200);
    let mut received = 0;
    let failure = loop {
        match response.next() {
            Some(Ok(chunk)) => received += chunk.len(),
            Some(Err(failure)) => break failure,
            None => panic!("the body ended as if complete"),
        }
    };
    assert!(received <= 1 << 20, "{received}");
    assert_eq!(
        failure,
        PluginFailure::Handler(
            "the response body exceeds the host's limit of 1048576 bytes".into()
        )
    );
    still_serves(&plugin);
}

#[test]
fn another_workspaces_app_stays_out_of_reach() {
    let plugin = load("hostile", &demo());
    let seen = get_json(
        &plugin,
        &format!(
            "/other-workspace?app_id={}",
            DemoApps::OTHER_WORKSPACE_WORKFLOW
        ),
    );
    assert_eq!(seen["reached"], false);
    assert!(
        seen["error"]
            .as_str()
            .unwrap()
            .contains("not found: app not found"),
        "{seen}"
    );
}

#[test]
fn opening_streams_without_end_is_capped_and_they_are_all_released() {
    let mock = demo();
    let plugin = load("hostile", &mock);
    let seen = get_json(
        &plugin,
        &format!("/stream-flood?app_id={}", DemoApps::CHATBOT),
    );
    assert_eq!(seen, json!({"held": 16, "refused": 9984}));
    assert!(plugin.wait_idle(Duration::from_secs(10)));
    assert_eq!(mock.open_streams(), 0);
    // The refused ones never reached Dify.
    assert_eq!(mock.calls().len(), 16);
}

#[test]
fn spinning_after_the_head_hits_the_deadline_and_cuts_the_body() {
    let plugin = with_limits(Limits {
        deadline: Duration::from_millis(300),
        ..Limits::default()
    });
    let mut response = plugin.request(EndpointRequest::get("/spin-in-stream"));
    assert_eq!(response.status(), 200);
    assert_eq!(response.next().unwrap().unwrap(), b"before the spin 0\n");
    assert_eq!(response.next(), Some(Err(PluginFailure::Deadline(300))));
    still_serves(&plugin);
}
