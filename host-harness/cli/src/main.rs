//! `dify-plugin-host`: run a Dify plugin component against the embedded mock Dify or a real
//! Dify. The flags are parsed here; what they select is built by the library
//! (`dify_plugin_host::backend::select`), so a program can do the same without this binary.
//!
//! - `serve <plugin>` serves the plugin's endpoints over HTTP on loopback;
//! - `call <plugin> <method> <path>` runs one request and prints the body as it streams;
//! - `tool <plugin> <tool> -p name=value` runs one tool and prints its messages;
//! - `apps` lists the mock's demo apps;
//! - `debug <plugin>` attaches it to a Dify workspace by remote debugging, `run <plugin>
//!   --stdio` serves it as the daemon's local runtime does;
//! - `package <plugin>` writes the `.difypkg` an operator installs, `keygen` a key to sign it;
//! - `new <dir>` makes a plugin crate.
//!
//! `<plugin>` is a `.wasm` component or a plugin crate directory, built first (into
//! `$CARGO_TARGET_DIR`, else `target/`, as cargo would).

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod remote;

use dify_plugin_host::backend::Secret;
use dify_plugin_host::backend::select::{self, BackendOptions};
use dify_plugin_host::daemon::declaration::Declaration;
use dify_plugin_host::daemon::{plugin_config, stdio};
use dify_plugin_host::mock::MockDify;
use dify_plugin_host::package::{self, Arch};
use dify_plugin_host::scaffold::{self, SdkSource};
use dify_plugin_host::server::Server;
use dify_plugin_host::{EndpointRequest, Limits, Plugin, PluginConfig, Runtime, ToolRequest};

