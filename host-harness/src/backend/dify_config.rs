//! How to reach a real Dify, and the secrets that takes.
//!
//! Secrets (the inner key, app keys) are held in [`Secret`], which never prints itself: they
//! appear in no log line, no error, and nothing the guest can read.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// A secret string (an API key). Its `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to reach a real Dify.
#[derive(Debug, Clone)]
pub struct DifyConfig {
    /// Dify's API root, such as `http://api:5001` (no trailing `/inner/api` or `/v1`).
    pub base_url: String,
    /// The inner API key (`INNER_API_KEY_FOR_PLUGIN` on Dify's side), for the inner backend.
    pub inner_api_key: Option<Secret>,
    /// Service API keys by app id, for the service backend.
    pub app_keys: HashMap<String, Secret>,
    /// The end user sent to the Service API when neither the plugin (`.user()`) nor the host
    /// (`PluginConfig::user_id`, `--user-id`) names one (the Service API requires one).
    pub default_user: String,
    /// How long a response may stay silent before the call fails with `timeout`.
    pub idle_timeout: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// The largest frame or event accepted, in bytes.
    pub max_frame_bytes: usize,
}

impl DifyConfig {
    /// A configuration for the Dify at `base_url`, with defaults for the rest: an idle
    /// timeout of 250 s (the Python SDK's `MAX_INVOCATION_TIMEOUT`), 10 s to connect, frames up
    /// to 30 MiB (the daemon's `RESPONSE_MAX_BUFFER_SIZE`).
    pub fn new(base_url: &str) -> Self {
        DifyConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            inner_api_key: None,
            app_keys: HashMap::new(),
            default_user: "dify-plugin-wasm".into(),
            idle_timeout: Duration::from_secs(250),
            connect_timeout: Duration::from_secs(10),
            max_frame_bytes: 30 << 20,
        }
    }
}
