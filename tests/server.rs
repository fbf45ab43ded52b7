//! `serve`: the plugin's endpoints over real HTTP on loopback — routing, streaming before the
//! app ends, disconnects, limits and concurrency.

use std::net::SocketAddr;
use std::time::Duration;

use dify_plugin_host::mock::{CallOutcome, DemoApps};
use dify_plugin_host::server::Server;
use dify_plugin_host::{Limits, Plugin};
use serde_json::{Value, json};

use crate::http::send;
use crate::support::{add_long_chat, demo, load, load_limited};

const WAIT: Duration = Duration::from_secs(10);

fn serve(plugin: &Plugin) -> Server {
    Server::start(plugin.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).expect("server")
}

#[test]
fn serve_routes_like_dify_with_404_and_405() {
    let duck = load("duck", &demo());
    let server = serve(&duck);

    let found = send(
        server.addr(),
        "GET",
        &format!("/duck/{}?query=hi", DemoApps::CHATBOT),
        b"",
    );
    assert_eq!(found.status, 200);
    assert_eq!(found.header("transfer-encoding"), Some("chunked"));
    assert!(found.text().ends_with(r#""files":null} <br>"#));

    let missing = send(server.addr(), "GET", "/goose/x", b"");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.text(),
        "no endpoint of plugin duck matches GET /goose/x; it serves: GET /duck/<app_id>"
    );

    let wrong = send(server.addr(), "DELETE", "/duck/x", b"");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET, HEAD"));
    assert_eq!(
        wrong.text(),
        "DELETE /duck/x is not allowed; this endpoint accepts GET, HEAD"
    );
}

#[test]
fn the_first_events_reach_the_client_before_the_app_stream_ends() {
    let mock = demo();
    let gate = mock.gate(DemoApps::CHATBOT, 1);
    let server = serve(&load("duck", &mock));

    let mut response = send(
        server.addr(),
        "GET",
        &format!("/duck/{}?query=hi", DemoApps::CHATBOT),
        b"",
    );
    assert_eq!(response.status, 200);
    let first = response.next_chunk().unwrap().unwrap();
    assert!(first.ends_with(b" <br>"));
    assert!(String::from_utf8_lossy(&first).contains(r#""answer":"You said: ""#));
    // The app is still running: held after its first event.
    assert!(gate.wait_for_held(1, WAIT));
    assert_eq!(mock.calls()[0].outcome, CallOutcome::Streaming);

    gate.open();
    let mut rest = Vec::new();
    while let Some(chunk) = response.next_chunk().unwrap() {
        rest.extend(chunk);
    }
    assert_eq!(String::from_utf8_lossy(&rest).matches(" <br>").count(), 2);
    assert_eq!(
        mock.calls()[0].outcome,
        CallOutcome::Completed { delivered: 3 }
    );
}

#[test]
fn a_client_that_disconnects_cancels_the_app_stream() {
    let mock = demo();
    let long_chat = &add_long_chat(&mock, 5000);
    let gate = mock.gate(long_chat, 1);
    let duck = load("duck", &mock);
    let server = serve(&duck);

    let mut response = send(
        server.addr(),
        "GET",
        &format!("/duck/{long_chat}?query=hi"),
        b"",
    );
    assert!(response.next_chunk().unwrap().is_some());
    drop(response); // hang up
    gate.open();

    assert!(
        duck.wait_idle(WAIT),
        "the plugin kept running after the client left"
    );
    match mock.calls()[0].outcome {
        CallOutcome::Cancelled { delivered } => assert!(delivered < 5000, "{delivered}"),
        ref other => panic!("expected a cancelled run, got {other:?}"),
    }
}

#[test]
fn a_body_over_the_limit_is_refused_with_413() {
    let mock = demo();
    let probe = load_limited(
        "probe",
        &mock,
        Limits {
            request_bytes: 1024,
            ..Limits::default()
        },
    );
    let server = serve(&probe);
    let response = send(server.addr(), "POST", "/echo", &[b'x'; 2048]);
    assert_eq!(response.status, 413);
    assert_eq!(
        response.text(),
        "the request body exceeds the limit of 1024 bytes"
    );
    // Within the limit, the plugin sees the body and the request as sent.
    let response = send(server.addr(), "POST", "/echo?a=1", b"hello");
    let seen: Value = serde_json::from_str(&response.text()).unwrap();
    assert_eq!(seen["body"], "hello");
    assert_eq!(seen["query"], "a=1");
    assert_eq!(seen["values"], json!([["what", "echo"]]));
}

#[test]
fn a_looping_plugin_gets_504_while_other_requests_are_served() {
    let mock = demo();
    let probe = load_limited(
        "probe",
        &mock,
        Limits {
            deadline: Duration::from_millis(500),
            ..Limits::default()
        },
    );
    let server = serve(&probe);
    let addr = server.addr();
    let looping = std::thread::spawn(move || {
        let response = send(addr, "GET", "/loop", b"");
        (response.status, response.text())
    });
    let echo = send(addr, "POST", "/echo", b"meanwhile");
    assert_eq!(echo.status, 200);
    assert_eq!(
        looping.join().unwrap(),
        (504, "the plugin ran past its deadline of 500 ms".to_owned())
    );
    assert_eq!(send(addr, "POST", "/echo", b"after").status, 200);
}

#[test]
fn a_plugin_that_allocates_without_bound_fails_alone_with_a_clear_500() {
    let mock = demo();
    let probe = load_limited(
        "probe",
        &mock,
        Limits {
            memory_bytes: 32 << 20,
            ..Limits::default()
        },
    );
    let server = serve(&probe);
    let response = send(server.addr(), "GET", "/hog", b"");
    assert_eq!(response.status, 500);
    assert_eq!(
        response.text(),
        "the plugin exceeded its memory limit of 32 MiB"
    );
    assert_eq!(
        send(server.addr(), "POST", "/echo", b"still up").status,
        200
    );
}

#[test]
fn a_panic_mid_stream_cuts_the_http_body() {
    let server = serve(&load("probe", &demo()));
    let mut response = send(server.addr(), "GET", "/panic-mid-stream", b"");
    assert_eq!(response.status, 200);
    assert_eq!(response.next_chunk().unwrap().unwrap(), b"line 0\n");
    assert_eq!(response.next_chunk().unwrap().unwrap(), b"line 1\n");
    let end = response.next_chunk();
    assert!(end.is_err(), "the body must not end cleanly: {end:?}");
    assert_eq!(
        send(server.addr(), "POST", "/echo", b"still up").status,
        200
    );
}

#[test]
fn concurrent_requests_each_run_in_their_own_instance() {
    let mock = demo();
    let gate = mock.gate(DemoApps::WORKFLOW, 1);
    let runner = load("workflow-runner", &mock);
    let server = serve(&runner);
    let addr = server.addr();
    let clients: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let body = json!({"name": format!("caller {i}")}).to_string();
                let response = send(
                    addr,
                    "POST",
                    &format!("/workflow/{}?mode=streaming", DemoApps::WORKFLOW),
                    body.as_bytes(),
                );
                (response.status, response.text())
            })
        })
        .collect();
    // All eight are in flight at once, each held inside its own run.
    assert!(gate.wait_for_held(8, WAIT));
    assert_eq!(runner.in_flight(), 8);
    gate.open();
    for (i, client) in clients.into_iter().enumerate() {
        let (status, body) = client.join().unwrap();
        assert_eq!(status, 200);
        // Each caller got its own run's result, not another's.
        let finished = format!(r#""outputs":{{"name":"caller {i}"}}"#);
        assert!(body.contains(&finished), "{body}");
    }
    assert!(runner.wait_idle(WAIT));
}

#[test]
fn a_short_soak_serves_every_request_and_leaves_nothing_running() {
    let mock = demo();
    let duck = load("duck", &mock);
    let server = serve(&duck);
    let addr = server.addr();
    let path = format!("/duck/{}?query=hi", DemoApps::CHATBOT);
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut complete = 0;
                for _ in 0..50 {
                    let response = send(addr, "GET", &path, b"");
                    if response.status == 200 && response.text().matches(" <br>").count() == 3 {
                        complete += 1;
                    }
                }
                complete
            })
        })
        .collect();
    let complete: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(complete, 800);
    assert!(duck.wait_idle(WAIT));
    assert_eq!(mock.open_streams(), 0);
    let calls = mock.calls();
    assert_eq!(calls.len(), 800);
    assert!(
        calls
            .iter()
            .all(|c| c.outcome == CallOutcome::Completed { delivered: 3 })
    );
}
