//! `--daemon`: the host behind Dify's plugin daemon protocol, driven by a minimal daemon of the
//! benchmark's own (prepared lines, no checks: the measured side is the host), over TCP
//! (remote debugging, in this process) and over stdio (the `dify-plugin-host run --stdio`
//! binary, as the daemon's local runtime runs a plugin). The same figures as the Python peer's
//! (`bench/compare.sh`): streaming chunks/s through one backwards invocation of N events of
//! 143 bytes, the blocking round trip, and endpoint requests/s.
//!
//! Then the same for tool requests, driven as the peer's `bench.py` drives its Python tool
//! (`../shared/peer/plugin/tools/app_bench.py`): the bench plugin's `app_bench` is that tool
//! in Rust, called with the peer's `invoke_tool` request (provider `bench`, tool `app_bench`):
//! the round trip of a tool request doing one blocking chat invoke, tool requests/s, and one
//! streaming tool request of N events.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dify_plugin_host::backend::Secret;
use dify_plugin_host::daemon::declaration::Declaration;
use dify_plugin_host::daemon::remote::{self, RemoteOptions};
use dify_plugin_host::mock::MockDify;
use dify_plugin_host::{PluginConfig, Runtime};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use serde_json::{Value, json};

use crate::backend::{BLOCKING, EVENT};

/// One side of a daemon connection, driven as the peer's daemon drives its plugin: the
/// plugin's lines read, and the small answers written, on the calling thread (the peer's
/// daemon answers on its reading thread); a stream of events written by a thread of its own,
/// so that the plugin's lines are read while it goes.
struct Driver {
    input: BufReader<Box<dyn Read + Send>>,
    /// What `input` reads, to poll.
    fd: OwnedFd,
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    /// The thread writing a stream, if one is.
    streaming: Option<JoinHandle<()>>,
    child: Option<Child>,
}

impl Driver {
    fn new(
        input: impl Read + Send + 'static,
        fd: OwnedFd,
        out: Box<dyn Write + Send>,
        child: Option<Child>,
    ) -> Self {
        Driver {
            input: BufReader::with_capacity(1 << 16, Box::new(input)),
            fd,
            out: Arc::new(Mutex::new(out)),
            streaming: None,
            child,
        }
    }

    /// The plugin that `child` runs, on its standard input and output.
    fn piped(mut child: Child) -> Self {
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let fd = stdout.as_fd().try_clone_to_owned().expect("the pipe");
        Driver::new(stdout, fd, Box::new(stdin), Some(child))
    }

