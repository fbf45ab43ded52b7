//! `dify-plugin-host`: run a Dify plugin component against the embedded mock Dify.
//!
//! `call` sends one request to the plugin's endpoint and prints the body as it streams.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dify_plugin_host::mock::{DemoApps, MockDify};
use dify_plugin_host::{EndpointRequest, PluginConfig, Runtime};

#[derive(Parser)]
#[command(version, about = "Run Dify plugins built as WebAssembly components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send one request to a plugin's endpoint and print the response as it streams.
    ///
    /// The mock Dify starts with the demo apps (see `apps`); the plugin runs in the demo
    /// workspace.
    Call {
        /// A plugin component (`.wasm`), or a plugin crate directory to build first.
        plugin: PathBuf,
        /// The HTTP method.
        method: String,
        /// The path, with an optional query: `/duck/<app_id>?query=hi`.
        target: String,
        /// A path value for the endpoint, `name=value` (repeatable): `--value app_id=...`.
        #[arg(long = "value", value_name = "NAME=VALUE", value_parser = parse_pair)]
        values: Vec<(String, String)>,
        /// A request header, `name=value` (repeatable).
        #[arg(long = "header", value_name = "NAME=VALUE", value_parser = parse_pair)]
        headers: Vec<(String, String)>,
        /// The request body.
        #[arg(long)]
        data: Option<String>,
        /// The endpoint's settings, a JSON object.
        #[arg(long, default_value = "{}")]
        settings: String,
        /// Print the status line and headers before the body.
        #[arg(long, short = 'i')]
        include: bool,
    },
    /// List the demo apps of the embedded mock Dify.
    Apps,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got '{s}'"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,dify_plugin_host=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Apps => {
            print_demo_apps();
            Ok(ExitCode::SUCCESS)
        }
        Command::Call {
            plugin,
            method,
            target,
            values,
            headers,
            data,
            settings,
            include,
        } => {
            let settings: serde_json::Value = serde_json::from_str(&settings)
                .map_err(|e| format!("--settings is not JSON: {e}"))?;
            if !settings.is_object() {
                return Err(format!("--settings must be a JSON object, got {settings}"));
            }
            let wasm = component_path(&plugin)?;
            let mock = MockDify::demo().map_err(|e| e.to_string())?;
            let runtime = Runtime::new().map_err(|e| e.to_string())?;
            let plugin = runtime
                .load(&wasm, PluginConfig::new(mock, DemoApps::TENANT))
                .map_err(|e| e.to_string())?;

            let mut request = EndpointRequest::new(&method, &target).settings(settings);
            let _ = values;
            for (name, value) in headers {
                request = request.header(&name, &value);
            }
            if let Some(body) = data {
                request = request.body(body);
            }
            let response = plugin.request(request);
            if include {
                eprintln!("HTTP {}", response.status());
                for (name, value) in response.headers() {
                    eprintln!("{name}: {value}");
                }
                eprintln!();
            }
            let ok = response.status() < 400;
            let mut out = std::io::stdout().lock();
            for chunk in response {
                let chunk = chunk.map_err(|e| format!("the response was cut: {e}"))?;
                out.write_all(&chunk)
                    .and_then(|()| out.flush())
                    .map_err(|e| format!("cannot write the body: {e}"))?;
            }
            let _ = writeln!(out);
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// A `.wasm` as is; a crate directory built for wasm32-wasip2 into `target/guests`.
fn component_path(plugin: &Path) -> Result<PathBuf, String> {
    if plugin.is_dir() {
        eprintln!("building {} for wasm32-wasip2...", plugin.display());
        dify_plugin_host::build::build_plugin(plugin, Path::new("target/guests"))
            .map_err(|e| e.to_string())
    } else if plugin.is_file() {
        Ok(plugin.to_owned())
    } else {
        Err(format!(
            "{} is neither a .wasm component nor a plugin crate directory",
            plugin.display()
        ))
    }
}

fn print_demo_apps() {
    let apps = [
        (
            DemoApps::CHATFLOW,
            "advanced-chat",
            "Echo chatflow: answers 'You said: <query>'",
        ),
        (DemoApps::CHATBOT, "chat", "Echo chatbot"),
        (DemoApps::AGENT, "agent-chat", "Agent (streaming only)"),
        (
            DemoApps::WORKFLOW,
            "workflow",
            "Greeter: input 'name' (required, <= 48 chars)",
        ),
        (
            DemoApps::COMPLETION,
            "completion",
            "Writer: input 'topic' (required)",
        ),
        (
            DemoApps::FAILING_WORKFLOW,
            "workflow",
            "fails at its code node",
        ),
        (
            DemoApps::FAILING_CHATFLOW,
            "advanced-chat",
            "fails at its code node",
        ),
        (
            DemoApps::OTHER_WORKSPACE_WORKFLOW,
            "workflow",
            "in another workspace: not reachable",
        ),
    ];
    println!("workspace {}", DemoApps::TENANT);
    for (id, mode, what) in apps {
        println!("  {id}  {mode:<14} {what}");
    }
}
