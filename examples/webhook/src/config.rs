//! The endpoint's settings (`group/webhook.yaml`), read into one typed [`Config`] with the
//! original's defaults.
//!
//! The settings are the operator's configuration, not the caller's input, so a value that
//! cannot be what the form stores (a number for a select, an unknown option, a Discord key
//! that is not one) is a 500 that names the setting. The original read such values with
//! Python's truthiness and `==`, which turned some of them into no check at all (an unknown
//! `api_key_location` skipped the key): here they fail closed.

use dify_plugin::Settings;
use ed25519_dalek::VerifyingKey;
use serde_json::Value;

/// Where the caller's API key is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLocation {
    /// The `X-API-Key` header.
    Header,
    /// The `difyToken` query parameter.
    QueryParam,
    /// No key is checked.
    None,
}

/// What the plugin reads from the settings.
pub struct Config {
    /// The one app `/single-*` call; when set, `/workflow/<id>` and `/chatflow/<id>` are off.
    pub static_app_id: Option<String>,
    /// The expected API key; `None` when empty.
    pub api_key: Option<String>,
    pub key_location: KeyLocation,
    /// The Discord application's public key, when the Discord middleware is on.
    pub discord_key: Option<VerifyingKey>,
    /// The app inputs are `body.inputs` (true) or the whole body (false).
    pub explicit_inputs: bool,
    /// The body is replaced by `{"json_string": <the body as Python's json.dumps writes it>}`.
    pub json_string_input: bool,
    /// Workflow routes answer `data.outputs` only.
    pub raw_data_output: bool,
}

impl Config {
    /// Read the settings; the error says which setting is wrong and how.
    pub fn read(settings: &Settings) -> Result<Config, String> {
        let key_location = match select(
            settings,
            "api_key_location",
            &["api_key_header", "token_query_param", "none"],
        )? {
            Some("token_query_param") => KeyLocation::QueryParam,
            Some("none") => KeyLocation::None,
            _ => KeyLocation::Header,
        };
        let discord_key = match select(settings, "middleware", &["discord", "none"])? {
            Some("discord") => Some(discord_key(settings)?),
            _ => None,
        };
        Ok(Config {
            static_app_id: static_app_id(settings)?,
            api_key: text(settings, "api_key")?,
            key_location,
            discord_key,
            explicit_inputs: boolean(settings, "explicit_inputs", true)?,
            json_string_input: boolean(settings, "json_string_input", false)?,
            raw_data_output: boolean(settings, "raw_data_output", false)?,
        })
    }
}

/// A text setting; missing, `null` and `""` are all "not configured". The message never
/// shows the value: the text settings are secrets.
fn text(settings: &Settings, name: &str) -> Result<Option<String>, String> {
    match settings.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("setting '{name}' must be a text")),
    }
}

/// A select setting: one of `options`, or `None` for the default when missing.
fn select<'a>(
    settings: &'a Settings,
    name: &str,
    options: &[&str],
) -> Result<Option<&'a str>, String> {
    match settings.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if options.contains(&s.as_str()) => Ok(Some(s)),
        Some(other) => Err(format!(
            "setting '{name}' must be one of {}, got {other}",
            options.join(", ")
        )),
    }
}

/// A boolean setting, `default` when missing.
fn boolean(settings: &Settings, name: &str, default: bool) -> Result<bool, String> {
    match settings.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "setting '{name}' must be true or false, got {other}"
        )),
    }
}

/// What an app-selector stores, `{"app_id": ...}`, or the id as plain text (both accepted by
/// the original).
fn static_app_id(settings: &Settings) -> Result<Option<String>, String> {
    const NAME: &str = "static_app_id";
    let id = match settings.get(NAME) {
        Some(Value::Object(selected)) => selected.get("app_id"),
        other => other,
    };
    match id {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "setting '{NAME}' must be an app selection {{\"app_id\": \"...\"}} or an app id, got {other}"
        )),
    }
}

/// The Discord application's public key: 64 hex digits (Discord's "Public Key").
fn discord_key(settings: &Settings) -> Result<VerifyingKey, String> {
    const NAME: &str = "signature_verification_key";
    let Some(hex_key) = text(settings, NAME)? else {
        return Err(format!(
            "setting '{NAME}' is required by the Discord middleware: the application's public key, in hex"
        ));
    };
    let mut bytes = [0; 32];
    hex::decode_to_slice(hex_key.trim(), &mut bytes)
        .map_err(|e| format!("setting '{NAME}' must be 64 hex digits: {e}"))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| format!("setting '{NAME}' is not an Ed25519 public key"))
}
