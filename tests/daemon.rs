//! The host inside Dify's plugin daemon, against the fake daemon (`fake_daemon.rs`): remote
//! debugging through the library (`remote::debug`), the local runtime through the real CLI
//! binary (`dify-plugin-host run … --stdio`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dify_plugin_host::backend::Secret;
use dify_plugin_host::daemon::declaration::Declaration;
use dify_plugin_host::daemon::remote::{self, RemoteError, RemoteOptions};
use dify_plugin_host::mock::{AppMode, Behaviour, DemoApps, MockApp, MockDify};
use dify_plugin_host::{EndpointRequest, Limits, Plugin, PluginConfig};
use serde_json::{Value, json};

use crate::fake_daemon::{
    Backward, FakeDaemon, Kind, Session, SessionMessage, daemon_error_text, go_json, raw_request,
};
use crate::replay::recorded_request;
use crate::support::{demo, fixtures, load, load_with, names, probe, workspace_root};

pub const KEY: &str = "00000000-1111-4222-8333-444444444444";
const T: Duration = Duration::from_secs(30);
/// A chat app of the demo workspace whose events are fixed (keys in Go's order, so that the
/// daemon's re-encoding leaves their text as it is).
pub const SCRIPTED: &str = "d0000000-0000-4000-8000-000000000001";
const SCRIPTED_HTML: &str = "d0000000-0000-4000-8000-000000000002";

pub fn scripted_events() -> Vec<Value> {
    vec![
        json!({"answer": "Hel", "event": "message"}),
        json!({"answer": "lo!", "event": "message"}),
        json!({"event": "message_end", "metadata": {"usage": {"total_tokens": 12}}}),
    ]
}

/// The demo workspace with [`SCRIPTED`] added.
pub fn mock_with_script() -> MockDify {
    let mock = demo();
    mock.add_app(
        MockApp::new(DemoApps::TENANT, SCRIPTED, AppMode::Chat)
            .behaviour(Behaviour::Script(scripted_events())),
    )
    .unwrap()
    .add_app(
        MockApp::new(DemoApps::TENANT, SCRIPTED_HTML, AppMode::Chat).behaviour(Behaviour::Script(
            vec![json!({"answer": "<b>ducks & drakes</b>", "event": "message", "n": 1.0})],
        )),
    )
    .unwrap();
    mock
}

pub fn duck_declaration() -> Declaration {
    Declaration::load(&workspace_root().join("examples/duck")).expect("duck's declaration")
}

/// The probe's declaration: Duck's files with the probe's name and endpoints.
pub fn probe_declaration() -> Declaration {
    let mut d = duck_declaration();
    d.manifest["name"] = json!("probe");
    d.endpoint_group
        .as_mut()
        .expect("duck has an endpoint group")["endpoints"] = json!([
        {"path": "/<path:what>", "method": "GET", "hidden": false},
        {"path": "/<path:what>", "method": "POST", "hidden": false},
    ]);
    d
}

/// A plugin for the daemon (its own backend is never used: sessions get the daemon's).
pub fn daemon_plugin(name: &str, limits: Option<Limits>) -> Plugin {
    let mut config = PluginConfig::new(MockDify::new(), "");
    if let Some(limits) = limits {
        config.limits = limits;
    }
    load_with(name, config)
}

/// `remote::debug` on a thread of its own.
pub fn attach(
    daemon: &FakeDaemon,
    plugin: Plugin,
    declaration: Declaration,
    key: &str,
    reconnect: bool,
) -> JoinHandle<Result<(), RemoteError>> {
    let options = RemoteOptions {
        address: daemon.addr().to_string(),
        key: Secret::new(key),
        reconnect,
    };
    std::thread::spawn(move || remote::debug(&plugin, &declaration, &options))
}

/// A fake daemon with `name` registered on it.
fn started(mock: &MockDify, plugin: Plugin, declaration: Declaration) -> FakeDaemon {
    let daemon = FakeDaemon::start(&[KEY], mock.clone(), DemoApps::TENANT);
    let _ = attach(&daemon, plugin, declaration, KEY, false);
    assert!(
        daemon.wait_registrations(1, T),
        "no registration: {:?}",
        daemon.refusals()
    );
    daemon
}

