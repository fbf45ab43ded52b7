//! Installable plugins: the `.difypkg` a Dify operator uploads, and the runtime it ships.
//!
//! The plugin daemon installs a package by unpacking it (every file mode 0644) and launching
//! `python -m <entrypoint>` in it: Python is the only runner it knows (daemon-protocol.md
//! §3.3). So a package of a wasm plugin is, to the daemon, a Python plugin with an empty
//! `requirements.txt` (nothing to download at install) whose `main.py` `exec`s a static
//! `dify-plugin-runtime` binary for the machine's architecture, on the plugin's component
//! precompiled for that architecture. The runtime speaks the daemon's protocol on stdin and
//! stdout (`crate::daemon::stdio`), starts in milliseconds (no compiling, no Python
//! imports), and is the host itself, with all its limits.
//!
//! Layout, in the order the files are written (sorted by path, as the daemon's own packager
//! writes them):
//!
//! ```text
//! _assets/icon.svg                        the plugin's _assets/, as they are
//! group/<name>.yaml, endpoint files       the declaration files, as they are
//! main.py                                 the launcher (`meta.runner.entrypoint`.py)
//! manifest.yaml                           as it is
//! provider/<name>.yaml, tool files        a tool provider's files, as they are
//! requirements.txt                        no requirements (a comment for the daemon)
//! runtime/<arch>/<name>.cwasm             the component, precompiled for <arch>
//! runtime/<arch>/dify-plugin-runtime      the static runtime for <arch> (amd64, arm64)
//! .verification.dify.json                 signed packages: {"authorized_category":"community"}
//! ```
//!
//! Before writing, the declaration is checked with the daemon's rules (`Declaration::load`:
//! among them an author that is not a UUID, which the daemon refuses at upload), its
//! endpoints against the component's routes, and what only an installed package needs: a
//! `meta.arch` that lists exactly the architectures shipped, an entrypoint that is a Python
//! module name, and the daemon's 50 MiB cap on the unpacked size. [`sign`](sign.rs) writes the signature the
//! daemon verifies.

mod sign;

pub use sign::{KeyPair, generate_key};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::build::{self, BuildError};
use crate::daemon::declaration::{Declaration, DeclarationError, MANIFEST_FILE, Violation};
use crate::runtime::{HostError, Limits, Runtime};

/// The daemon's cap on a package's unpacked size (`MAX_PLUGIN_PACKAGE_SIZE`, 50 MiB).
pub const MAX_UNPACKED_BYTES: u64 = 52_428_800;
/// The runtime binary's name, in the package and in cargo.
pub const RUNTIME_BINARY: &str = "dify-plugin-runtime";
/// The requirements file: nothing to install, so installing works offline. The daemon reads
/// the Python SDK's version from it to decide which of its SDK patches to apply, and logs an
/// error with a stack trace at every launch when it finds none (DMN
/// `internal/core/local_runtime/patch.go`); the comment names one that needs no patch.
const REQUIREMENTS_FILE: &str = "requirements.txt";
const REQUIREMENTS: &str = "# A WebAssembly plugin: nothing to install (main.py starts a static binary).\n\
     # The daemon reads the Python SDK's version here; none is used: dify_plugin==0.10.2\n";
/// What a signed package says it is (the daemon's `.verification.dify.json`, hashed and
/// signed after the other files): without it the daemon takes a signed package for one of
/// Dify's own (`langgenius`).
const VERIFICATION_FILE: &str = ".verification.dify.json";
const VERIFICATION: &str = r#"{"authorized_category":"community"}"#;
/// The launcher, with `@NAME@`, `@COMPONENT@` and `@ENTRYPOINT@` to fill in.
const LAUNCHER: &str = include_str!("main.py");

/// The cargo profile the runtime is built with: fast (it runs every request), small (it is
/// most of the package), without debug symbols. It unwinds on panic: the host catches a
/// panic of one request rather than losing every other.
pub const RUNTIME_PROFILE: &str = r#"[profile.runtime]
inherits = "release"
lto = true
codegen-units = 1
strip = true
"#;

