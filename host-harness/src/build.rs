//! Building plugin crates into `wasm32-wasip2` components.
//!
//! Runs `cargo build --target wasm32-wasip2` with the `guest` profile (optimised for size,
//! LTO, stripped), defined on the command line so that it works for any plugin crate, and
//! reads the produced `.wasm` paths from cargo's JSON messages rather than guessing them.
//!
//! It is safe to call from a test or a build running under cargo: the outer cargo's
//! environment (`CARGO_*` build variables, `RUSTFLAGS`) is removed, and the guest build uses
//! its own target directory, so it neither inherits host flags nor waits on the outer lock.
//!
//! The `wasm32-wasip2` standard library is checked for first: a toolchain installed before
//! the project (or rustup with `RUSTUP_AUTO_INSTALL=0`) does not add it from
//! `rust-toolchain.toml`, so the build adds it with `rustup target add`, saying so on
//! stderr, or, without rustup, fails with the one command to run.

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
    /// The toolchain has no standard library for a target and it could not be added.
    #[error(
        "the Rust toolchain has no {target} target ({reason}); install it with `rustup target add {target}`"
    )]
    MissingTarget {
        /// The target: `wasm32-wasip2`, or the runtime's `x86_64-unknown-linux-musl`, ...
        target: String,
        /// Why it could not be added.
        reason: String,
    },
}

/// The target plugins are built for.
const TARGET: &str = "wasm32-wasip2";

/// Make sure the toolchain has the standard library of `target`, adding it with rustup when
/// it is missing. Builds into the same `target_dir` (tests running at once, several `serve`
/// commands) take turns through a lock file there, so rustup never installs a target twice
/// at once.
pub(crate) fn ensure_target(target: &str, target_dir: &Path) -> Result<(), BuildError> {
    let missing = |reason: String| BuildError::MissingTarget {
        target: target.to_owned(),
        reason,
    };
    if target_installed(target)? {
        return Ok(());
    }
    let lock_error =
        |e: std::io::Error| missing(format!("cannot lock {}: {e}", target_dir.display()));
    std::fs::create_dir_all(target_dir).map_err(lock_error)?;
    let lock =
        std::fs::File::create(target_dir.join(format!(".{target}.lock"))).map_err(lock_error)?;
    lock.lock().map_err(lock_error)?;
    if target_installed(target)? {
        return Ok(());
    }
    eprintln!("the {target} target is missing: running `rustup target add {target}`");
    let added = Command::new("rustup")
        .args(["target", "add", target])
        .stdin(Stdio::null())
        .status();
    match added {
        Ok(status) if status.success() && target_installed(target)? => Ok(()),
        Ok(status) => Err(missing(format!(
            "`rustup target add {target}` failed: {status}"
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing(
            "rustup is not on PATH, so it cannot be added automatically".into(),
        )),
        Err(e) => Err(missing(format!("cannot run rustup: {e}"))),
    }
}

/// Whether `rustc` has the target's standard library: its target libdir exists.
fn target_installed(target: &str) -> Result<bool, BuildError> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", target])
        .stdin(Stdio::null())
        .output()
        .map_err(BuildError::Spawn)?;
    if !output.status.success() {
        // A rustc that does not know the target at all (too old): the build will say so.
        return Ok(true);
    }
    let libdir = String::from_utf8_lossy(&output.stdout);
    Ok(Path::new(libdir.trim()).is_dir())
}

/// The `guest` profile plugins are built with: small (`opt-level = "s"`, LTO, stripped) and
/// without unwinding code. The host passes it to cargo as `--config` settings, so a plugin
/// crate needs none of its own; an author who builds by hand puts this in the crate's
/// `Cargo.toml` (the README shows it, and a test keeps the two the same).
pub const GUEST_PROFILE: &str = r#"[profile.guest]
inherits = "release"
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"
"#;

/// [`GUEST_PROFILE`] as cargo `--config` settings: `profile.guest.lto=true`, ...
fn guest_profile_settings() -> impl Iterator<Item = String> {
    GUEST_PROFILE
        .lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| format!("profile.guest.{key}={value}"))
}

/// Build the given packages of the workspace or crate at `manifest` for `wasm32-wasip2`, into
/// `target_dir`. Returns each package's component path, by package name.
pub fn build_plugins(
    manifest: &Path,
    packages: &[&str],
    target_dir: &Path,
) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    ensure_target(TARGET, target_dir)?;
    let mut cmd = cargo_build(manifest, target_dir);
    cmd.args(["--target", TARGET, "--profile", "guest"]);
    for setting in guest_profile_settings() {
        cmd.arg("--config").arg(setting);
    }
    for package in packages {
        cmd.args(["-p", package]);
    }
    let mut built = BTreeMap::new();
    for artifact in artifacts(cmd)? {
        let name = artifact["target"]["name"].as_str().unwrap_or_default();
        let wasm = artifact["filenames"]
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

/// Run a [`cargo_build`] command: cargo's `compiler-artifact` messages, or its errors.
pub(crate) fn artifacts(mut cmd: Command) -> Result<Vec<serde_json::Value>, BuildError> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(BuildError::Spawn)?;
    if !output.status.success() {
        return Err(BuildError::Failed(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .collect())
}

/// `cargo build` of `manifest` into `target_dir`, with JSON messages on stdout, and without
/// the outer cargo's environment (a test or build script calling this is under cargo).
pub(crate) fn cargo_build(manifest: &Path, target_dir: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--target-dir")
        .arg(target_dir);
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
    cmd
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