fn get(daemon: &FakeDaemon, target: &str) -> Session {
    daemon.request(raw_request("GET", target, &[], b""), json!({}))
}

/// The probe's `/call` through the daemon: what the SDK gave back.
fn call(daemon: &FakeDaemon, call: &Value) -> Value {
    let answer = post_call(daemon, call).answer(T);
    assert_eq!(answer.status, 200, "{}", answer.text());
    serde_json::from_slice(&answer.body).expect("the probe's JSON")
}

fn post_call(daemon: &FakeDaemon, call: &Value) -> Session {
    daemon.request(
        raw_request(
            "POST",
            "/call",
            &[("Content-Type", "application/json")],
            call.to_string().as_bytes(),
        ),
        json!({}),
    )
}

/// Duck's body: one `{json} <br>` per event.
fn duck_events(body: &str) -> Vec<Value> {
    body.split(" <br>")
        .filter(|s| !s.is_empty())
        .map(|s| serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}")))
        .collect()
}

/// Read a session up to its first body chunk.
fn first_body_chunk(session: &Session) -> SessionMessage {
    loop {
        let m = session.next_message(T).expect("a body chunk");
        assert!(!matches!(m.kind, Kind::End | Kind::Error), "{m:?}");
        if m.kind == Kind::Stream && m.data.get("result").is_some() {
            return m;
        }
    }
}

#[test]
fn registration_is_accepted_and_recorded() {
    let daemon = started(&demo(), daemon_plugin("duck", None), duck_declaration());
    let reg = &daemon.registrations()[0];
    let declaration = duck_declaration();
    assert_eq!(reg.key, KEY);
    assert_eq!(reg.manifest, declaration.manifest);
    assert_eq!(reg.manifest["author"], "dify-plugin-wasm");
    assert_eq!(
        Some(&reg.endpoint_group),
        declaration.endpoint_group.as_ref()
    );
    assert_eq!(reg.endpoint_group["endpoints"][0]["path"], "/duck/<app_id>");
    assert_eq!(reg.endpoint_group["endpoints"][0]["method"], "GET");
    let icon = std::fs::read(workspace_root().join("examples/duck/_assets/icon.svg")).unwrap();
    assert_eq!(reg.assets["icon.svg"], icon);
    let types: Vec<&str> = reg
        .messages
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"handshake"));
    assert_eq!(
        types[1..3],
        ["manifest_declaration", "endpoint_declaration"]
    );
    assert_eq!(types.last(), Some(&"end"));
    assert!(daemon.refusals().is_empty());
    // Heartbeats start after `end` (one before would have been a registration error).
    assert!(daemon.wait_heartbeats(1, T));
}

#[test]
fn refusals_reach_the_caller_with_the_daemons_words_and_advice() {
    let edited = |edit: fn(&mut Declaration)| {
        let mut d = duck_declaration();
        edit(&mut d);
        d
    };
    let cases: Vec<(&str, Declaration, &str, &str, &str)> = vec![
        (
            "bad key",
            duck_declaration(),
            "not-the-key",
            "handshake failed, invalid key",
            "get a new debug key",
        ),
        (
            "upper-case author",
            edited(|d| d.manifest["author"] = json!("Dify-Plugin-Wasm")),
            KEY,
            "handshake failed, invalid plugin declaration: author",
            "fix the plugin's manifest.yaml",
        ),
        (
            "missing icon asset",
            edited(|d| d.assets.clear()),
            KEY,
            "assets remap failed, invalid assets data, cannot remap: file not found: icon.svg",
            "fix the plugin's manifest.yaml, endpoint group, tool provider or _assets/",
        ),
        (
            "runner language",
            edited(|d| d.manifest["meta"]["runner"]["language"] = json!("rust")),
            KEY,
            "handshake failed, invalid plugin declaration: meta.runner.language",
            "fix the plugin's manifest.yaml",
        ),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(case, declaration, key, words, advice)| {
            let daemon = FakeDaemon::start(&[KEY], demo(), DemoApps::TENANT);
            let debug = attach(
                &daemon,
                daemon_plugin("duck", None),
                declaration,
                key,
                false,
            );
            (case, daemon, debug, words, advice)
        })
        .collect();
    for (case, daemon, debug, words, advice) in runs {
        match debug.join().unwrap() {
            Err(RemoteError::Refused(text)) => {
                assert!(text.contains(words), "{case}: {text}");
                assert!(text.contains(advice), "{case}: {text}");
            }
            other => panic!("{case}: {other:?}"),
        }
        let refusals = daemon.refusals();
        assert_eq!(refusals.len(), 1, "{case}: {refusals:?}");
        assert!(refusals[0].starts_with(words), "{case}: {refusals:?}");
        assert!(daemon.registrations().is_empty(), "{case}");
    }
}

