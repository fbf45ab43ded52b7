//! `logging`: the plugin's log lines, into the host's log, capped per request.

use super::bindings::logging;
use super::state::PluginState;

/// Longest plugin log line kept; the rest is cut and marked.
const MAX_LOG_LINE: usize = 4096;

impl logging::Host for PluginState {
    fn log(&mut self, level: logging::Level, message: String) -> wasmtime::Result<()> {
        self.log_lines += 1;
        if self.log_lines > self.max_log_lines {
            if self.log_lines == self.max_log_lines + 1 {
                log::warn!(target: "dify_plugin_host::plugin", "[{}] log limit of {} lines per request reached; dropping the rest", self.plugin, self.max_log_lines);
            }
            return Ok(());
        }
        let level = match level {
            logging::Level::Trace => log::Level::Trace,
            logging::Level::Debug => log::Level::Debug,
            logging::Level::Info => log::Level::Info,
            logging::Level::Warn => log::Level::Warn,
            logging::Level::Error => log::Level::Error,
        };
        let text = if message.len() > MAX_LOG_LINE {
            let cut = message.floor_char_boundary(MAX_LOG_LINE);
            format!("{}… ({} bytes cut)", &message[..cut], message.len() - cut)
        } else {
            message
        };
        log::log!(target: "dify_plugin_host::plugin", level, "[{}] {text}", self.plugin);
        Ok(())
    }
}
