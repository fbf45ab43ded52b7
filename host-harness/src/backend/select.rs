//! Building the backend a plugin's app calls go to, from the options an operator gives (the
//! CLI's flags, environment variables and `--dify-config` file, or a program's own).
//!
//! Precedence, as the README states it: explicit options win over the config file. Each
//! missing piece is named with the flag that supplies it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::mock::{DemoApps, MockDify};
use super::record::RecordingBackend;
use super::{Backend, DifyConfig, InnerBackend, Secret, ServiceBackend};

/// Which Dify the plugin calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The embedded mock Dify.
    Mock,
    /// A real Dify's inner API (self-hosted; needs the inner API key and the workspace id).
    Inner,
    /// A real Dify's Service API (any Dify; needs one app key per app).
    Service,
}

/// Everything a backend may be built from. `None` and empty mean "not given here".
#[derive(Debug, Clone)]
pub struct BackendOptions {
    /// Which backend.
    pub kind: BackendKind,
    /// Mock apps from a TOML or JSON file instead of the demo apps (mock only).
    pub apps_file: Option<PathBuf>,
    /// Dify's API root.
    pub url: Option<String>,
    /// The inner API key.
    pub inner_api_key: Option<Secret>,
    /// The workspace the plugin runs in (inner backend).
    pub tenant_id: Option<String>,
    /// The Dify user its calls run as.
    pub user_id: Option<String>,
    /// Service API keys by app id.
    pub app_keys: Vec<(String, Secret)>,
    /// A TOML file with any of: url, inner_api_key, tenant_id, user_id, `[app_keys]`.
    pub config_file: Option<PathBuf>,
    /// How long a Dify response may stay silent.
    pub idle_timeout: Duration,
    /// Record what the real Dify answers into this apps file.
    pub record: Option<PathBuf>,
}

/// What the options chose: the backend, the workspace the plugin is bound to, its user.
pub struct Selected {
    /// The backend.
    pub backend: Arc<dyn Backend>,
    /// The workspace (tenant) id.
    pub tenant_id: String,
    /// The Dify user id (empty: the workspace's default end user).
    pub user_id: String,
}

/// The `--dify-config` file.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DifyFile {
    url: Option<String>,
    inner_api_key: Option<String>,
    tenant_id: Option<String>,
    user_id: Option<String>,
    #[serde(default)]
    app_keys: HashMap<String, String>,
}

fn read_config(path: &Path) -> Result<DifyFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Build the backend the options describe.
pub fn select(options: BackendOptions) -> Result<Selected, String> {
    let file = match &options.config_file {
        Some(path) => read_config(path)?,
        None => DifyFile::default(),
    };
    let user_id = options.user_id.or(file.user_id).unwrap_or_default();
    if options.kind == BackendKind::Mock {
        let (mock, tenant_id) = match &options.apps_file {
            Some(path) => MockDify::from_file(path).map_err(|e| e.to_string())?,
            None => (
                MockDify::demo().map_err(|e| e.to_string())?,
                DemoApps::TENANT.to_owned(),
            ),
        };
        return Ok(Selected {
            backend: Arc::new(mock),
            tenant_id,
            user_id,
        });
    }
    let url = options
        .url
        .or(file.url)
        .ok_or("a real Dify needs its URL: --dify-url or DIFY_API_URL")?;
    let mut config = DifyConfig::new(&url);
    config.idle_timeout = options.idle_timeout;
    config.inner_api_key = options
        .inner_api_key
        .or(file.inner_api_key.map(Secret::new));
    config.app_keys = file
        .app_keys
        .into_iter()
        .map(|(app, key)| (app, Secret::new(key)))
        .chain(options.app_keys)
        .collect();
    let tenant = options.tenant_id.or(file.tenant_id);
    let (backend, tenant_id): (Box<dyn Backend>, String) = if options.kind == BackendKind::Inner {
        (
            Box::new(InnerBackend::new(&config)?),
            tenant
                .ok_or("--backend inner needs the workspace id: --tenant-id or DIFY_TENANT_ID")?,
        )
    } else {
        if config.app_keys.is_empty() {
            return Err("--backend service needs app keys: --app-key APP_ID=app-...".into());
        }
        (
            Box::new(ServiceBackend::new(&config)?),
            tenant.unwrap_or_default(),
        )
    };
    let backend: Box<dyn Backend> = match options.record {
        Some(file) => Box::new(RecordingBackend::new(backend, file, &tenant_id)),
        None => backend,
    };
    Ok(Selected {
        backend: Arc::from(backend),
        tenant_id,
        user_id,
    })
}