    /// The plugin's next line. Before a read that would block, the plugin's output is
    /// polled for up to 50 µs, as the host polls the daemon's (`daemon/connection.rs`) and as
    /// the Go daemon's idle threads poll the network before they sleep: the round trips
    /// measured are the plugins', not this machine's cost of waking a sleeping reader.
    fn next(&mut self) -> Value {
        let mut line = String::new();
        loop {
            line.clear();
            if self.input.buffer().is_empty() {
                let since = Instant::now();
                let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
                let now = Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                while !matches!(poll(&mut fds, Some(&now)), Ok(n) if n > 0)
                    && since.elapsed() < Duration::from_micros(50)
                {
                    std::thread::yield_now();
                }
            }
            let read = self
                .input
                .read_line(&mut line)
                .expect("read from the plugin");
            assert!(read > 0, "the plugin stopped talking");
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                return value;
            }
        }
    }

    fn write(&mut self, text: &str) {
        self.finish_stream();
        let mut out = self.out.lock().expect("the writer");
        out.write_all(text.as_bytes()).expect("write to the plugin");
        out.flush().expect("flush");
    }

    /// Write `n` times `line`, then `end`, from a thread of its own, as the peer's daemon
    /// writes a stream: in batches of about 1 MiB, so that the plugin reads the first events
    /// while the rest are written.
    fn write_stream(&mut self, line: String, n: usize, end: String) {
        self.finish_stream();
        let out = self.out.clone();
        self.streaming = Some(std::thread::spawn(move || {
            let mut out = out.lock().expect("the writer");
            let per = ((1 << 20) / line.len()).max(1);
            let batch = line.repeat(per);
            let mut left = n;
            while left >= per {
                out.write_all(batch.as_bytes())
                    .expect("write to the plugin");
                left -= per;
            }
            let rest = line.repeat(left) + &end;
            out.write_all(rest.as_bytes()).expect("write to the plugin");
            out.flush().expect("flush");
        }));
    }

    fn finish_stream(&mut self) {
        if let Some(thread) = self.streaming.take() {
            thread.join().expect("the stream's writer");
        }
    }

    /// The daemon's request line for `target`.
    fn request(&mut self, session: &str, target: &str) {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n");
        let line = json!({"session_id": session, "conversation_id": null, "message_id": null,
            "app_id": null, "endpoint_id": "ep", "context": null, "event": "request",
            "data": {"action": "invoke_endpoint", "raw_http_request": hex::encode(raw),
                     "settings": {}, "type": "endpoint", "user_id": ""}});
        self.write(&format!("{line}\n"));
    }

    /// The daemon's `invoke_tool` request line for the bench plugin's `app_bench`, as the
    /// peer's `bench.py` writes it (`FakeDaemon.invoke_tool`).
    fn tool(&mut self, session: &str, params: Value) {
        let line = json!({"app_id": null, "context": null, "conversation_id": null,
            "data": {"type": "tool", "action": "invoke_tool", "user_id": "bench-user",
                     "provider": "bench", "tool": "app_bench", "credentials": {},
                     "credential_type": "api-key", "tool_parameters": params},
            "endpoint_id": null, "event": "request", "message_id": null, "session_id": session});
        self.write(&format!("{line}\n"));
    }

    /// Answer an invoke with `n` times `data` (a prepared text) and the end, each line framed
    /// exactly as the peer's daemon frames it (`daemon_line` in its `bench.py`: every key of
    /// the Go daemon's session message, sorted; 424 bytes for an `EVENT` line): one line made
    /// once and repeated, as the peer's daemon does.
    fn answer_as_peer(&mut self, session: &str, id: &str, data: &str, n: usize) {
        let line = |event: &str, message: &str, data: &str| {
            format!(
                r#"{{"app_id":null,"context":null,"conversation_id":null,"data":{{"backwards_request_id":"{id}","event":"{event}","message":"{message}","data":{data}}},"endpoint_id":null,"event":"backwards_response","message_id":null,"session_id":"{session}"}}"#
            ) + "\n"
        };
        self.respond(line("response", "stream", data), n, line("end", "", "null"));
    }

    /// `n` times the `response` line `data`, then the `end` line: a stream from a thread of
    /// its own, a single answer at once.
    fn respond(&mut self, data: String, n: usize, end: String) {
        if n > 1 {
            self.write_stream(data, n, end);
        } else {
            self.write(&(data.repeat(n) + &end));
        }
    }

    /// Answer an invoke with `n` times `data` (a prepared text) and the end, in the shortest
    /// framing the daemon's lines may have (`session_id`, `event`, `data`).
    fn answer(&mut self, session: &str, id: &str, data: &str, n: usize) {
        let line = |event: &str, message: &str, data: &str| {
            format!(
                r#"{{"session_id":"{session}","event":"backwards_response","data":{{"backwards_request_id":"{id}","event":"{event}","message":"{message}","data":{data}}}}}"#
            ) + "\n"
        };
        self.respond(line("response", "stream", data), n, line("end", "", "null"));
    }

    /// The next session message (heartbeats and logs skipped): (session id, type, data).
    fn session_message(&mut self) -> (String, String, Value) {
        loop {
            let mut line = self.next();
            if line["event"] == "session" {
                let session = line["session_id"].as_str().unwrap_or_default().to_owned();
                let kind = line["data"]["type"].as_str().unwrap_or_default().to_owned();
                return (session, kind, line["data"]["data"].take());
            }
        }
    }
}

