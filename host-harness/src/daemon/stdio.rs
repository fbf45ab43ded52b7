//! The daemon's local runtime: the daemon starts the plugin's process and speaks the same
//! protocol over its stdin and stdout (daemon-protocol.md §3.3). There is no registration (the
//! daemon read the declaration from the package); the first heartbeat marks the plugin ready.
//! Stdout carries only protocol lines; diagnostics go to stderr, and the plugin's own log
//! lines go to the daemon as `log` events ([`install_logger`]).

use std::os::fd::AsFd;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::connection::{self, Served, Writer};
use super::declaration::ToolProvider;
use super::protocol;
use crate::runtime::Plugin;

/// The size asked for the stdin pipe (Linux's default limit for it, `fs.pipe-max-size`).
#[cfg(target_os = "linux")]
const PIPE_SIZE: usize = 1 << 20;

/// The stdout writer, once `run_stdio` has started: where the plugin's log lines go.
static STDOUT: OnceLock<Arc<Writer>> = OnceLock::new();

/// Serve `plugin` on stdin and stdout until the daemon closes stdin. `tools` is its tool
/// provider's declaration ([`Declaration::tool_provider`](super::declaration::Declaration::tool_provider)),
/// for a plugin with tools: their parameters are checked against it.
pub fn run_stdio(plugin: &Plugin, tools: Option<&ToolProvider>) -> std::io::Result<()> {
    let writer = STDOUT
        .get_or_init(|| Writer::new(Box::new(std::io::stdout())))
        .clone();
    // Standard input as a file, read in large blocks (not through `Stdin`'s lock and small
    // buffer), from a pipe made as large as Linux lets it be: the daemon writes a fast
    // stream's lines faster than 64 KiB at a time.
    let input = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    #[cfg(target_os = "linux")]
    let _ = rustix::pipe::fcntl_setpipe_size(&input, PIPE_SIZE);
    connection::serve(Served { plugin, tools }, input, writer)
}

/// Send the process's log lines where the stdio runtime must: the plugin's own (target
/// `dify_plugin_host::plugin`, info and up) to the daemon as `log` events, the host's
/// warnings and errors to stderr, nothing to stdout. Call it once, before [`run_stdio`]; a
/// logger installed earlier stays.
pub fn install_logger() {
    static LOGGER: StdioLogger = StdioLogger {
        stderr_level: log::LevelFilter::Warn,
    };
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
}

/// The logger of [`install_logger`].
struct StdioLogger {
    /// The most verbose level written to stderr.
    stderr_level: log::LevelFilter,
}

impl log::Log for StdioLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("dify_plugin_host::plugin")
            || metadata.level() <= self.stderr_level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        if record.target().starts_with("dify_plugin_host::plugin")
            && let Some(writer) = STDOUT.get()
        {
            let level = match record.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug | log::Level::Trace => "debug",
            };
            let timestamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            if writer
                .send(&protocol::log(level, &message, timestamp))
                .is_ok()
            {
                return;
            }
        }
        eprintln!("{} {}: {message}", record.level(), record.target());
    }

    fn flush(&self) {}
}
