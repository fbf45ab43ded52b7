//! Attacks on the host's bounds, by plugins written below the SDK (`tests/plugins/raw*`) and
//! by hostile HTTP clients: each time, memory and instance held by a request is bounded, and
//! every failure names its cause (SECURITY.md lists them).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use dify_plugin_host::backend::{DifyConfig, InnerBackend, Secret};
use dify_plugin_host::mock::DemoApps;
use dify_plugin_host::server::{Server, ServerLimits};
use dify_plugin_host::{EndpointRequest, Limits, Plugin, PluginConfig};
use serde_json::json;

use crate::http::send;
use crate::replay::{Ending, Replay, Reply, recorded};
use crate::support::{demo, load_limited, load_result, load_with, logged};

const WAIT: Duration = Duration::from_secs(10);

fn raw(limits: Limits) -> Plugin {
    load_limited("raw", &demo(), limits)
}

fn short_deadline() -> Limits {
    Limits {
        deadline: Duration::from_millis(300),
        ..Limits::default()
    }
}

fn serve_with(plugin: &Plugin, limits: ServerLimits) -> Server {
    Server::start_with(
        plugin.clone(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        limits,
    )
    .expect("server")
}

#[test]
fn a_sleeping_plugin_is_stopped_at_its_deadline_not_when_it_wakes() {
    let plugin = raw(short_deadline());
    let started = Instant::now();
    let response = plugin.request(EndpointRequest::get("/sleep?ms=15000"));
    assert_eq!(response.status(), 504);
    assert_eq!(
        response.text().unwrap(),
        "the plugin ran past its deadline of 300 ms"
    );
    // Woken at the deadline, not after its 15 s.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(plugin.wait_idle(WAIT));
}

#[test]
fn a_sleep_after_the_head_cuts_the_body_at_the_deadline() {
    let plugin = raw(short_deadline());
    let mut response = plugin.request(EndpointRequest::get("/sleep-after-head?ms=15000"));
    assert_eq!(response.status(), 200);
    assert_eq!(response.next().unwrap().unwrap(), b"a");
    let cut = response.next().unwrap().unwrap_err();
    assert_eq!(
        cut.to_string(),
        "the plugin ran past its deadline of 300 ms"
    );
}

#[test]
fn calling_the_mock_in_a_loop_is_the_plugins_own_time() {
    let plugin = raw(short_deadline());
    let response = plugin.request(EndpointRequest::get(&format!(
        "/chat-loop?app={}&n=100000000",
        DemoApps::CHATBOT
    )));
    assert_eq!(response.status(), 504);
}

#[test]
fn wall_time_bounds_a_wait_on_a_dify_that_never_answers() {
    // A Dify that starts its answer and then says nothing: the wait is given back on the
    // plugin's clock, but ends with the request's wall time.
    let body = recorded("inner-03-chat-blocking").body;
    let replay = Replay::start(vec![
        Reply::new("HTTP/1.1 200 OK", "text/event-stream", &body[..10]).ending(Ending::Stall),
    ]);
    let mut dify = DifyConfig::new(&replay.url());
    dify.inner_api_key = Some(Secret::new("key"));
    let mut config = PluginConfig::new(InnerBackend::new(&dify).unwrap(), DemoApps::TENANT);
    config.limits.wall_time = Duration::from_millis(300);
    let started = Instant::now();
    let call = json!({"interface": "chat", "mode": "blocking", "app_id": "a", "query": "hi"});
    let response =
        load_with("probe", config).request(EndpointRequest::post("/call", call.to_string()));
    // The wait was cut at the wall time, and the plugin with it.
    assert_eq!(response.status(), 504);
    assert_eq!(
        response.text().unwrap(),
        "the request ran past its wall-time limit of 300 ms"
    );
    assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
}

#[test]
fn a_flood_beyond_the_plugins_slots_is_refused_503_and_another_plugin_is_served() {
    let limits = Limits {
        deadline: Duration::from_secs(2),
        in_flight: 3,
        queue_length: 1,
        queue_wait: Duration::from_millis(50),
        ..Limits::default()
    };
    let plugin = raw(limits);
    let server = serve_with(&plugin, ServerLimits::default());
    // Three sleepers take the plugin's slots (each is held until its deadline).
    let sleepers: Vec<_> = (0..3)
        .map(|_| {
            let addr = server.addr();
            std::thread::spawn(move || send(addr, "GET", "/sleep?ms=60000", b"").status)
        })
        .collect();
    while plugin.in_flight() < 3 {
        std::thread::yield_now();
    }
    let refused = send(server.addr(), "GET", "/echo", b"");
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(refused.text().contains("plugin raw is running 3 requests"));

    // Another plugin of the same runtime has slots of its own.
    let other = load_limited("duck", &demo(), Limits::default());
    let served = other.request(EndpointRequest::get(&format!(
        "/duck/{}?query=hi",
        DemoApps::CHATBOT
    )));
    assert_eq!(served.status(), 200);

    for sleeper in sleepers {
        assert_eq!(sleeper.join().unwrap(), 504);
    }
    // And the flooded plugin serves again once its sleepers are stopped.
    assert_eq!(send(server.addr(), "POST", "/echo", b"back").text(), "back");
}

#[test]
fn heads_a_plugin_may_not_send_are_refused_with_the_reason() {
    let server = serve_with(&raw(Limits::default()), ServerLimits::default());
    let cases = [
        (
            "/headers?n=25000&len=1",
            "the plugin's response head was refused: 25000 headers: at most 100 are allowed",
        ),
        (
            "/headers?n=10&len=100000",
            "the plugin's response head was refused: 1000050 bytes of headers: at most 65536 are allowed",
        ),
        (
            "/status?code=101",
            "the plugin's response head was refused: status 101: a plugin answers with a status from 200 to 599",
        ),
        (
            "/status?code=99",
            "the plugin's response head was refused: status 99: a plugin answers with a status from 200 to 599",
        ),
    ];
    for (target, reason) in cases {
        let response = send(server.addr(), "GET", target, b"");
        assert_eq!(response.status, 500, "{target}");
        assert_eq!(response.text(), reason, "{target}");
    }
}

#[test]
fn framing_headers_are_the_hosts() {
    let server = serve_with(&raw(Limits::default()), ServerLimits::default());
    for target in ["/te", "/two-lengths", "/length?value=99999"] {
        let response = send(server.addr(), "GET", target, b"");
        assert_eq!(response.status, 200, "{target}");
        assert_eq!(
            response.header("transfer-encoding"),
            Some("chunked"),
            "{target}"
        );
        assert_eq!(response.header("content-length"), None, "{target}");
        assert_eq!(response.text(), "ok", "{target}");
    }
}

/// One request over a raw connection, read to the end.
fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn an_http_1_0_client_gets_a_whole_body_with_its_length_or_a_500() {
    let server = serve_with(&raw(Limits::default()), ServerLimits::default());
    let whole = exchange(server.addr(), "GET /stream?n=3&ms=0 HTTP/1.0\r\n\r\n");
    assert!(whole.starts_with("HTTP/1.0 200 OK\r\n"), "{whole}");
    assert!(whole.contains("content-length: 24\r\n"), "{whole}");
    assert!(
        whole.ends_with("\r\n\r\nchunk 0\nchunk 1\nchunk 2\n"),
        "{whole}"
    );

    let limits = Limits {
        deadline: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = serve_with(&raw(limits), ServerLimits::default());
    let cut = exchange(
        server.addr(),
        "GET /sleep-after-head?ms=15000 HTTP/1.0\r\n\r\n",
    );
    assert!(cut.starts_with("HTTP/1.0 504 Gateway Timeout\r\n"), "{cut}");
}

#[test]
fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let limits = ServerLimits {
        header_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    };
    let server = serve_with(&raw(Limits::default()), limits);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"GET /echo HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    let mut answer = Vec::new();
    // The server closes the connection (with a 408 or nothing): the read ends, well before
    // the test's own 10 s guard.
    stream
        .read_to_end(&mut answer)
        .expect("closed by the server");
    let idle = TcpStream::connect(server.addr()).unwrap();
    idle.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!((&idle).read(&mut [0; 16]).expect("closed when idle"), 0);
}

#[test]
fn an_unknown_path_is_answered_before_its_body_is_read() {
    let server = serve_with(
        &load_limited("duck", &demo(), Limits::default()),
        ServerLimits::default(),
    );
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    // A 10 MiB body announced and never sent: the answer comes from the head alone.
    stream
        .write_all(b"POST /nowhere HTTP/1.1\r\nhost: x\r\ncontent-length: 10485760\r\n\r\n")
        .unwrap();
    let mut head = [0; 12];
    stream
        .read_exact(&mut head)
        .expect("an answer without the body");
    assert_eq!(&head, b"HTTP/1.1 404");
}

#[test]
fn request_bodies_beyond_the_hosts_budget_are_refused_503() {
    let limits = ServerLimits {
        request_bytes: 1 << 20,
        ..ServerLimits::default()
    };
    let server = serve_with(&raw(Limits::default()), limits);
    let response = send(server.addr(), "POST", "/echo", &vec![b'x'; 2 << 20]);
    assert_eq!(response.status, 503);
    assert!(
        response
            .text()
            .contains("the host holds 1024 KiB of request bodies")
    );
    assert_eq!(
        send(server.addr(), "POST", "/echo", b"small").text(),
        "small"
    );
}

#[test]
fn a_client_that_stops_reading_releases_the_plugin_after_the_write_timeout() {
    let limits = Limits {
        write_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let plugin = raw(limits);
    let server = serve_with(&plugin, ServerLimits::default());
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"GET /big?mib=64&piece_kib=1024 HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    while plugin.in_flight() == 0 {
        std::thread::yield_now();
    }
    // Never read: the plugin's write times out and its instance is dropped.
    assert!(plugin.wait_idle(WAIT), "the plugin is still held");
    assert!(
        logged()
            .iter()
            .any(|l| l.contains("the client read nothing for 0.2 s; closing its response")),
        "the write timed out"
    );
    drop(stream);
    assert_eq!(send(server.addr(), "POST", "/echo", b"next").text(), "next");
}

#[test]
fn a_failure_that_is_not_a_trap_names_its_cause() {
    let plugin = raw(Limits::default());
    let response = plugin.request(EndpointRequest::get("/wrong-handle"));
    assert_eq!(response.status(), 500);
    let text = response.text().unwrap();
    assert!(text.starts_with("the plugin crashed: "), "{text}");
    assert!(
        !text.contains("error while executing at wasm backtrace"),
        "{text}"
    );
}

#[test]
fn routes_that_sleep_or_never_end_fail_the_load_with_the_limit() {
    let sleeping = load_result(
        "raw-routes-sleep",
        PluginConfig::new(demo(), DemoApps::TENANT),
    );
    let error = sleeping.err().expect("refused").to_string();
    assert_eq!(
        error,
        "plugin raw_routes_sleep has no usable endpoints or tools: its routes() took longer than 2 s"
    );
    let many = load_result(
        "raw-routes-many",
        PluginConfig::new(demo(), DemoApps::TENANT),
    );
    let error = many.err().expect("refused").to_string();
    assert!(error.contains("20000"), "{error}");
}