#[test]
fn duck_over_the_daemon_answers_as_the_direct_request_does() {
    let mock = mock_with_script();
    let daemon = started(&mock, daemon_plugin("duck", None), duck_declaration());
    let direct_plugin = load("duck", &mock);
    let target = format!("/duck/{SCRIPTED}?query=hi");
    let answer = get(&daemon, &target).answer(T);
    let direct = direct_plugin.request(EndpointRequest::get(&target));
    assert_eq!(answer.status, direct.status());
    assert_eq!(
        answer.header("Content-Type"),
        direct.header("Content-Type").map(str::to_owned).as_deref()
    );
    assert_eq!(answer.text(), direct.text().unwrap());
    assert!(!answer.cut);
    assert_eq!(duck_events(&answer.text()), scripted_events());
    // The invoke, key for key as the Python SDK sends it.
    let invoke = &daemon.invokes()[0];
    assert_eq!(invoke["type"], "app");
    assert_eq!(
        invoke["request"].to_string(),
        format!(
            r#"{{"app_id":"{SCRIPTED}","query":"hi","inputs":{{}},"response_mode":"streaming","conversation_id":null,"user":null}}"#
        )
    );

    // The daemon re-encodes events as Go does: the same JSON, not the same text.
    let target = format!("/duck/{SCRIPTED_HTML}");
    let answer = get(&daemon, &target).answer(T);
    let direct = direct_plugin.request(EndpointRequest::get(&target));
    let direct = direct.text().unwrap();
    assert!(
        answer
            .text()
            .contains(r#""\u003cb\u003educks \u0026 drakes\u003c/b\u003e""#),
        "{}",
        answer.text()
    );
    assert!(answer.text().contains(r#""n":1}"#), "{}", answer.text());
    // Numbers went through float64 (`1.0` became `1`): equal as Go encodes them.
    let go = |events: Vec<Value>| events.iter().map(go_json).collect::<Vec<_>>();
    assert_eq!(go(duck_events(&answer.text())), go(duck_events(&direct)));

    // The demo chatflow (fresh ids each run): the same events by name.
    let target = format!("/duck/{}?query=hi", DemoApps::CHATFLOW);
    let answer = get(&daemon, &target).answer(T);
    let direct = direct_plugin.request(EndpointRequest::get(&target));
    let event_names = |body: &str| -> Vec<String> {
        duck_events(body)
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(answer.status, 200);
    assert_eq!(
        event_names(&answer.text()),
        event_names(&direct.text().unwrap())
    );
}

#[test]
fn the_first_event_reaches_the_daemon_before_the_app_ends() {
    let mock = mock_with_script();
    let gate = mock.gate(SCRIPTED, 1);
    let daemon = started(&mock, daemon_plugin("duck", None), duck_declaration());
    let session = get(&daemon, &format!("/duck/{SCRIPTED}?query=hi"));
    let first = first_body_chunk(&session);
    // The app is provably still running: its stream is held after its first event.
    assert!(gate.wait_for_held(1, T));
    assert_eq!(mock.open_streams(), 1);
    let body = hex::decode(first.data["result"].as_str().unwrap()).unwrap();
    assert_eq!(
        duck_events(&String::from_utf8(body).unwrap()),
        scripted_events()[..1]
    );
    gate.open();
    let mut rest = Vec::new();
    loop {
        let m = session.next_message(T).expect("the rest");
        assert!(m.at > first.at);
        match m.kind {
            Kind::End => break,
            Kind::Stream => rest.extend(hex::decode(m.data["result"].as_str().unwrap()).unwrap()),
            other => panic!("{other:?}: {m:?}"),
        }
    }
    assert_eq!(
        duck_events(&String::from_utf8(rest).unwrap()),
        scripted_events()[1..]
    );
}

#[test]
fn blocking_app_calls_through_the_probe() {
    let mock = demo();
    let daemon = started(&mock, daemon_plugin("probe", None), probe_declaration());
    let direct = load("probe", &mock);
    let workflow = json!({"interface": "workflow", "mode": "blocking", "app_id": DemoApps::WORKFLOW, "inputs": {"name": "Alice"}});
    let via = call(&daemon, &workflow);
    let want = probe(&direct, workflow);
    assert!(via["reply"]["data"]["outputs"].is_object(), "{via}");
    assert_eq!(
        via["reply"]["data"]["outputs"],
        want["reply"]["data"]["outputs"]
    );
    assert_eq!(
        via["reply"]["data"]["status"],
        want["reply"]["data"]["status"]
    );
    let chat = json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::CHATBOT, "query": "hi"});
    let via = call(&daemon, &chat);
    assert_eq!(
        via["reply"]["answer"],
        probe(&direct, chat)["reply"]["answer"]
    );
    let invokes = daemon.invokes();
    assert_eq!(
        crate::support::keys(&invokes[0]["request"]),
        ["app_id", "inputs", "response_mode", "user"]
    );
    assert_eq!(invokes[0]["request"]["response_mode"], "blocking");
    assert_eq!(invokes[1]["request"]["query"], "hi");
}

/// The recorded inner-API error cases and the kind `real_dify.rs` expects the inner backend to
/// give for each (its `inner_api_recorded_errors_become_typed_errors` table): (case, kind, code).
const INNER_ERRORS: &[(&str, &str, &str)] = &[
    (
        "inner-05-chat-blocking-continue-conversation",
        "not-found",
        "invalid_param",
    ),
    (
        "inner-06-chat-streaming-continue-conversation",
        "not-found",
        "invalid_param",
    ),
    (
        "inner-35-chat-unknown-conversation-id",
        "not-found",
        "invalid_param",
    ),
    (
        "inner-10-chat-missing-query-blocking",
        "invalid-request",
        "invalid_param",
    ),
    (
        "inner-11-chat-missing-query-streaming",
        "invalid-request",
        "invalid_param",
    ),
    (
        "inner-12-chat-empty-query-streaming",
        "invalid-request",
        "invalid_param",
    ),
    (
        "inner-74-daemonshape-chat-empty-query",
        "invalid-request",
        "invalid_param",
    ),
    (
        "inner-13-workflow-missing-required-input-blocking",
        "invalid-request",
        "invalid_param",
    ),
    (
        "inner-14-workflow-missing-required-input-streaming",
        "invalid-request",
        "invalid_param",
    ),
    (
        "inner-15-workflow-input-wrong-type-streaming",
        "invalid-request",
        "invalid_param",
    ),
    ("inner-20-cross-tenant-app-id", "not-found", "invalid_param"),
    ("inner-21-random-uuid-app-id", "not-found", "invalid_param"),
    ("inner-22-non-uuid-app-id", "not-found", "invalid_param"),
    (
        "inner-23-unknown-tenant",
        "invalid-request",
        "invalid_param",
    ),
    (
        "inner-27-bad-key-and-unknown-tenant",
        "invalid-request",
        "invalid_param",
    ),
    (
        "inner-24-missing-tenant-id",
        "invalid-request",
        "invalid_param",
    ),
    ("inner-32-no-user-id", "invalid-request", "invalid_param"),
    (
        "inner-28-missing-response-mode",
        "invalid-request",
        "invalid_param",
    ),
    (
        "inner-29-invalid-response-mode",
        "invalid-request",
        "invalid_param",
    ),
    (
        "inner-30-missing-inputs",
        "invalid-request",
        "invalid_param",
    ),
    ("inner-31-invalid-json", "invalid-request", "invalid_param"),
    (
        "inner-52-chat-node-failure-blocking",
        "app-failed",
        "invalid_param",
    ),
    ("inner-25-bad-inner-key", "permission-denied", ""),
    ("inner-26-no-inner-key", "permission-denied", ""),
    ("inner-07-completion-blocking", "internal", ""),
    ("inner-08-completion-streaming", "internal", ""),
];

/// Every recorded inner-API case answered 4xx/5xx: (case, status, body).
fn recorded_inner_errors() -> Vec<(String, u16, String)> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(case) = name.strip_suffix(".resp.headers.txt") else {
            continue;
        };
        if !case.starts_with("inner-") {
            continue;
        }
        let headers = std::fs::read_to_string(fixtures().join(&name)).unwrap();
        let status: u16 = headers
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap();
        if status < 400 {
            continue;
        }
        let body = std::fs::read(fixtures().join(format!("{case}.resp.body.bin"))).unwrap();
        cases.push((case.to_owned(), status, String::from_utf8(body).unwrap()));
    }
    cases.sort();
    cases
}