#[derive(Parser)]
#[command(version, about = "Run Dify plugins built as WebAssembly components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a plugin's endpoints over HTTP.
    Serve {
        #[command(flatten)]
        plugin: PluginArgs,
        /// Where to listen. Port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Send one request to a plugin and print the response body as it streams.
    Call {
        #[command(flatten)]
        plugin: PluginArgs,
        /// The HTTP method.
        method: String,
        /// The path, with an optional query: `/duck/<app_id>?query=hi`.
        target: String,
        /// A request header, `name=value` (repeatable).
        #[arg(long = "header", short = 'H', value_name = "NAME=VALUE", value_parser = parse_pair)]
        headers: Vec<(String, String)>,
        /// The request body.
        #[arg(long, short = 'd')]
        data: Option<String>,
        /// Print the status line and headers (to stderr) before the body.
        #[arg(long, short = 'i')]
        include: bool,
    },
    /// Run one tool of a plugin and print its messages as they come, one JSON object a
    /// line, exactly as Dify's plugin daemon receives them. The parameters are checked
    /// against the tool's YAML first, as in Dify, when the plugin is a crate directory.
    Tool {
        #[command(flatten)]
        plugin: PluginArgs,
        /// The tool's name (its YAML's identity.name).
        tool: String,
        /// A parameter, NAME=VALUE (repeatable). VALUE is read as JSON if it is JSON
        /// (`3`, `true`, `{"app_id": "..."}`), else as a string.
        #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = parse_pair)]
        params: Vec<(String, String)>,
        /// A credential of the provider, NAME=VALUE (repeatable).
        #[arg(long = "credential", value_name = "NAME=VALUE", value_parser = parse_pair)]
        credentials: Vec<(String, String)>,
        /// Check the credentials with the provider (as Dify does when a user saves them)
        /// instead of running the tool.
        #[arg(long)]
        validate: bool,
    },
    /// List the demo apps of the embedded mock Dify.
    Apps,
    /// Attach a plugin to a Dify workspace by remote debugging: connect to the plugin
    /// daemon's debug port with the workspace's debug key and serve its requests.
    Debug {
        /// A plugin crate directory (with manifest.yaml, its endpoint group and _assets/),
        /// built first.
        plugin: PathBuf,
        /// The daemon's debug address, HOST:PORT, as Dify's Plugins → Debug page shows it.
        /// Default: REMOTE_INSTALL_URL, or REMOTE_INSTALL_HOST and REMOTE_INSTALL_PORT, from
        /// the environment or the plugin's .env.
        #[arg(long)]
        remote: Option<String>,
        /// The debug key (default: REMOTE_INSTALL_KEY, from the environment or the plugin's
        /// .env). Prefer those to this flag, which `ps` shows.
        #[arg(long)]
        key: Option<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Make a new plugin crate: a Duck-like endpoint, its Dify files (manifest.yaml, the
    /// endpoint group, _assets/icon.svg), the guest build profile, and a .env.example.
    New {
        /// The folder to create (its name is the plugin's).
        dir: PathBuf,
        /// The SDK crate to depend on, by path (default: this host's own source tree's).
        #[arg(long, value_name = "DIR", conflicts_with = "sdk_git")]
        sdk_path: Option<PathBuf>,
        /// The SDK crate to depend on, by git URL.
        #[arg(long, value_name = "URL")]
        sdk_git: Option<String>,
        /// The git revision with --sdk-git.
        #[arg(long, value_name = "REV", requires = "sdk_git")]
        sdk_rev: Option<String>,
        /// Make a tool plugin (a provider and a tool that asks a chat app) instead of an
        /// endpoint plugin.
        #[arg(long)]
        tool: bool,
    },
    /// Write the `.difypkg` a Dify operator installs (Plugins → Install from local package):
    /// the declaration, a launcher, and for each architecture of `meta.arch` a static runtime
    /// and the component precompiled for it.
    Package {
        /// A plugin crate directory (with manifest.yaml, its endpoint group and _assets/),
        /// built first.
        plugin: PathBuf,
        /// The package to write (default: `<name>.difypkg` in the current folder).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// Sign it with this RSA private key (PEM), for a daemon that verifies third-party
        /// signatures; `keygen` makes one.
        #[arg(long, value_name = "KEY.pem")]
        sign: Option<PathBuf>,
        /// Ship this runtime binary for ARCH (amd64, arm64) instead of building it
        /// (repeatable).
        #[arg(long, value_name = "ARCH=PATH", value_parser = parse_pair)]
        runtime: Vec<(String, String)>,
    },
    /// Make an RSA key pair to sign packages with: NAME.private.pem (for `package --sign`)
    /// and NAME.public.pem (for the daemon's THIRD_PARTY_SIGNATURE_VERIFICATION_PUBLIC_KEYS).
    Keygen {
        /// The files' common prefix.
        name: PathBuf,
        /// The key's size in bits (the daemon's own tool makes 4096).
        #[arg(long, default_value_t = 4096)]
        bits: usize,
    },
    /// Serve a plugin as the daemon's local runtime runs it: the daemon's protocol on stdin
    /// and stdout.
    Run {
        /// A plugin component (`.wasm`), or a plugin crate directory to build first.
        plugin: PathBuf,
        /// Speak the protocol on stdin and stdout (the only mode).
        #[arg(long, required = true)]
        stdio: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendKind {
    /// The embedded mock Dify.
    Mock,
    /// A real Dify's inner API (self-hosted; needs the inner API key and the workspace id).
    Inner,
    /// A real Dify's Service API (any Dify; needs one app key per app).
    Service,
}

#[derive(Args)]
struct PluginArgs {
    /// A plugin component (`.wasm`), or a plugin crate directory to build first.
    plugin: PathBuf,
    /// The Dify the plugin's app calls go to.
    #[arg(long, value_enum, default_value = "mock")]
    backend: BackendKind,
    #[command(flatten)]
    dify: DifyArgs,
    /// Mock apps from a TOML or JSON file instead of the demo apps.
    #[arg(long, value_name = "FILE")]
    apps: Option<PathBuf>,
    /// The endpoint's settings, a JSON object.
    #[arg(long, default_value = "{}")]
    settings: String,
    /// The endpoint's settings from a JSON file.
    #[arg(long, value_name = "FILE", conflicts_with = "settings")]
    settings_file: Option<PathBuf>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Per-request limits.
#[derive(Args)]
struct LimitArgs {
    /// The plugin's time per request, in milliseconds: all but the waits on Dify and on a
    /// slow client (its sleeps count).
    #[arg(long, default_value_t = 30_000)]
    deadline_ms: u64,
    /// All the time one request may take, waits included, in seconds.
    #[arg(long, default_value_t = 600)]
    wall_time_s: u64,
    /// Requests of the plugin that may run at once; more wait briefly, then get 503.
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Memory per instance, in MiB.
    #[arg(long, default_value_t = 64)]
    memory_mib: usize,
    /// Largest request body, in KiB.
    #[arg(long, default_value_t = 10 * 1024)]
    max_body_kib: usize,
    /// App streams one request may hold open.
    #[arg(long, default_value_t = 16)]
    max_streams: usize,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            deadline: Duration::from_millis(self.deadline_ms),
            wall_time: Duration::from_secs(self.wall_time_s),
            in_flight: self.in_flight,
            memory_bytes: self.memory_mib << 20,
            request_bytes: self.max_body_kib << 10,
            open_streams: self.max_streams,
            ..Limits::default()
        }
    }
}

/// Where a real Dify is, and the secrets to reach it. Flags win over environment variables,
/// which win over `--dify-config`.
#[derive(Args)]
struct DifyArgs {
    /// Dify's API root, such as http://localhost:5001.
    #[arg(long, env = "DIFY_API_URL")]
    dify_url: Option<String>,
    /// Dify's inner API key (INNER_API_KEY_FOR_PLUGIN), for --backend inner.
    #[arg(long, env = "DIFY_INNER_API_KEY", hide_env_values = true)]
    inner_api_key: Option<String>,
    /// The workspace (tenant) id the plugin runs in, for --backend inner.
    #[arg(long, env = "DIFY_TENANT_ID")]
    tenant_id: Option<String>,
    /// The Dify user id its calls run as (empty: the workspace's default end user, as for
    /// Dify's own endpoints).
    #[arg(long, env = "DIFY_USER_ID")]
    user_id: Option<String>,
    /// A Service API key for an app, APP_ID=app-... (repeatable), for --backend service.
    #[arg(long = "app-key", value_name = "APP_ID=KEY", value_parser = parse_pair,
          env = "DIFY_APP_KEYS", value_delimiter = ',', hide_env_values = true)]
    app_keys: Vec<(String, String)>,
    /// A TOML file with any of: url, inner_api_key, tenant_id, user_id, [app_keys].
    #[arg(long, value_name = "FILE")]
    dify_config: Option<PathBuf>,
    /// Seconds a Dify response may stay silent before the call times out.
    #[arg(long, default_value_t = 250)]
    idle_timeout_s: u64,
    /// Record what the real Dify answers into this apps file, replayable with --apps.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got '{s}'"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Run { .. } = cli.command {
        // Stdout is the daemon's: the plugin's logs go there as log events, the rest to stderr.
        stdio::install_logger();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn,dify_plugin_host=info".into()),
            )
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
    }
    match run(cli) {
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
            print_demo_apps()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Debug {
            plugin,
            remote,
            key,
            limits,
        } => {
            let options = remote::options(&plugin, remote, key)?;
            let declaration = declaration(&plugin)?;
            let plugin = load_for_daemon(&plugin, &limits)?;
            check_against(&declaration, &plugin)?;
            eprintln!(
                "connecting plugin {} to the daemon at {}",
                plugin.name(),
                options.address
            );
            dify_plugin_host::daemon::remote::debug(&plugin, &declaration, &options)
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::New {
            dir,
            sdk_path,
            sdk_git,
            sdk_rev,
            tool,
        } => {
            let sdk = match (sdk_path, sdk_git) {
                (Some(path), _) => SdkSource::Path(path),
                (None, Some(url)) => SdkSource::Git { url, rev: sdk_rev },
                (None, None) => scaffold::default_sdk(),
            };
            let kind = if tool {
                scaffold::Kind::Tool
            } else {
                scaffold::Kind::Endpoint
            };
            let written = scaffold::new_plugin(&dir, &sdk, kind)?;
            for file in written {
                eprintln!("  {}", file.display());
            }
            let name = dir
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let app = "a1b2c3d4-0000-4000-8000-000000000002";
            let try_it = match kind {
                scaffold::Kind::Endpoint => {
                    format!("dify-plugin-host call {} GET /{name}/{app}", dir.display())
                }
                scaffold::Kind::Tool => format!(
                    "dify-plugin-host tool {} {name} -p 'app={{\"app_id\": \"{app}\"}}' -p question=hi",
                    dir.display()
                ),
            };
            eprintln!("made {}: try `{try_it}`", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Package {
            plugin,
            output,
            sign,
            runtime,
        } => {
            let written = make_package(&plugin, output, sign, &runtime)?;
            for (file, size) in &written.files {
                eprintln!("  {size:>10}  {file}");
            }
            eprintln!(
                "wrote {} ({} bytes, {} unpacked, {})",
                written.path.display(),
                written.packed_bytes,
                written.unpacked_bytes,
                if written.signed { "signed" } else { "unsigned" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Keygen { name, bits } => {
            keygen(&name, bits)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { plugin, limits, .. } => {
            let declaration = crate_declaration(&plugin)?;
            let plugin = load_for_daemon(&plugin, &limits)?;
            if let Some(declaration) = &declaration {
                check_against(declaration, &plugin)?;
            }
            let tools = declaration.as_ref().and_then(Declaration::tool_provider);
            stdio::run_stdio(&plugin, tools)
                .map_err(|e| format!("the daemon's connection broke: {e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tool {
            plugin,
            tool,
            params,
            credentials,
            validate,
        } => run_tool(&plugin, tool, &params, &credentials, validate),
        Command::Serve { plugin, listen } => {
            let plugin = load(&plugin)?;
            let server = Server::start(plugin.clone(), listen)
                .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            eprintln!(
                "serving plugin {} on http://{}",
                plugin.name(),
                server.addr()
            );
            for route in plugin.routes() {
                eprintln!("  {} http://{}{}", route.method, server.addr(), route.path);
            }
            server.wait();
            Ok(ExitCode::SUCCESS)
        }
        Command::Call {
            plugin,
            method,
            target,
            headers,
            data,
            include,
        } => {
            let plugin = load(&plugin)?;
            let mut request = EndpointRequest::new(&method, &target);
            request.settings = plugin.config().settings.clone();
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

/// The Dify declaration of a plugin crate directory.
fn declaration(plugin: &Path) -> Result<Declaration, String> {
    Declaration::load(plugin).map_err(|e| format!("{}: {e}", plugin.display()))
}

/// The declaration of `plugin` if it is a crate directory (its tools' parameters are checked by
/// it); `None` for a bare `.wasm`.
fn crate_declaration(plugin: &Path) -> Result<Option<Declaration>, String> {
    plugin.is_dir().then(|| declaration(plugin)).transpose()
}

/// Check that the component's endpoints and tools are the ones its declaration names.
fn check_against(declaration: &Declaration, plugin: &Plugin) -> Result<(), String> {
    declaration
        .check_routes(plugin.routes())
        .and_then(|()| declaration.check_tools(plugin.tools()))
        .map_err(|e| e.to_string())
}

/// A `NAME=VALUE` pair's value: JSON if it is JSON, else the text.
fn json_or_text(value: &str) -> serde_json::Value {
    serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()))
}

/// `tool`: run one tool (or check the credentials) and print its messages.
fn run_tool(
    args: &PluginArgs,
    tool: String,
    params: &[(String, String)],
    credentials: &[(String, String)],
    validate: bool,
) -> Result<ExitCode, String> {
    let declaration = crate_declaration(&args.plugin)?;
    let plugin = load(args)?;
    if let Some(declaration) = &declaration {
        check_against(declaration, &plugin)?;
    }
    let credentials: serde_json::Map<String, serde_json::Value> = credentials
        .iter()
        .map(|(k, v)| (k.clone(), json_or_text(v)))
        .collect();
    if validate {
        return match plugin.validate_credentials(credentials) {
            Ok(()) => {
                println!("{}", serde_json::json!({"result": true}));
                Ok(ExitCode::SUCCESS)
            }
            Err(failure) => Err(failure.to_string()),
        };
    }
    let mut request = ToolRequest::new(&tool);
    request.credentials = credentials;
    for (name, value) in params {
        request = request.param(name, json_or_text(value));
    }
    let declared = declaration
        .as_ref()
        .and_then(Declaration::tool_provider)
        .and_then(|provider| provider.tool(&tool));
    match declared {
        Some(declared) => {
            request.parameters = declared
                .check_parameters(&request.parameters)
                .map_err(|problems| problems.join("\n"))?;
        }
        // Not declared: the plugin refuses the name itself, saying which tools it has.
        None if declaration.is_some() => {}
        None => eprintln!("(a .wasm without its declaration: the parameters are not checked)"),
    }
    let mut out = std::io::stdout().lock();
    for message in plugin.invoke_tool(request) {
        let message = message.map_err(|e| e.to_string())?;
        writeln!(out, "{message}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write the messages: {e}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Build (if needed) and load the plugin with its backend, settings and limits.
fn load(args: &PluginArgs) -> Result<Plugin, String> {
    let settings_text = match &args.settings_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => args.settings.clone(),
    };
    let settings: serde_json::Value = serde_json::from_str(&settings_text)
        .map_err(|e| format!("the settings are not JSON: {e}"))?;
    if !settings.is_object() {
        return Err(format!(
            "the settings must be a JSON object, got {settings}"
        ));
    }
    let wasm = component_path(&args.plugin)?;
    let selected = select::select(backend_options(args))?;
    let mut config = PluginConfig::new(MockDify::new(), &selected.tenant_id);
    config.backend = selected.backend;
    config.user_id = selected.user_id;
    config.settings = settings;
    config.limits = args.limits.limits();
    let runtime = Runtime::new().map_err(|e| e.to_string())?;
    runtime.load(&wasm, config).map_err(|e| e.to_string())
}

/// Build (if needed) and load a plugin whose app calls the daemon answers.
fn load_for_daemon(plugin: &Path, limits: &LimitArgs) -> Result<Plugin, String> {
    let wasm = component_path(plugin)?;
    let runtime = Runtime::new().map_err(|e| e.to_string())?;
    runtime
        .load(&wasm, plugin_config(limits.limits()))
        .map_err(|e| e.to_string())
}

/// Build the plugin and the runtimes its manifest asks for (unless given), and package them.
fn make_package(
    plugin: &Path,
    output: Option<PathBuf>,
    signing_key: Option<PathBuf>,
    given: &[(String, String)],
) -> Result<package::Written, String> {
    let declaration = declaration(plugin)?;
    let mut runtimes = std::collections::BTreeMap::new();
    for (arch, path) in given {
        let arch = Arch::from_dify(arch)
            .ok_or_else(|| format!("--runtime {arch}=...: the architecture is amd64 or arm64"))?;
        runtimes.insert(arch, PathBuf::from(path));
    }
    let cli_manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    for arch in declaration
        .arches()
        .iter()
        .filter_map(|a| Arch::from_dify(a))
    {
        if runtimes.contains_key(&arch) {
            continue;
        }
        if !cli_manifest.is_file() {
            return Err(format!(
                "cannot build the {arch} runtime: this dify-plugin-host has no source beside it                  ({} is gone); build one with `cargo build -p dify-plugin-cli --bin                  dify-plugin-runtime --no-default-features --release --target {}` and pass                  --runtime {arch}=PATH",
                cli_manifest.display(),
                arch.runtime_target()
            ));
        }
        eprintln!("building the {arch} runtime ({})...", arch.runtime_target());
        let binary = package::build_runtime(&cli_manifest, arch, &work_dir("runtime"))
            .map_err(|e| e.to_string())?;
        runtimes.insert(arch, binary);
    }
    let options = package::Options {
        component: component_path(plugin)?,
        plugin_dir: plugin.to_owned(),
        runtimes,
        output: output.unwrap_or_else(|| PathBuf::from(format!("{}.difypkg", declaration.name()))),
        signing_key,
    };
    package::write(&options).map_err(|e| e.to_string())
}

/// Write NAME.private.pem (owner-only) and NAME.public.pem, never over existing files.
fn keygen(name: &Path, bits: usize) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let with = |suffix: &str| {
        let mut file = name.as_os_str().to_owned();
        file.push(suffix);
        PathBuf::from(file)
    };
    let (private, public) = (with(".private.pem"), with(".public.pem"));
    eprintln!("making a {bits}-bit RSA key pair...");
    let pair = package::generate_key(bits).map_err(|e| format!("cannot make the key: {e}"))?;
    for (path, text, mode) in [
        (&private, &pair.private_pem, 0o600),
        (&public, &pair.public_pem, 0o644),
    ] {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    eprintln!(
        "wrote {} (keep it secret; sign with `dify-plugin-host package <plugin> --sign {}`) and \
         {} (give it to the daemon: THIRD_PARTY_SIGNATURE_VERIFICATION_ENABLED=true, \
         THIRD_PARTY_SIGNATURE_VERIFICATION_PUBLIC_KEYS={})",
        private.display(),
        private.display(),
        public.display(),
        public.display()
    );
    Ok(())
}

/// Where builds go: `$CARGO_TARGET_DIR/<sub>`, else `target/<sub>`.
fn work_dir(sub: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join(sub)
}

/// The backend options the flags, environment and `--dify-config` give.
fn backend_options(args: &PluginArgs) -> BackendOptions {
    let d = &args.dify;
    BackendOptions {
        kind: match args.backend {
            BackendKind::Mock => select::BackendKind::Mock,
            BackendKind::Inner => select::BackendKind::Inner,
            BackendKind::Service => select::BackendKind::Service,
        },
        apps_file: args.apps.clone(),
        url: d.dify_url.clone(),
        inner_api_key: d.inner_api_key.clone().map(Secret::new),
        tenant_id: d.tenant_id.clone(),
        user_id: d.user_id.clone(),
        app_keys: d
            .app_keys
            .iter()
            .map(|(app, key)| (app.clone(), Secret::new(key.clone())))
            .collect(),
        config_file: d.dify_config.clone(),
        idle_timeout: Duration::from_secs(d.idle_timeout_s),
        record: d.record.clone(),
    }
}

/// A `.wasm` as is; a crate directory built for wasm32-wasip2 into `target/guests`.
fn component_path(plugin: &Path) -> Result<PathBuf, String> {
    if plugin.is_dir() {
        eprintln!("building {} for wasm32-wasip2...", plugin.display());
        dify_plugin_host::build::build_plugin(plugin, &work_dir("guests"))
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

fn print_demo_apps() -> Result<(), String> {
    let mock = MockDify::demo().map_err(|e| e.to_string())?;
    let mut workspace = "";
    for app in &mock.apps() {
        if app.tenant_id != workspace {
            println!("workspace {}", app.tenant_id);
            workspace = &app.tenant_id;
        }
        println!("  {}  {:<14} {}", app.id, app.mode.as_str(), app.name);
    }
    Ok(())
}
