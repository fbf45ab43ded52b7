//! The README's main command, run as a new user would: `dify-plugin-host call examples/duck …`
//! from the repository root, building the plugin crate first.

use std::path::Path;
use std::process::Command;

const CHATFLOW: &str = "a1b2c3d4-0000-4000-8000-000000000001";

#[test]
fn call_builds_the_duck_example_and_prints_its_streamed_events() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_dify-plugin-host"))
        .current_dir(root)
        .args([
            "call",
            "examples/duck",
            "GET",
            &format!("/duck/{CHATFLOW}?query=hello"),
            "--value",
            &format!("app_id={CHATFLOW}"),
        ])
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run dify-plugin-host");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    let events: Vec<serde_json::Value> = stdout
        .trim_end()
        .split(" <br>")
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(events.len(), 9, "{stdout}");
    assert_eq!(events[3]["answer"], "hello");
    assert_eq!(events[8]["event"], "workflow_finished");
}

#[test]
fn call_explains_a_plugin_path_that_does_not_exist() {
    let output = Command::new(env!("CARGO_BIN_EXE_dify-plugin-host"))
        .args(["call", "no/such/plugin", "GET", "/"])
        .output()
        .expect("run dify-plugin-host");
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "error: no/such/plugin is neither a .wasm component nor a plugin crate directory"
    );
}