/// A machine a package can ship a runtime for, by the name Dify's `meta.arch` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// x86-64 Linux.
    Amd64,
    /// 64-bit ARM Linux.
    Arm64,
}

impl Arch {
    /// Every architecture, in Dify's order.
    pub const ALL: [Arch; 2] = [Arch::Amd64, Arch::Arm64];

    /// The architecture of a `meta.arch` entry: `amd64` or `arm64`.
    pub fn from_dify(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.dify_name() == name)
    }

    /// Dify's name: `amd64`, `arm64`.
    pub fn dify_name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// Rust's and wasmtime's name: `x86_64`, `aarch64`.
    pub fn machine(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }

    /// The Rust target the runtime is built for: static musl, so that it runs on the
    /// daemon's image whatever its libc.
    pub fn runtime_target(self) -> String {
        format!("{}-unknown-linux-musl", self.machine())
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dify_name())
    }
}

/// What to package.
#[derive(Debug, Clone)]
pub struct Options {
    /// The plugin crate: `manifest.yaml`, its endpoint group, `_assets/`.
    pub plugin_dir: PathBuf,
    /// The plugin's component, built (`.wasm`).
    pub component: PathBuf,
    /// The runtime binary for each architecture shipped ([`build_runtime`] makes them).
    pub runtimes: BTreeMap<Arch, PathBuf>,
    /// The `.difypkg` to write.
    pub output: PathBuf,
    /// A PEM RSA private key to sign with (PKCS#1, as `dify signature generate` writes, or
    /// PKCS#8).
    pub signing_key: Option<PathBuf>,
}

/// A package written.
#[derive(Debug, Clone)]
pub struct Written {
    /// Where.
    pub path: PathBuf,
    /// Each file, in package order, with its unpacked size.
    pub files: Vec<(String, u64)>,
    /// The unpacked size, as the daemon counts it against [`MAX_UNPACKED_BYTES`].
    pub unpacked_bytes: u64,
    /// The size of the `.difypkg`.
    pub packed_bytes: u64,
    /// Whether it carries a signature.
    pub signed: bool,
}

/// Why a package could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The declaration breaks the daemon's rules, or disagrees with the component.
    #[error(transparent)]
    Declaration(#[from] DeclarationError),
    /// Rules only an installed package must keep: each with its field and the fix.
    #[error(
        "the plugin cannot be packaged for installation ({} problem(s)):\n{}",
        .0.len(),
        .0.iter().map(|v| format!("  {v}")).collect::<Vec<_>>().join("\n")
    )]
    Invalid(Vec<Violation>),
    /// The component does not load or compile.
    #[error(transparent)]
    Component(#[from] HostError),
    /// A runtime could not be built.
    #[error("cannot build the {arch} runtime: {source}")]
    Runtime {
        /// For which architecture.
        arch: Arch,
        /// Cargo's or rustup's error.
        source: BuildError,
    },
    /// The package would be larger than the daemon takes.
    #[error(
        "the package would unpack to {total} bytes, more than the daemon's cap of {} \
         (MAX_PLUGIN_PACKAGE_SIZE); the largest files: {largest}",
        MAX_UNPACKED_BYTES
    )]
    TooLarge {
        /// The unpacked size.
        total: u64,
        /// The three largest files, with their sizes.
        largest: String,
    },
    /// The signing key cannot be used.
    #[error("cannot sign with {}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Build the runtime for `arch` from the `dify-plugin-cli` crate at `cli_manifest` (its
