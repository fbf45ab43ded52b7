//! `dify-plugin-runtime`: a plugin as the Dify plugin daemon's local runtime runs it, from an
//! installed `.difypkg`.
//!
//! The package's launcher (`main.py`) `exec`s it with the plugin's component precompiled for
//! this machine: `dify-plugin-runtime runtime/amd64/<name>.cwasm`. It speaks the daemon's
//! protocol on stdin and stdout until the daemon closes stdin; diagnostics go to stderr,
//! which the daemon collects, and the plugin's log lines to the daemon. A plugin with tools
//! reads its declaration from the current folder, the unpacked package's root, where the
//! daemon starts it: its tools' parameters are checked against their YAML. `dify-plugin-host
//! package` builds it with none of the host's optional features (no compiler, no HTTP), so
//! that it is small and starts in milliseconds; built with them, it also takes a `.wasm`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use dify_plugin_host::daemon::declaration::Declaration;
use dify_plugin_host::daemon::{plugin_config, stdio};
use dify_plugin_host::{Limits, Runtime};

#[derive(Parser)]
#[command(
    version,
    about = "Serve a Dify plugin component on stdin and stdout, as the plugin daemon's local runtime runs it"
)]
struct Args {
    /// The plugin's component: precompiled for this machine (`.cwasm`, as a package ships
    /// it, trusted as this binary is), or a `.wasm` if this runtime has the compiler.
    component: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    stdio::install_logger();
    match run(&args.component) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(component: &Path) -> Result<(), String> {
    let runtime = Runtime::new().map_err(|e| e.to_string())?;
    let config = plugin_config(Limits::default());
    let plugin = if component.extension().is_some_and(|e| e == "cwasm") {
        // SAFETY: precompiled code runs as is; this binary takes it from whoever runs it, as
        // a package's launcher does with the component it ships beside this binary.
        unsafe { runtime.load_precompiled(component, config) }
    } else {
        runtime.load(component, config)
    }
    .map_err(|e| e.to_string())?;
    // Endpoints need no declaration at run time (the router is the component's own), so a
    // plugin without tools starts without reading it.
    let declaration = if plugin.tools().is_empty() {
        None
    } else {
        let here = Path::new(".");
        let declaration = Declaration::load(here)
            .map_err(|e| format!("the package's declaration (in the current folder): {e}"))?;
        declaration
            .check_tools(plugin.tools())
            .map_err(|e| e.to_string())?;
        Some(declaration)
    };
    let tools = declaration.as_ref().and_then(Declaration::tool_provider);
    stdio::run_stdio(&plugin, tools).map_err(|e| format!("the daemon's connection broke: {e}"))
}