impl Drop for Driver {
    /// The plugin's process, if this driver started it, is stopped: the Python SDK does not
    /// exit when its input ends.
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The id an `invoke` message is to be answered with.
fn invoke_id(data: &Value) -> String {
    data["backwards_request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Streaming: one request whose app call streams `n` events; seconds until its end.
fn streaming(driver: &mut Driver, n: usize) -> f64 {
    let start = Instant::now();
    driver.request("stream", "/duck/bench?query=hi");
    let mut results = 0;
    loop {
        let (session, kind, data) = driver.session_message();
        match kind.as_str() {
            "invoke" => {
                let id = invoke_id(&data);
                driver.answer(&session, &id, EVENT, n);
            }
            "stream" if data.get("result").is_some() => results += 1,
            "end" => break,
            "error" => panic!("the plugin failed: {data}"),
            _ => {}
        }
    }
    assert!(results > 0, "no body");
    start.elapsed().as_secs_f64()
}

/// Blocking round trips: `n` blocking invokes in one request; each one's time, from the
/// invoke to the next one (or the end).
fn blocking(driver: &mut Driver, n: usize) -> Vec<Duration> {
    driver.request("blocking", &format!("/blocking?n={n}"));
    let mut times = Vec::with_capacity(n);
    let mut last: Option<Instant> = None;
    loop {
        let (session, kind, data) = driver.session_message();
        let now = Instant::now();
        match kind.as_str() {
            "invoke" => {
                if let Some(last) = last {
                    times.push(now - last);
                }
                last = Some(now);
                let id = invoke_id(&data);
                driver.answer(&session, &id, BLOCKING, 1);
            }
            "end" => {
                if let Some(last) = last {
                    times.push(now - last);
                }
                return times;
            }
            "error" => panic!("the plugin failed: {data}"),
            _ => {}
        }
    }
}

/// Endpoint requests/s with `sessions` at once, each request one blocking invoke.
fn requests(driver: &mut Driver, sessions: usize, seconds: f64) -> f64 {
    let start = Instant::now();
    let mut done = 0usize;
    for i in 0..sessions {
        driver.request(&format!("r{i}"), "/one");
    }
    let mut open = sessions;
    while open > 0 {
        let (session, kind, data) = driver.session_message();
        match kind.as_str() {
            "invoke" => {
                let id = invoke_id(&data);
                driver.answer(&session, &id, BLOCKING, 1);
            }
            "end" => {
                done += 1;
                if start.elapsed().as_secs_f64() < seconds {
                    driver.request(&format!("r{done}-{session}"), "/one");
                } else {
                    open -= 1;
                }
            }
            _ => {}
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// A session id of 32 hex digits, as the peer's (`uuid4().hex`), so that every line is as
/// long as its: `kind` and a number.
fn session_id(kind: u8, n: usize) -> String {
    format!("{kind:02x}{n:030x}")
}

/// One tool session to its end: each app call it makes answered (a blocking one with the
/// peer's reply, a streaming one with `chunks` events); its JSON message.
fn tool_session(driver: &mut Driver, session: &str, params: Value, chunks: usize) -> Value {
    driver.tool(session, params);
    let mut message = Value::Null;
    loop {
        let (from, kind, data) = driver.session_message();
        assert_eq!(from, session, "one session at a time");
        match kind.as_str() {
            "invoke" => {
                let id = invoke_id(&data);
                if data["request"]["response_mode"] == "streaming" {
                    driver.answer_as_peer(session, &id, EVENT, chunks);
                } else {
                    driver.answer_as_peer(session, &id, BLOCKING, 1);
                }
            }
            "stream" if data["type"] == "json" => message = data["message"]["json_object"].clone(),
            "end" => return message,
            "error" => panic!("the tool failed: {data}"),
            _ => {}
        }
    }
}

/// Tool round trips as the daemon sees them, the peer's `tool_rtt` (its (a2)): `n` tool
/// requests one after the other, each doing one blocking chat invoke, after `warm` of them;
/// each one's time from the request to its end.
fn tool_round_trips(driver: &mut Driver, warm: usize, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for i in 0..warm + n {
        let params =
            json!({"mode": "blocking", "app": "chat", "iterations": 1, "tag": format!("t{i}")});
        let start = Instant::now();
        let message = tool_session(driver, &session_id(1, i), params, 0);
        let took = start.elapsed();
        assert_eq!(
            message["last_result"]["answer"],
            "Hello! How can I help you today?"
        );
        if i >= warm {
            times.push(took);
        }
    }
    times
}

/// Blocking round trips as the tool sees them, the peer's `blocking` (its (a)): one tool
/// request doing `n` blocking chat invokes one after the other, each timed in the tool from
/// the call to its answer (`lat_s`); the first `warm` left out, as the peer leaves them.
fn tool_blocking(driver: &mut Driver, warm: usize, n: usize) -> Vec<f64> {
    let params = json!({"mode": "blocking", "app": "chat", "iterations": warm + n, "tag": "b"});
    let message = tool_session(driver, &session_id(2, n), params, 0);
    let mut times: Vec<f64> = message["lat_s"]
        .as_array()
        .expect("lat_s")
        .iter()
        .skip(warm)
        .map(|t| t.as_f64().expect("a time") * 1e6)
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

/// Tool requests/s with `sessions` at once, each doing one blocking chat invoke.
fn tool_requests(driver: &mut Driver, sessions: usize, seconds: f64) -> f64 {
    let params = json!({"mode": "blocking", "app": "chat", "iterations": 1, "tag": "c"});
    let start = Instant::now();
    let mut sent = 0usize;
    let mut done = 0usize;
    for _ in 0..sessions {
        driver.tool(&session_id(0x10 + sessions as u8, sent), params.clone());
        sent += 1;
    }
    let mut open = sessions;
    while open > 0 {
        let (session, kind, data) = driver.session_message();
        match kind.as_str() {
            "invoke" => {
                let id = invoke_id(&data);
                driver.answer_as_peer(&session, &id, BLOCKING, 1);
            }
            "end" => {
                done += 1;
                if start.elapsed().as_secs_f64() < seconds {
                    driver.tool(&session_id(0x10 + sessions as u8, sent), params.clone());
                    sent += 1;
                } else {
                    open -= 1;
                }
            }
            "error" => panic!("the tool failed: {data}"),
            _ => {}
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// One streaming tool request of `chunks` events: the tool's own time, from before its app
/// call to after the last event (`t_total_s`, what the peer's chunks/s is of), and the
/// daemon's, from the request to the end.
fn tool_streaming(driver: &mut Driver, chunks: usize) -> (f64, f64) {
    let start = Instant::now();
    let params = json!({"mode": "stream", "app": "chat", "tag": "s"});
    let message = tool_session(driver, &session_id(3, chunks), params, chunks);
    let daemon = start.elapsed().as_secs_f64();
    assert_eq!(message["chunks"], chunks, "{message}");
    assert_eq!(message["answer_bytes"], 3 * chunks, "{message}");
    let event: Value = serde_json::from_str(EVENT).expect("the event");
    assert_eq!(message["last_event"], event);
    let tool = message["t_total_s"].as_f64().expect("t_total_s");
    (tool, daemon)
}

/// One transport's row of tool figures, on a connection serving the bench plugin's tool.
/// The counts are the peer's own (`bench.py`: 500 blocking calls and 200 tool requests, the
/// first 20 of each left out).
fn measure_tools(name: &str, tools: &mut Driver, chunks: usize, out: &mut Value) {
    let calls = tool_blocking(tools, 20, 480);
    let call = |q: f64| calls[((calls.len() - 1) as f64 * q) as usize];
    let mut times = tool_round_trips(tools, 20, 180);
    times.sort_unstable();
    let p = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    let one = tool_requests(tools, 1, 2.0);
    let sixteen = tool_requests(tools, 16, 2.0);
    tool_streaming(tools, 1000); // warm up
    // The median of 3 (by the tool's time), as the peer reports the median of its runs.
    let mut runs: Vec<(f64, f64)> = (0..3).map(|_| tool_streaming(tools, chunks)).collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (tool, daemon) = runs[1];
    println!(
        "| {name} | p50 {:.1} µs, p99 {:.1} µs | p50 {:.1} µs, p99 {:.1} µs | {one:.0} / {sixteen:.0} req/s | {:.0} chunks/s ({:.2} µs each) / {:.0} chunks/s |",
        call(0.5),
        call(0.99),
        p(0.5),
        p(0.99),
        chunks as f64 / tool,
        tool * 1e6 / chunks as f64,
        chunks as f64 / daemon,
    );
    out[format!("tool_{name}")] = json!({"blocking_p50_us": call(0.5), "blocking_p99_us": call(0.99),
        "round_trip_p50_us": p(0.5), "round_trip_p99_us": p(0.99),
        "requests_per_s_1": one, "requests_per_s_16": sixteen,
        "streaming_chunks_per_s_in_tool": chunks as f64 / tool,
        "streaming_chunks_per_s_from_daemon": chunks as f64 / daemon});
}

/// One transport's row: streaming on a Duck connection, the rest on a bench-plugin one.
fn measure(name: &str, duck: &mut Driver, bench: &mut Driver, chunks: usize, out: &mut Value) {
    streaming(duck, 1000); // warm up
    let seconds = streaming(duck, chunks);
    let mut times = blocking(bench, 2000);
    times.sort_unstable();
    let p = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    let one = requests(bench, 1, 2.0);
    let sixteen = requests(bench, 16, 2.0);
    println!(
        "| {name} | {:.0} chunks/s ({:.2} µs each) | p50 {:.1} µs, p99 {:.1} µs | {one:.0} / {sixteen:.0} req/s |",
        chunks as f64 / seconds,
        seconds * 1e6 / chunks as f64,
        p(0.5),
        p(0.99)
    );
    out[name] = json!({"chunks_per_s": chunks as f64 / seconds, "blocking_p50_us": p(0.5),
        "blocking_p99_us": p(0.99), "requests_per_s_1": one, "requests_per_s_16": sixteen});
}

/// A declaration with these endpoints (the Duck example's files otherwise): the benchmark's
/// daemon checks nothing, but the host registers what it is given.
fn declaration(root: &Path, endpoints: Value) -> Declaration {
    let mut declaration =
        Declaration::load(&root.join("examples/duck")).expect("the Duck declaration");
    declaration
        .endpoint_group
        .as_mut()
        .expect("Duck has an endpoint group")["endpoints"] = endpoints;
    declaration
}

/// A TCP connection from the host, serving `wasm`, registered with this daemon.
fn tcp(runtime: &Runtime, wasm: &Path, declaration: Declaration) -> Driver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let address = listener.local_addr().expect("address").to_string();
    let plugin = runtime
        .load(wasm, PluginConfig::new(MockDify::new(), ""))
        .expect("load");
    std::thread::spawn(move || {
        let options = RemoteOptions {
            address,
            key: Secret::new("bench"),
            reconnect: false,
        };
        let _ = remote::debug(&plugin, &declaration, &options);
    });
    accepted(&listener, None)
}

/// The plugin that connects to `listener`, once it has registered.
fn accepted(listener: &TcpListener, child: Option<Child>) -> Driver {
    let (stream, _) = listener.accept().expect("the plugin connects");
    stream.set_nodelay(true).expect("nodelay");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    while !line.contains(r#""type":"end""#) {
        line.clear();
        reader.read_line(&mut line).expect("registration");
    }
    let fd = stream.as_fd().try_clone_to_owned().expect("the socket");
    Driver::new(reader, fd, Box::new(stream), child)
}

/// The host binary serving `wasm` on stdin and stdout.
fn stdio(binary: &Path, wasm: &Path) -> Driver {
    let child = Command::new(binary)
        .args(["run", &wasm.display().to_string(), "--stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the host");
    Driver::piped(child)
}

/// `dify-plugin-runtime` serving `wasm` on stdin and stdout from `dir`, the folder of the
/// plugin's declaration: the daemon's local runtime as an installed package runs it (its
/// launcher starts the runtime in the package's root). Tool requests need it: `run --stdio`
/// of a bare `.wasm` has no declaration, so no tool provider, and answers every tool request
/// that the plugin has no tools (the declaration is what the daemon front checks a tool's
/// parameters against; `app_bench` declares none, as the peer's, so none are checked).
fn stdio_runtime(binary: &Path, wasm: &Path, dir: &Path) -> Driver {
    let child = Command::new(binary)
        .arg(wasm)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the runtime");
    Driver::piped(child)
}

/// The Python peer's tool plugin, `plugin` (a folder with its `main.py`), started with
/// `python` as the daemon's local runtime starts a plugin (`python -m main`,
/// `INSTALL_METHOD=local`, pipes) or, given the address of a listener, by remote debugging
/// (`INSTALL_METHOD=remote`).
fn python_plugin(python: &Path, plugin: &Path, remote: Option<&str>) -> Child {
    let mut command = Command::new(python);
    command
        .args(["-m", "main"])
        .current_dir(plugin)
        .env_remove("PYTHONPATH")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    match remote {
        None => command.env("INSTALL_METHOD", "local"),
        Some(address) => command
            .env("INSTALL_METHOD", "remote")
            .env("REMOTE_INSTALL_URL", address)
            .env("REMOTE_INSTALL_KEY", "bench"),
    };
    command.spawn().expect("start the Python plugin")
}

/// The peer's plugin over stdio, ready (its first heartbeat seen).
fn python_stdio(python: &Path, plugin: &Path) -> Driver {
    let mut driver = Driver::piped(python_plugin(python, plugin, None));
    while driver.next()["event"] != "heartbeat" {}
    driver
}

/// The peer's plugin by remote debugging, registered.
fn python_tcp(python: &Path, plugin: &Path) -> Driver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let address = listener.local_addr().expect("address").to_string();
    let child = python_plugin(python, plugin, Some(&address));
    accepted(&listener, Some(child))
}

/// A release binary of the CLI crate: in `CARGO_TARGET_DIR` when it is set and has it, else
/// in the workspace's `target`.
fn release_binary(root: &Path, name: &str) -> PathBuf {
    let own = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| PathBuf::from(dir).join("release").join(name));
    own.filter(|path| path.is_file())
        .unwrap_or_else(|| root.join("target/release").join(name))
}

pub fn run(
    root: &Path,
    duck_wasm: &Path,
    bench_wasm: &Path,
    chunks: usize,
    peer: Option<&(PathBuf, PathBuf)>,
) -> Value {
    let mut out = json!({"chunks": chunks, "event_bytes": EVENT.len()});
    println!(
        "the host behind the daemon protocol ({chunks} events of {} bytes)",
        EVENT.len()
    );
    println!(
        "| transport | streaming through one backwards invocation | blocking round trip | requests/s at 1 / 16 sessions |"
    );
    println!("|---|---|---|---|");
    let runtime = Runtime::new().expect("runtime");
    let duck_endpoints = json!([{"path": "/duck/<app_id>", "method": "GET", "hidden": false}]);
    let bench_endpoints = json!([
        {"path": "/blocking", "method": "GET", "hidden": false},
        {"path": "/one", "method": "GET", "hidden": false},
    ]);
    let mut duck = tcp(&runtime, duck_wasm, declaration(root, duck_endpoints));
    let mut bench = tcp(&runtime, bench_wasm, declaration(root, bench_endpoints));
    measure("tcp", &mut duck, &mut bench, chunks, &mut out);
    let binary = release_binary(root, "dify-plugin-host");
    if binary.is_file() {
        let (mut duck, mut bench) = (stdio(&binary, duck_wasm), stdio(&binary, bench_wasm));
        measure("stdio", &mut duck, &mut bench, chunks, &mut out);
    } else {
        println!("| stdio | skipped: `cargo build --release -p dify-plugin-cli` first | | |");
    }
    drop((duck, bench));

    println!();
    println!(
        "tool requests (`app_bench`, the Python peer's tool in Rust; streaming: {chunks} events)"
    );
    println!(
        "| transport | blocking chat invoke, round trip in the tool | tool request doing 1 blocking invoke, round trip from the daemon | tool requests/s at 1 / 16 sessions | streaming tool request: in the tool / from the daemon |"
    );
    println!("|---|---|---|---|---|");
    let plugin_dir = root.join("bench/plugin");
    let tool_declaration = Declaration::load(&plugin_dir).expect("the bench plugin's declaration");
    let mut tools = tcp(&runtime, bench_wasm, tool_declaration);
    measure_tools("tcp", &mut tools, chunks, &mut out);
    drop(tools);
    let binary = release_binary(root, "dify-plugin-runtime");
    if binary.is_file() {
        let mut tools = stdio_runtime(&binary, bench_wasm, &plugin_dir);
        measure_tools("stdio", &mut tools, chunks, &mut out);
    } else {
        println!("| stdio | skipped: `cargo build --release -p dify-plugin-cli` first | | | |");
    }
    if let Some((plugin, python)) = peer {
        // The same driver, the same requests, the Python SDK's plugin.
        let mut tools = python_tcp(python, plugin);
        measure_tools("peer_tcp", &mut tools, chunks, &mut out);
        drop(tools);
        let mut tools = python_stdio(python, plugin);
        measure_tools("peer_stdio", &mut tools, chunks, &mut out);
    }
    out
}