/// `Cargo.toml`), into `target_dir`, with [`RUNTIME_PROFILE`] and none of the host's optional
/// features: no compiler, no HTTP server, no Dify HTTP backends. Adds the Rust target with
/// rustup if it is missing and links with the toolchain's own `rust-lld`. wasmtime compiles
/// one small C file, so a C compiler for `arch` is needed: the system's `cc` for this
/// machine's architecture, `<arch>-linux-gnu-gcc` for the other (Debian's
/// `gcc-aarch64-linux-gnu`, `gcc-x86-64-linux-gnu`); `CC_<target>` chooses another. Returns
/// the binary.
pub fn build_runtime(
    cli_manifest: &Path,
    arch: Arch,
    target_dir: &Path,
) -> Result<PathBuf, PackageError> {
    let fail = |source| PackageError::Runtime { arch, source };
    let target = arch.runtime_target();
    build::ensure_target(&target, target_dir).map_err(fail)?;
    let mut cmd = build::cargo_build(cli_manifest, target_dir);
    let cc_variable = format!("CC_{}", target.replace('-', "_"));
    if std::env::var_os(&cc_variable).is_none() {
        let cc = if arch.machine() == std::env::consts::ARCH {
            "cc".to_owned()
        } else {
            format!("{}-linux-gnu-gcc", arch.machine())
        };
        if !on_path(&cc) {
            return Err(fail(BuildError::Failed(format!(
                "wasmtime compiles a small C file for the runtime, and there is no C compiler \
                 for {arch} ({cc} is not on PATH): install one (on Debian: `apt-get install \
                 gcc-{}-linux-gnu`) or name it in {cc_variable}, or remove {arch} from \
                 meta.arch in manifest.yaml",
                arch.machine().replace('_', "-")
            ))));
        }
        cmd.env(&cc_variable, cc);
    }
    cmd.args(["--bin", RUNTIME_BINARY, "--no-default-features"])
        .args(["--target", &target, "--profile", "runtime"])
        .arg("--config")
        .arg(format!("target.{target}.linker=\"rust-lld\""));
    for (key, value) in RUNTIME_PROFILE
        .lines()
        .filter_map(|line| line.split_once(" = "))
    {
        cmd.arg("--config")
            .arg(format!("profile.runtime.{key}={value}"));
    }
    build::artifacts(cmd)
        .map_err(fail)?
        .into_iter()
        .filter(|a| a["target"]["name"] == RUNTIME_BINARY)
        .find_map(|a| a["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| fail(BuildError::NoComponent(RUNTIME_BINARY.to_owned())))
}

/// Whether `program` is an executable file in a folder of `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Check the plugin, precompile its component for each architecture, and write the package.
pub fn write(options: &Options) -> Result<Written, PackageError> {
    let declaration = Declaration::load(&options.plugin_dir)?;
    check(&declaration, &options.runtimes)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PackageError::Io { path, source }
    };
    let wasm = std::fs::read(&options.component).map_err(io(&options.component))?;
    let name = declaration.name();
    let plugin = Runtime::new()?.load_bytes(
        &name,
        &wasm,
        crate::daemon::plugin_config(Limits::default()),
    )?;
    declaration.check_routes(plugin.routes())?;
    declaration.check_tools(plugin.tools())?;

    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for file in &declaration.files {
        let path = options.plugin_dir.join(file);
        files.insert(file.clone(), std::fs::read(&path).map_err(io(&path))?);
    }
    for asset in &declaration.assets {
        files.insert(format!("_assets/{}", asset.name), asset.bytes.clone());
    }
    files.insert(
        REQUIREMENTS_FILE.to_owned(),
        REQUIREMENTS.as_bytes().to_vec(),
    );
    let component = format!("{name}.cwasm");
    let entrypoint = declaration.entrypoint();
    let launcher = LAUNCHER
        .replace("@NAME@", &name)
        .replace("@COMPONENT@", &component)
        .replace("@ENTRYPOINT@", &entrypoint);
    files.insert(format!("{entrypoint}.py"), launcher.into_bytes());
    for (arch, binary) in &options.runtimes {
        let folder = format!("runtime/{arch}");
        let precompiled = crate::precompile(&name, &wasm, arch.machine())?;
        files.insert(format!("{folder}/{component}"), precompiled);
        files.insert(
            format!("{folder}/{RUNTIME_BINARY}"),
            std::fs::read(binary).map_err(io(binary))?,
        );
    }

    let mut files: Vec<(String, Vec<u8>)> = files.into_iter().collect();
    if options.signing_key.is_some() {
        files.push((
            VERIFICATION_FILE.to_owned(),
            VERIFICATION.as_bytes().to_vec(),
        ));
    }
    let unpacked_bytes: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    if unpacked_bytes > MAX_UNPACKED_BYTES {
        let mut by_size: Vec<_> = files.iter().map(|(n, b)| (b.len(), n)).collect();
        by_size.sort_by(|a, b| b.cmp(a));
        let largest: Vec<String> = by_size
            .iter()
            .take(3)
            .map(|(len, n)| format!("{n} ({len})"))
            .collect();
        return Err(PackageError::TooLarge {
            total: unpacked_bytes,
            largest: largest.join(", "),
        });
    }
    let comment = match &options.signing_key {
        Some(key) => Some(sign::comment(&files, key)?),
        None => None,
    };
    let packed_bytes =
        write_zip(&options.output, &files, comment.as_deref()).map_err(io(&options.output))?;
    Ok(Written {
        path: options.output.clone(),
        files: files
            .iter()
            .map(|(n, b)| (n.clone(), b.len() as u64))
            .collect(),
        unpacked_bytes,
        packed_bytes,
        signed: comment.is_some(),
    })
}

/// The rules only an installed package must keep, all reported at once.
fn check(
    declaration: &Declaration,
    runtimes: &BTreeMap<Arch, PathBuf>,
) -> Result<(), PackageError> {
    let mut found = Vec::new();
    let mut add = |field: &str, rule: String, value: String| {
        found.push(Violation {
            file: MANIFEST_FILE.to_owned(),
            field: field.to_owned(),
            rule,
            value,
        })
    };
    let entrypoint = declaration.entrypoint();
    let module_name = entrypoint
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && entrypoint
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !module_name {
        add(
            "meta.runner.entrypoint",
            "must be a Python module name, the launcher's file name without .py: write `main`"
                .into(),
            format!("{entrypoint:?}"),
        );
    }
    let declared: BTreeSet<String> = declaration.arches().into_iter().collect();
    let shipped: BTreeSet<String> = runtimes.keys().map(|a| a.to_string()).collect();
    if declared != shipped {
        let list = |set: &BTreeSet<String>| {
            let all: Vec<&str> = set.iter().map(String::as_str).collect();
            format!("[{}]", all.join(", "))
        };
        add(
            "meta.arch",
            format!(
                "must list exactly the architectures the package ships a runtime for, {}: \
                 write `arch: {}`, or package for every architecture it lists",
                list(&shipped),
                list(&shipped)
            ),
            list(&declared),
        );
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(PackageError::Invalid(found))
    }
}

/// Write the zip atomically (a temporary file renamed over `path`); its size.
///
/// Entries are files only, in the given order, with a fixed timestamp, so the same plugin
/// gives the same bytes. Modes are what a user unzipping by hand needs (the daemon ignores them).
fn write_zip(
    path: &Path,
    files: &[(String, Vec<u8>)],
    comment: Option<&str>,
) -> std::io::Result<u64> {
    use zip::write::SimpleFileOptions;
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    let result = (|| {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&partial)?);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        for (name, bytes) in files {
            let mode = if name.ends_with(RUNTIME_BINARY) {
                0o755
            } else {
                0o644
            };
            zip.start_file(name.as_str(), options.unix_permissions(mode))?;
            zip.write_all(bytes)?;
        }
        if let Some(comment) = comment {
            zip.set_comment(comment)?;
        }
        zip.finish()?.sync_all()?;
        std::fs::rename(&partial, path)?;
        Ok(std::fs::metadata(path)?.len())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}
