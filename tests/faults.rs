//! Faults end to end through `serve`: a failing upstream Dify, and malformed requests. Each
//! gives a specific status, or a body cut after what was sent, never a hang or a panic; and
//! afterwards no instance is left running.

use std::net::SocketAddr;
use std::time::Duration;

use dify_plugin_host::backend::{DifyConfig, InnerBackend, Secret, ServiceBackend};
use dify_plugin_host::mock::DemoApps;
use dify_plugin_host::server::Server;
use dify_plugin_host::{Plugin, PluginConfig};

use crate::http::{Response, send};
use crate::replay::{Ending, Replay, Reply, recorded};
use crate::support::{demo, load, load_with};

const WAIT: Duration = Duration::from_secs(10);

fn serve(plugin: &Plugin) -> Server {
    Server::start(plugin.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).unwrap()
}

/// The Duck plugin calling a replayed Dify through the inner API.
fn duck_over(replay: &Replay) -> Plugin {
    let mut config = DifyConfig::new(&replay.url());
    config.inner_api_key = Some(Secret::new("k"));
    config.idle_timeout = Duration::from_millis(300);
    load_with(
        "duck",
        PluginConfig::new(InnerBackend::new(&config).unwrap(), "t"),
    )
}

/// Read a chunked body to its end; the events received and whether it ended cleanly.
fn drain(mut response: Response) -> (usize, bool) {
    let mut body = Vec::new();
    loop {
        match response.next_chunk() {
            Ok(Some(chunk)) => body.extend(chunk),
            Ok(None) => {
                return (
                    String::from_utf8_lossy(&body).matches(" <br>").count(),
                    true,
                );
            }
            Err(_) => {
                return (
                    String::from_utf8_lossy(&body).matches(" <br>").count(),
                    false,
                );
            }
        }
    }
}

fn first_frame_of(case: &str) -> Vec<u8> {
    let body = recorded(case).body;
    let end = 14 + u32::from_le_bytes(body[4..8].try_into().unwrap()) as usize;
    body[..end].to_vec()
}

#[test]
fn upstream_faults_mid_stream_cut_the_body_after_the_events_already_sent() {
    let frame = first_frame_of("inner-04-chat-streaming");
    let cases = [
        (
            "stalls",
            Reply::new("HTTP/1.1 200 OK", "text/event-stream", frame.clone()).ending(Ending::Stall),
        ),
        (
            "drops the connection",
            Reply::new("HTTP/1.1 200 OK", "text/event-stream", frame.clone()).ending(Ending::Drop),
        ),
        (
            "sends garbage",
            Reply::new(
                "HTTP/1.1 200 OK",
                "text/event-stream",
                [frame.clone(), b"<html>".to_vec()].concat(),
            ),
        ),
        (
            "truncates a frame",
            Reply::new(
                "HTTP/1.1 200 OK",
                "text/event-stream",
                [frame.clone(), frame[..20].to_vec()].concat(),
            ),
        ),
    ];
    for (what, reply) in cases {
        let replay = Replay::start(vec![reply]);
        let duck = duck_over(&replay);
        let server = serve(&duck);
        let response = send(server.addr(), "GET", "/duck/a?query=hi", b"");
        assert_eq!(response.status, 200, "{what}");
        assert_eq!(drain(response), (1, false), "when Dify {what}");
        assert!(duck.wait_idle(WAIT), "{what}: an instance kept running");
    }
}

#[test]
fn upstream_errors_before_the_stream_are_specific_500s() {
    let cases = [
        (
            "inner-07-completion-blocking",
            "internal error: Dify failed (HTTP 500 unknown: \"Internal Server Error\")",
        ),
        (
            "inner-25-bad-inner-key",
            "permission denied: Dify refused the host's inner API key",
        ),
    ];
    for (case, text) in cases {
        let replay = Replay::start(vec![recorded(case)]);
        let duck = duck_over(&replay);
        let server = serve(&duck);
        let response = send(server.addr(), "GET", "/duck/a?query=hi", b"");
        assert_eq!(response.status, 500, "{case}");
        let body = response.text();
        assert!(body.contains(text), "{case}: {body}");
        assert!(duck.wait_idle(WAIT));
    }
    let replay = Replay::start(vec![Reply::new(
        "HTTP/1.1 502 Bad Gateway",
        "text/html",
        "<h1>502</h1>",
    )]);
    let duck = duck_over(&replay);
    let server = serve(&duck);
    let response = send(server.addr(), "GET", "/duck/a?query=hi", b"");
    assert_eq!(response.status, 500);
    assert!(
        response
            .text()
            .contains("Dify answered HTTP 502 with a body that is not Dify's JSON")
    );
}

#[test]
fn malformed_service_api_events_cut_the_body() {
    let replay = Replay::start(vec![Reply::new(
        "HTTP/1.1 200 OK",
        "text/event-stream",
        "event: ping\n\ndata: {\"event\":\"message\",\"answer\":\"a\"}\n\ndata: {not json\n\n",
    )]);
    let mut config = DifyConfig::new(&replay.url());
    config.app_keys.insert("a".into(), Secret::new("app-k"));
    let duck = load_with(
        "duck",
        PluginConfig::new(ServiceBackend::new(&config).unwrap(), "t"),
    );
    let server = serve(&duck);
    let response = send(server.addr(), "GET", "/duck/a?query=hi", b"");
    assert_eq!(response.status, 200);
    assert_eq!(drain(response), (1, false));
    assert!(duck.wait_idle(WAIT));
}

#[test]
fn malformed_requests_get_specific_4xx() {
    let runner = load("workflow-runner", &demo());
    let server = serve(&runner);
    let target = format!("/workflow/{}", DemoApps::WORKFLOW);
    let cases: [(&str, &str, &[u8], u16, &str); 5] = [
        (
            "GET",
            "/workflow/%ff",
            b"",
            400,
            "the path segment '%ff' is not UTF-8 once percent-decoded",
        ),
        (
            "POST",
            "/nowhere",
            b"{}",
            404,
            "no endpoint of plugin workflow_runner matches POST /nowhere",
        ),
        (
            "POST",
            &target,
            b"\xff\xfe{}",
            400,
            "bad request: the request body is not the JSON expected",
        ),
        (
            "POST",
            &target,
            b"[1, 2]",
            400,
            "bad request: the request body is not the JSON expected: invalid type: sequence, expected a map",
        ),
        (
            "POST",
            &format!("{target}?mode=sideways"),
            b"{}",
            400,
            "bad request: mode must be 'blocking' or 'streaming', got 'sideways'",
        ),
    ];
    for (method, path, body, status, text) in cases {
        let response = send(server.addr(), method, path, body);
        assert_eq!(response.status, status, "{method} {path}");
        let got = response.text();
        assert!(got.starts_with(text), "{method} {path}: {got}");
    }
    assert!(runner.wait_idle(WAIT));
    assert_eq!(runner.in_flight(), 0);
}
