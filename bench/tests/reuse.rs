//! The pool hands a used memory slot to the next instance after putting back only the pages
//! the last one wrote (`host-harness/src/runtime/pool.rs`): whatever a request wrote, the next
//! request's fresh instance must find memory exactly as the component defines it.

use std::path::{Path, PathBuf};

use dify_plugin_host::mock::{DemoApps, MockDify};
use dify_plugin_host::{EndpointRequest, Plugin, PluginConfig, Runtime};

fn bench_plugin(runtime: &Runtime) -> Plugin {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let guests = dify_plugin_host::build::build_plugins(
        &root.join("Cargo.toml"),
        &["bench-plugin"],
        &target.join("guests"),
    )
    .expect("build the bench plugin");
    let mock = MockDify::demo().expect("the demo mock");
    runtime
        .load(
            &guests["bench-plugin"],
            PluginConfig::new(mock, DemoApps::TENANT),
        )
        .expect("load the bench plugin")
}

#[test]
fn a_fresh_instance_finds_nothing_an_earlier_request_wrote() {
    let runtime = Runtime::new().unwrap();
    let plugin = bench_plugin(&runtime);
    // One page stays well within what a slot keeps resident; 48 (3 MiB) go past it, so that
    // part of the reset is a copy and the rest is given back to the kernel.
    for pages in [1, 48, 1, 48] {
        for _ in 0..10 {
            for response in [
                plugin.request(EndpointRequest::get(&format!("/residue?pages={pages}"))),
                plugin.request_inline(EndpointRequest::get(&format!("/residue?pages={pages}"))),
            ] {
                assert_eq!(response.status(), 200);
                assert_eq!(response.text().unwrap(), "mark 0x5eed, 0 dirty words");
            }
        }
    }
}
