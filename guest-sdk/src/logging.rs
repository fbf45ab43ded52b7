//! A [`log`] backend that forwards to the host's log.
//!
//! [`export_endpoints!`](crate::export_endpoints) installs it, so `log::info!("...")` in a plugin
//! reaches the host, tagged with the plugin. The host decides which levels it keeps.

use crate::wit::dify::plugin::logging::{Level, log};

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = match record.level() {
            log::Level::Error => Level::Error,
            log::Level::Warn => Level::Warn,
            log::Level::Info => Level::Info,
            log::Level::Debug => Level::Debug,
            log::Level::Trace => Level::Trace,
        };
        log(level, &record.args().to_string());
    }

    fn flush(&self) {}
}

/// Install the backend. Called by the export glue on every request; only the first call in an
/// instance does anything.
pub fn install() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}