#[test]
fn recorded_dify_errors_relayed_by_the_daemon_become_the_inner_backends_kinds() {
    let daemon = started(&demo(), daemon_plugin("probe", None), probe_declaration());
    let text = Arc::new(Mutex::new(String::new()));
    let answering = text.clone();
    daemon.answer_invokes_with(move |_| {
        Some(vec![Backward::Error(answering.lock().unwrap().clone())])
    });
    let cases = recorded_inner_errors();
    assert!(cases.len() >= INNER_ERRORS.len(), "{cases:?}");
    let mut late = Vec::new();
    for (case, status, body) in &cases {
        let &(_, kind, code) = INNER_ERRORS
            .iter()
            .find(|(c, _, _)| c == case)
            .unwrap_or_else(|| panic!("{case} ({status}) is not in real_dify.rs's table"));
        *text.lock().unwrap() = daemon_error_text(*status, body);
        let req = recorded_request(case);
        let interface = if case.contains("completion") {
            "completion"
        } else if req["query"].is_string() {
            "chat"
        } else {
            "workflow"
        };
        let mode = req["response_mode"].as_str().unwrap_or("blocking");
        let report = call(
            &daemon,
            &json!({"interface": interface, "mode": mode, "app_id": "a", "query": "q", "inputs": {}}),
        );
        // A blocking call fails at once; a streaming one, as with the real daemon, when its
        // first answer (the error) arrives.
        let error = if report["error"].is_object() {
            &report["error"]
        } else {
            late.push(case.clone());
            &report["stream_error"]
        };
        assert_eq!(error["kind"], kind, "{case}: {report}");
        if !code.is_empty() {
            assert_eq!(error["code"], code, "{case}: {report}");
        }
        if mode == "blocking" {
            assert!(report["error"].is_object(), "{case}: {report}");
        }
    }
    eprintln!("streaming cases whose error came with the first event: {late:?}");

    // A run that fails after streaming began: the daemon's `read app failed: …`.
    *text.lock().unwrap() = String::new();
    daemon.answer_invokes_with(|_| {
        Some(vec![
            Backward::Response(json!({"answer": "Hel", "event": "message"})),
            Backward::Error("read app failed: request failed: the sandbox is down".into()),
        ])
    });
    let report = call(
        &daemon,
        &json!({"interface": "chat", "mode": "streaming", "app_id": "a", "query": "q"}),
    );
    assert_eq!(names(&report), ["message"], "{report}");
    assert_eq!(report["stream_error"]["kind"], "app-failed", "{report}");
    assert!(
        report["stream_error"]["message"]
            .as_str()
            .unwrap()
            .contains("the sandbox is down"),
        "{report}"
    );
}

