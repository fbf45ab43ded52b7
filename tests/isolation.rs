//! A plugin sees its own workspace's apps and nothing else: no other workspace, no host
//! environment, no files.

use dify_plugin_host::mock::DemoApps;
use dify_plugin_host::{EndpointRequest, PluginConfig};
use serde_json::{Value, json};

use crate::support::{demo, load, load_with, probe};

#[test]
fn another_workspaces_app_is_reported_exactly_like_an_app_that_does_not_exist() {
    let mock = demo();
    let plugin = load("probe", &mock);
    let call = |app_id: &str| {
        probe(
            &plugin,
            json!({"interface": "workflow", "mode": "blocking", "app_id": app_id, "inputs": {"name": "x"}}),
        )["error"]
            .clone()
    };
    let other = call(DemoApps::OTHER_WORKSPACE_WORKFLOW);
    let missing = call("00000000-0000-4000-8000-000000000000");
    assert_eq!(other["kind"], "not-found");
    for field in ["kind", "status", "code", "message"] {
        assert_eq!(other[field], missing[field], "{field}");
    }
    // Every call ran in the plugin's own workspace, whatever app id it named.
    assert!(
        mock.calls()
            .iter()
            .all(|c| c.ctx.tenant_id == DemoApps::TENANT)
    );
}

#[test]
fn a_plugin_bound_to_the_other_workspace_reaches_its_own_app() {
    let mock = demo();
    let plugin = load_with(
        "probe",
        PluginConfig::new(mock.clone(), DemoApps::OTHER_TENANT),
    );
    let report = probe(
        &plugin,
        json!({"interface": "workflow", "mode": "blocking", "app_id": DemoApps::OTHER_WORKSPACE_WORKFLOW}),
    );
    assert_eq!(report["reply"]["data"]["status"], "succeeded");
    // ...and not the first workspace's.
    let report = probe(
        &plugin,
        json!({"interface": "chat", "mode": "blocking", "app_id": DemoApps::CHATFLOW, "query": "hi"}),
    );
    assert_eq!(report["error"]["kind"], "not-found");
}

#[test]
fn a_plugin_sees_no_environment_and_no_files() {
    let plugin = load("probe", &demo());
    let response = plugin.request(EndpointRequest::get("/ambient"));
    let seen: Value = serde_json::from_str(&response.text().unwrap()).unwrap();
    assert_eq!(
        seen,
        json!({"env": 0, "args": 0, "root_dir_readable": false})
    );
}
