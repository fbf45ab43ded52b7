//! Building plugin crates into `wasm32-wasip2` components.
//!
//! Runs `cargo build --target wasm32-wasip2` with the `guest` profile (optimised for size,
//! LTO, stripped), defined on the command line so that it works for any plugin crate, and
//! reads the produced `.wasm` paths from cargo's JSON messages rather than guessing them.
//!
//! It is safe to call from a test or a build running under cargo: the outer cargo's
//! environment (`CARGO_*` build variables, `RUSTFLAGS`) is removed, and the guest build uses
//! its own target directory, so it neither inherits host flags nor waits on the outer lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a plugin could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// cargo could not be started.
    #[error("cannot run cargo: {0}")]
    Spawn(std::io::Error),
    /// The build failed; the text is cargo's output.
    #[error("building the plugin failed:\n{0}")]
    Failed(String),
    /// The build produced no component for a package.
    #[error("the build produced no .wasm for package '{0}' (is its crate-type \"cdylib\"?)")]
    NoComponent(String),
}

/// The settings of the `guest` profile, passed as `--config` so no manifest needs them.
const GUEST_PROFILE: &[&str] = &[
    "profile.guest.inherits=\"release\"",
    "profile.guest.opt-level=\"s\"",
    "profile.guest.lto=true",
    "profile.guest.codegen-units=1",
    "profile.guest.strip=true",
    "profile.guest.panic=\"abort\"",
];

/// Build the given packages of the workspace or crate at `manifest` for `wasm32-wasip2`, into
/// `target_dir`. Returns each package's component path, by package name.
pub fn build_plugins(
    manifest: &Path,
    packages: &[&str],
    target_dir: &Path,
) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--target", "wasm32-wasip2", "--profile", "guest"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--target-dir")
        .arg(target_dir);
    for setting in GUEST_PROFILE {
        cmd.args(["--config", setting]);
    }
    for package in packages {
        cmd.args(["-p", package]);
    }
    for (key, _) in std::env::vars_os() {
        let key_str = key.to_string_lossy();
        let inherited = key_str.starts_with("CARGO_")
            && ![
                "CARGO_HOME",
                "CARGO_NET_",
                "CARGO_HTTP_",
                "CARGO_REGISTRIES_",
            ]
            .iter()
            .any(|keep| key_str.starts_with(keep));
        if inherited || key_str == "RUSTFLAGS" || key_str.starts_with("__CARGO") {
            cmd.env_remove(&key);
        }
    }
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(BuildError::Spawn)?;
    if !output.status.success() {
        return Err(BuildError::Failed(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    let mut built = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let name = message["target"]["name"].as_str().unwrap_or_default();
        let wasm = message["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .find(|f| f.ends_with(".wasm"));
        if let Some(wasm) = wasm {
            built.insert(name.replace('_', "-"), PathBuf::from(wasm));
        }
    }
    for package in packages {
        if !built.contains_key(*package) {
            return Err(BuildError::NoComponent((*package).to_owned()));
        }
    }
    Ok(built)
}

/// Build one plugin crate (the directory holding its `Cargo.toml`) into `target_dir`.
pub fn build_plugin(crate_dir: &Path, target_dir: &Path) -> Result<PathBuf, BuildError> {
    let manifest = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| BuildError::Failed(format!("cannot read {}: {e}", manifest.display())))?;
    let package = text
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("package")?.get("name")?.as_str().map(str::to_owned))
        .ok_or_else(|| {
            BuildError::Failed(format!("{} has no [package] name", manifest.display()))
        })?;
    let mut built = build_plugins(&manifest, &[&package], target_dir)?;
    built
        .remove(&package)
        .ok_or(BuildError::NoComponent(package))
}