#[test]
fn app_calls_need_the_permission_the_plugin_declared() {
    let mut declaration = probe_declaration();
    declaration.manifest["resource"]["permission"]["app"]["enabled"] = json!(false);
    let daemon = started(&demo(), daemon_plugin("probe", None), declaration);
    let report = call(
        &daemon,
        &json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::CHATBOT, "query": "hi"}),
    );
    assert_eq!(report["error"]["kind"], "permission-denied", "{report}");
    assert!(
        report["error"]["display"]
            .as_str()
            .unwrap()
            .contains("app.enabled"),
        "{report}"
    );
}

#[test]
fn sixty_four_concurrent_sessions_are_each_answered() {
    let mock = mock_with_script();
    let daemon = started(&mock, daemon_plugin("probe", None), probe_declaration());
    let sessions: Vec<Session> = (0..64)
        .map(|i| {
            let c = if i % 2 == 0 {
                json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::CHATBOT, "query": format!("q{i}")})
            } else {
                json!({"interface": "chat", "mode": "streaming", "app_id": SCRIPTED, "query": format!("q{i}")})
            };
            post_call(&daemon, &c)
        })
        .collect();
    let direct = probe(
        &load("probe", &mock),
        json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::CHATBOT, "query": "q0"}),
    );
    for (i, session) in sessions.iter().enumerate() {
        let answer = session.answer(T);
        assert_eq!(answer.status, 200, "{i}: {}", answer.text());
        let report: Value = serde_json::from_slice(&answer.body).unwrap();
        if i % 2 == 0 {
            let want = direct["reply"]["answer"]
                .as_str()
                .unwrap()
                .replace("q0", &format!("q{i}"));
            assert_eq!(report["reply"]["answer"], want, "{i}: {report}");
        } else {
            assert_eq!(names(&report), ["message", "message", "message_end"], "{i}");
        }
    }
    assert_eq!(daemon.invokes().len(), 64);
}

