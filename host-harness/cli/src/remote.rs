//! Where `debug` connects and with which key: the flags, else the Python SDK's variables
//! (`REMOTE_INSTALL_URL`, or `REMOTE_INSTALL_HOST` and `REMOTE_INSTALL_PORT`;
//! `REMOTE_INSTALL_KEY`) from the environment, else from a `.env` file in the plugin's folder,
//! as the Python SDK reads them.

use std::collections::HashMap;
use std::path::Path;

use dify_plugin_host::backend::Secret;
use dify_plugin_host::daemon::remote::RemoteOptions;

/// The `KEY=VALUE` lines of a `.env` file (comments, blank lines, `export` and quotes allowed).
fn dotenv(path: &Path) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((key.trim().to_owned(), unquoted.to_owned()))
        })
        .collect()
}

/// `host:port` from `REMOTE_INSTALL_URL`, which may also be written as a URL.
fn address_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.trim_end_matches('/').to_owned()
}

/// The options of `debug <plugin>`.
pub fn options(
    plugin: &Path,
    remote: Option<String>,
    key: Option<String>,
) -> Result<RemoteOptions, String> {
    let file = dotenv(&plugin.join(".env"));
    let var = |name: &str| std::env::var(name).ok().or_else(|| file.get(name).cloned());
    let address = remote
        .or_else(|| var("REMOTE_INSTALL_URL").map(|url| address_of(&url)))
        .or_else(|| {
            let host = var("REMOTE_INSTALL_HOST")?;
            Some(format!(
                "{host}:{}",
                var("REMOTE_INSTALL_PORT").unwrap_or_else(|| "5003".into())
            ))
        })
        .ok_or(
            "where is the daemon? pass --remote HOST:PORT, or set REMOTE_INSTALL_URL (in the \
             environment or the plugin's .env) to what Dify's Plugins → Debug page shows",
        )?;
    let key = key
        .or_else(|| var("REMOTE_INSTALL_KEY"))
        .filter(|k| !k.is_empty())
        .ok_or(
            "no debug key: set REMOTE_INSTALL_KEY (in the environment or the plugin's .env) to the \
         key on Dify's Plugins → Debug page, or pass --key",
        )?;
    Ok(RemoteOptions {
        address,
        key: Secret::new(key),
        reconnect: true,
    })
}
