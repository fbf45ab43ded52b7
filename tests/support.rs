//! Shared by every end-to-end test: the guest components (built once per test run), one
//! runtime, and helpers to call the probe plugin and read the recorded fixtures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use dify_plugin_host::mock::{AppMode, Behaviour, DemoApps, MockApp, MockDify};
use dify_plugin_host::{EndpointRequest, HostError, Plugin, PluginConfig, Runtime};
use serde_json::Value;

pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Every plugin the tests run, built for wasm32-wasip2 once for the whole test run.
fn guests() -> &'static BTreeMap<String, PathBuf> {
    static GUESTS: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    GUESTS.get_or_init(|| {
        let root = workspace_root();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| root.join("target"), PathBuf::from)
            .join("guests");
        dify_plugin_host::build::build_plugins(
            &root.join("Cargo.toml"),
            &[
                "duck",
                "workflow-runner",
                "completion-writer",
                "webhook",
                "ask-app",
                "tool-probe",
                "probe",
                "hostile",
                "raw",
                "raw-routes-sleep",
                "raw-routes-many",
            ],
            &target,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    })
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        log::set_logger(&CAPTURE).expect("the only logger");
        log::set_max_level(log::LevelFilter::Info);
        Runtime::new().expect("runtime")
    })
}

/// Keeps every log line of the test run, so tests can check what reached the host's log.
struct Capture(Mutex<Vec<String>>);

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    fn flush(&self) {}
}

/// The host's log lines so far (of every test: filter on what is yours).
pub fn logged() -> Vec<String> {
    CAPTURE.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// A plugin bound to the demo workspace of `mock`.
pub fn load(name: &str, mock: &MockDify) -> Plugin {
    load_with(name, PluginConfig::new(mock.clone(), DemoApps::TENANT))
}

/// A plugin bound to the demo workspace of `mock`, with the test's own limits.
pub fn load_limited(name: &str, mock: &MockDify, limits: dify_plugin_host::Limits) -> Plugin {
    let mut config = PluginConfig::new(mock.clone(), DemoApps::TENANT);
    config.limits = limits;
    load_with(name, config)
}

/// A plugin with a configuration of the test's own.
pub fn load_with(name: &str, config: PluginConfig) -> Plugin {
    load_result(name, config).unwrap_or_else(|e| panic!("{e}"))
}

/// Load a plugin, or say why it cannot be loaded.
pub fn load_result(name: &str, config: PluginConfig) -> Result<Plugin, HostError> {
    runtime().load(&guests()[name], config)
}

/// A fresh demo mock.
pub fn demo() -> MockDify {
    MockDify::demo().expect("demo apps")
}

/// Ask the probe plugin to make an app call; returns what it reported.
pub fn probe(plugin: &Plugin, call: Value) -> Value {
    let response = plugin.request(EndpointRequest::post("/call", call.to_string()));
    assert_eq!(response.status(), 200, "probe failed");
    serde_json::from_str(&response.text().expect("probe body")).expect("probe JSON")
}

/// The event names a probe saw.
pub fn names(report: &Value) -> Vec<String> {
    report["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {report}"))
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The recorded Dify 1.13.2 exchanges the tests replay (`tests/fixtures/dify-1.13.2`,
/// byte-identical copies of real Dify answers; its README says more).
pub fn fixtures() -> PathBuf {
    workspace_root().join("tests/fixtures/dify-1.13.2")
}

/// The `data` payloads of a recorded inner-API case's frames.
pub fn recorded_frames(case: &str) -> Vec<Value> {
    let path = fixtures().join(format!("{case}.resp.frames.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    let frames: Vec<Value> = serde_json::from_str(&text).expect("frames JSON");
    frames
        .into_iter()
        .map(|f| f["payload"]["data"].clone())
        .collect()
}

/// The keys of a JSON object, in order.
pub fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// Add a chat app to the demo workspace that streams `pieces` message events, and return its
/// id: long enough that a plugin cannot finish it before a test interrupts.
pub fn add_long_chat(mock: &MockDify, pieces: usize) -> String {
    let id = format!("c0000000-0000-4000-8000-{pieces:012}");
    let events = (0..pieces)
        .map(|i| serde_json::json!({"event": "message", "answer": format!("piece {i} ")}))
        .collect();
    mock.add_app(
        MockApp::new(DemoApps::TENANT, &id, AppMode::Chat).behaviour(Behaviour::Script(events)),
    )
    .expect("a valid script");
    id
}