#[test]
fn malformed_daemon_lines_are_skipped() {
    let daemon = started(&demo(), daemon_plugin("probe", None), probe_declaration());
    // The host serves once its wait for a refusal is over (its first heartbeat): a text line
    // before that is the daemon refusing the plugin (daemon-protocol.md §2.8 item 3).
    assert!(daemon.wait_heartbeats(1, T));
    for line in [
        "not json",
        "{not json either",
        "{}",
        "[1,2]",
        r#"{"event":"request","data":{}}"#,
        r#"{"session_id":"s4","event":"request"}"#,
        r#"{"session_id":"s1","event":"bogus","data":{}}"#,
        r#"{"session_id":"s2","event":"backwards_response","data":{"backwards_request_id":"nope","event":"response","message":"stream","data":{}}}"#,
        r#"{"session_id":"s3","event":"backwards_response","data":"not an object"}"#,
        r#"{"session_id":"s5","event":"backwards_response","data":{"event":"end"}}"#,
    ] {
        daemon.send_raw_line(line);
        // The next request is still served.
        let answer = get(&daemon, "/echo?x=1").answer(T);
        assert_eq!(answer.status, 200, "after {line}: {}", answer.text());
        let echo: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(echo["path"], "/echo");
    }
    // The host answered none of them.
    assert!(daemon.unrouted().is_empty(), "{:?}", daemon.unrouted());
}

#[test]
fn the_host_reconnects_after_the_daemon_closes_mid_stream() {
    let mock = mock_with_script();
    let gate = mock.gate(SCRIPTED, 1);
    let daemon = FakeDaemon::start(&[KEY], mock.clone(), DemoApps::TENANT);
    let _ = attach(
        &daemon,
        daemon_plugin("duck", None),
        duck_declaration(),
        KEY,
        true,
    );
    assert!(daemon.wait_registrations(1, T));
    let target = format!("/duck/{SCRIPTED}?query=hi");
    let session = get(&daemon, &target);
    first_body_chunk(&session);
    daemon.drop_connection();
    let closed = session.next_message(T).expect("the daemon's error");
    assert_eq!(closed.kind, Kind::Error);
    assert!(closed.by_daemon);
    assert_eq!(closed.data["error_type"], "ConnectionClosedError");
    assert!(daemon.wait_registrations(2, T), "{:?}", daemon.refusals());
    gate.open();
    let answer = get(&daemon, &target).answer(T);
    assert_eq!(answer.status, 200);
    assert_eq!(duck_events(&answer.text()), scripted_events());
    // The new connection has its own heartbeats.
    let before = daemon.heartbeats().len();
    assert!(daemon.wait_heartbeats(before.max(2), T));
}

/// One spin of ~11.5 s (the heartbeat interval is 10 s): heartbeats go on, another session is
/// served meanwhile, and the loop ends in a 504 through the daemon.
#[test]
fn a_spinning_plugin_hits_its_deadline_while_heartbeats_and_other_sessions_go_on() {
    let limits = Limits {
        deadline: Duration::from_millis(11_500),
        ..Limits::default()
    };
    let daemon = started(
        &demo(),
        daemon_plugin("probe", Some(limits)),
        probe_declaration(),
    );
    assert!(daemon.wait_heartbeats(1, T));
    let start = Instant::now();
    let looping = get(&daemon, "/loop");
    let echo = get(&daemon, "/echo").answer(T);
    assert_eq!(echo.status, 200);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let answer = looping.answer(Duration::from_secs(60));
    let end = Instant::now();
    assert_eq!(answer.status, 504, "{}", answer.text());
    assert!(end - start >= Duration::from_millis(11_000));
    let during = daemon
        .heartbeats()
        .into_iter()
        .filter(|t| *t > start && *t < end)
        .count();
    assert!(during >= 1, "no heartbeat during a {:?} spin", end - start);
}

// ---------------------------------------------------------------------------------------------
// The local runtime: the real CLI binary

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// The CLI binary: `<target>/debug/dify-plugin-host`, else built into `<target>/daemon-cli`
/// (a directory of its own: the test run may hold the main one's lock). `None` if neither works.
pub fn host_binary() -> Option<PathBuf> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let bin = target_dir().join("debug/dify-plugin-host");
            if bin.exists() {
                return Some(bin);
            }
            let dir = target_dir().join("daemon-cli");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let built = Command::new(cargo)
                .args(["build", "-p", "dify-plugin-cli", "--target-dir"])
                .arg(&dir)
                .current_dir(workspace_root())
                .env_remove("CARGO_TARGET_DIR")
                .status()
                .is_ok_and(|s| s.success());
            let bin = dir.join("debug/dify-plugin-host");
            (built && bin.exists()).then_some(bin)
        })
        .clone()
}

/// A guest component as the test support builds it.
pub fn component(name: &str) -> PathBuf {
    // Loading builds the guests (support's `guests()`).
    let _ = load(name, &MockDify::new());
    let path = target_dir()
        .join("guests/wasm32-wasip2/guest")
        .join(format!("{}.wasm", name.replace('-', "_")));
    assert!(path.exists(), "{}", path.display());
    path
}

fn stdio(name: &str, mock: &MockDify) -> Option<FakeDaemon> {
    let Some(bin) = host_binary() else {
        eprintln!("skipping: no dify-plugin-host binary (cargo build -p dify-plugin-cli failed)");
        return None;
    };
    let mut command = Command::new(bin);
    command.arg("run").arg(component(name)).arg("--stdio");
    Some(FakeDaemon::spawn_stdio(
        command,
        mock.clone(),
        DemoApps::TENANT,
    ))
}

#[test]
fn stdio_duck_is_ready_at_the_first_heartbeat_and_serves_the_same_body() {
    let mock = mock_with_script();
    let Some(daemon) = stdio("duck", &mock) else {
        return;
    };
    let started = Instant::now();
    assert!(daemon.wait_ready(T), "not ready: {}", daemon.stderr());
    eprintln!("stdio duck ready after {:?}", started.elapsed());
    let target = format!("/duck/{SCRIPTED}?query=hi");
    let answer = get(&daemon, &target).answer(T);
    let direct = load("duck", &mock).request(EndpointRequest::get(&target));
    assert_eq!(answer.status, direct.status());
    assert_eq!(answer.header("Content-Type"), Some("text/html"));
    assert_eq!(answer.text(), direct.text().unwrap());
    let status = daemon.exit_status(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}: {}",
        daemon.stderr()
    );
}

#[test]
fn stdio_plugin_log_lines_arrive_as_log_events() {
    let Some(daemon) = stdio("probe", &demo()) else {
        return;
    };
    assert!(daemon.wait_ready(T), "not ready: {}", daemon.stderr());
    let answer = get(&daemon, "/log").answer(T);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), "logged");
    let logs = daemon.wait_logs(1, T);
    let log = logs
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .unwrap_or("")
                .contains("probe says hello")
        })
        .unwrap_or_else(|| panic!("{logs:?}; stderr: {}", daemon.stderr()));
    assert_eq!(log["level"], "info");
    assert!(log["timestamp"].as_f64().unwrap() > 1.0e9);
}
