//! Installable packages (`dify-plugin-host package`), installed the way the plugin daemon
//! installs them: decoded and verified by `daemon-decoder/` (Go's archive/zip and crypto/rsa,
//! as the daemon does), extracted with every file mode 0644, launched as the local runtime
//! launches a plugin (`python3 -m main` in that folder, `INSTALL_METHOD=local`), and driven
//! over stdio by the fake daemon.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use dify_plugin_host::EndpointRequest;
use dify_plugin_host::daemon::declaration::Declaration;
use dify_plugin_host::mock::DemoApps;
use dify_plugin_host::package::{self, Arch, PackageError};
use serde_json::{Value, json};

use crate::daemon::{SCRIPTED, host_binary, mock_with_script, target_dir};
use crate::fake_daemon::{FakeDaemon, check_manifest, raw_request};
use crate::support::{load, workspace_root};

const T: Duration = Duration::from_secs(30);

/// The test signing key pair (made with `dify-plugin-host keygen`; used for nothing else).
fn key(half: &str) -> PathBuf {
    workspace_root().join(format!("tests/fixtures/package-signing/test.{half}.pem"))
}

/// A folder of its own under the target directory, empty.
fn scratch(name: &str) -> PathBuf {
    let dir = target_dir()
        .join("package-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Duck's package, signed with the test key, made once per test run by the real CLI (which
/// builds the runtimes Duck's manifest lists). `None`, with a message, without the CLI.
fn duck_package() -> Option<&'static Path> {
    static PACKAGE: OnceLock<Option<PathBuf>> = OnceLock::new();
    PACKAGE
        .get_or_init(|| {
            let Some(bin) = host_binary() else {
                eprintln!("skipping: no dify-plugin-host binary");
                return None;
            };
            let out = scratch("duck-package").join("duck.difypkg");
            let status = Command::new(bin)
                .arg("package")
                .arg(workspace_root().join("examples/duck"))
                .arg("-o")
                .arg(&out)
                .arg("--sign")
                .arg(key("private"))
                .env("CARGO_TARGET_DIR", target_dir())
                .current_dir(workspace_root())
                .status()
                .expect("run dify-plugin-host package");
            assert!(
                status.success(),
                "dify-plugin-host package failed: {status}"
            );
            Some(out)
        })
        .as_deref()
}

/// The daemon's decoder, built once. `None`, with a message, where Go is missing.
fn decoder() -> Option<&'static Path> {
    static DECODER: OnceLock<Option<PathBuf>> = OnceLock::new();
    DECODER
        .get_or_init(|| {
            let bin = target_dir().join("daemon-decoder/daemon-decoder");
            let built = Command::new("go")
                .args(["build", "-o"])
                .arg(&bin)
                .arg(".")
                .current_dir(workspace_root().join("tests/daemon-decoder"))
                .status();
            match built {
                Ok(status) if status.success() => Some(bin),
                Ok(status) => panic!("building tests/daemon-decoder failed: {status}"),
                Err(e) => {
                    eprintln!("skipping: Go is not available to build the daemon's decoder ({e})");
                    None
                }
            }
        })
        .as_deref()
}

/// Decode, verify against the test public key and extract `package` into `dir` as the daemon
/// does: its report, or the decoder's error.
fn decode(decoder: &Path, package: &Path, dir: &Path) -> Result<Value, String> {
    let output = Command::new(decoder)
        .arg(package)
        .arg(dir)
        .arg(key("public"))
        .output()
        .expect("run the decoder");
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).expect("the decoder's JSON"))
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The Duck package installed into a fresh folder: the decoder's report and the folder.
fn installed(name: &str) -> Option<(Value, PathBuf)> {
    let package = duck_package()?;
    let decoder = decoder()?;
    let dir = scratch(name);
    let report = decode(decoder, package, &dir).unwrap_or_else(|e| panic!("{e}"));
    Some((report, dir))
}

/// The local runtime's launch: `python3 -m main` in the plugin's folder.
fn launch(dir: &Path) -> FakeDaemon {
    let mut command = Command::new("python3");
    command.args(["-m", "main"]).current_dir(dir);
    FakeDaemon::spawn_stdio(command, mock_with_script(), DemoApps::TENANT)
}

/// This machine, by Dify's name.
fn this_arch() -> Arch {
    match std::env::consts::ARCH {
        "aarch64" => Arch::Arm64,
        _ => Arch::Amd64,
    }
}

#[test]
fn the_package_decodes_verifies_and_carries_the_declaration_as_written() {
    let Some((report, dir)) = installed("decode") else {
        return;
    };
    assert_eq!(report["verification"], "verified", "{report}");
    let files: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    // Sorted, as the daemon's packager writes them; a signed package's verification last, as
    // its signer writes it.
    assert_eq!(files.last(), Some(&".verification.dify.json"));
    let mut sorted = files[..files.len() - 1].to_vec();
    sorted.sort();
    assert_eq!(files[..files.len() - 1], sorted);
    for file in [
        "_assets/icon.svg",
        "group/duck.yaml",
        "main.py",
        "manifest.yaml",
        "requirements.txt",
        "runtime/amd64/duck.cwasm",
        "runtime/amd64/dify-plugin-runtime",
    ] {
        assert!(files.contains(&file), "{file} missing from {files:?}");
    }
    assert!(report["unpacked"].as_u64().unwrap() <= package::MAX_UNPACKED_BYTES);
    let source = workspace_root().join("examples/duck");
    for file in ["manifest.yaml", "group/duck.yaml", "_assets/icon.svg"] {
        assert_eq!(
            std::fs::read(dir.join(file)).unwrap(),
            std::fs::read(source.join(file)).unwrap(),
            "{file} is not as written"
        );
    }
    // Nothing to install, and a version the daemon's SDK patcher reads as needing no patch.
    let requirements = std::fs::read_to_string(dir.join("requirements.txt")).unwrap();
    assert!(
        requirements.lines().all(|l| l.starts_with('#')),
        "{requirements}"
    );
    assert!(
        requirements.contains("dify_plugin==0.10.2"),
        "{requirements}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(".verification.dify.json")).unwrap(),
        r#"{"authorized_category":"community"}"#
    );
    for file in &files {
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{file}");
    }
    // What the daemon reads: the same declaration, by its rules.
    let declaration = Declaration::load(&dir).expect("the unpacked declaration");
    check_manifest(&declaration.manifest).expect("the daemon's manifest rules");
    assert_eq!(declaration.arches(), ["amd64"]);
}

#[test]
fn a_changed_file_fails_the_signature() {
    let (Some(package), Some(decoder)) = (duck_package(), decoder()) else {
        return;
    };
    let dir = scratch("tampered");
    let tampered = dir.join("tampered.difypkg");
    rewrite_zip(package, &tampered, |name, bytes| {
        if name == "group/duck.yaml" {
            bytes.extend_from_slice(b"\n# changed\n");
        }
    });
    let report = decode(decoder, &tampered, &dir.join("unpacked")).unwrap();
    assert_eq!(report["verification"], "crypto/rsa: verification error");
    // And the untouched copy still verifies: the rewrite itself changes nothing.
    let copy = dir.join("copy.difypkg");
    rewrite_zip(package, &copy, |_, _| {});
    let report = decode(decoder, &copy, &dir.join("copy")).unwrap();
    assert_eq!(report["verification"], "verified");
}

/// Copy the zip at `from` to `to`, entry by entry, comment included, letting `change` edit
/// each file's bytes.
fn rewrite_zip(from: &Path, to: &Path, change: impl Fn(&str, &mut Vec<u8>)) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let comment = archive.comment().to_vec();
    let mut writer = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().expect("a UTF-8 name").into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        change(&name, &mut bytes);
        writer
            .start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&bytes).unwrap();
    }
    writer
        .set_comment(String::from_utf8(comment).unwrap())
        .unwrap();
    writer.finish().unwrap();
}

#[test]
fn the_installed_duck_is_ready_at_once_and_answers_as_serve_does() {
    let Some((_, dir)) = installed("launch") else {
        return;
    };
    let daemon = launch(&dir);
    assert!(daemon.wait_ready(T), "not ready: {}", daemon.stderr());
    let target = format!("/duck/{SCRIPTED}?query=hi");
    let answer = daemon
        .request(raw_request("GET", &target, &[], b""), json!({}))
        .answer(T);
    let direct = load("duck", &mock_with_script()).request(EndpointRequest::get(&target));
    assert_eq!(answer.status, direct.status());
    assert_eq!(answer.header("Content-Type"), Some("text/html"));
    assert_eq!(answer.text(), direct.text().unwrap());
    let status = daemon.exit_status(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}: {}",
        daemon.stderr()
    );
}

#[test]
fn a_killed_runtime_fails_its_sessions_at_the_daemon() {
    let Some((_, dir)) = installed("killed") else {
        return;
    };
    let mock = mock_with_script();
    let gate = mock.gate(SCRIPTED, 1);
    let mut command = Command::new("python3");
    command.args(["-m", "main"]).current_dir(&dir);
    let daemon = FakeDaemon::spawn_stdio(command, mock.clone(), DemoApps::TENANT);
    assert!(daemon.wait_ready(T), "not ready: {}", daemon.stderr());
    let session = daemon.request(
        raw_request("GET", &format!("/duck/{SCRIPTED}?query=hi"), &[], b""),
        json!({}),
    );
    // The app is held after its first event: the session is open when the runtime dies.
    assert!(gate.wait_for_held(1, T));
    daemon.kill();
    let answer = session.answer(T);
    assert!(
        answer
            .text()
            .contains("ConnectionClosedError: Connection closed unexpectedly"),
        "{} {}",
        answer.status,
        answer.text()
    );
    gate.open();
}

#[test]
fn a_package_without_this_machines_runtime_says_so() {
    let Some((_, dir)) = installed("other-arch") else {
        return;
    };
    let (ours, other) = match this_arch() {
        Arch::Amd64 => (Arch::Amd64, Arch::Arm64),
        Arch::Arm64 => (Arch::Arm64, Arch::Amd64),
    };
    // A package built for the other architecture only.
    std::fs::rename(
        dir.join(format!("runtime/{ours}")),
        dir.join(format!("runtime/{other}")),
    )
    .unwrap();
    let output = Command::new("python3")
        .args(["-m", "main"])
        .current_dir(&dir)
        .env("INSTALL_METHOD", "local")
        .output()
        .expect("python3");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "stdout is the daemon's");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "duck: this package has no runtime for this machine ({}, {ours}); it has one for: \
             {other}. Add {ours} to meta.arch in manifest.yaml and package the plugin again",
            std::env::consts::ARCH
        )
    );
}

/// A copy of Duck's crate files in a scratch folder, with `edit` applied to its manifest.
fn duck_copy(name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let dir = scratch(name);
    let source = workspace_root().join("examples/duck");
    for file in ["group/duck.yaml", "_assets/icon.svg"] {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    let manifest = std::fs::read_to_string(source.join("manifest.yaml")).unwrap();
    std::fs::write(dir.join("manifest.yaml"), edit(&manifest)).unwrap();
    dir
}

fn options(plugin_dir: PathBuf, runtimes: BTreeMap<Arch, PathBuf>) -> package::Options {
    package::Options {
        component: crate::daemon::component("duck"),
        output: plugin_dir.join("out.difypkg"),
        plugin_dir,
        runtimes,
        signing_key: None,
    }
}

#[test]
fn packaging_refuses_an_arch_list_it_does_not_ship_and_a_uuid_author() {
    let dir = duck_copy("arch-list", |m| {
        m.replace("arch: [amd64]", "arch: [amd64, arm64]")
            .replace("entrypoint: main", "entrypoint: bin/main")
    });
    let runtime = dir.join("fake-runtime");
    std::fs::write(&runtime, b"not run").unwrap();
    let runtimes = BTreeMap::from([(Arch::Amd64, runtime)]);
    let err = package::write(&options(dir.clone(), runtimes.clone())).expect_err("refused");
    let PackageError::Invalid(found) = &err else {
        panic!("{err}");
    };
    let fields: Vec<&str> = found.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["meta.runner.entrypoint", "meta.arch"], "{err}");
    let text = err.to_string();
    assert!(
        text.contains(
            "meta.arch must list exactly the architectures the package ships a runtime for, \
             [amd64]: write `arch: [amd64]`"
        ) && text.contains("got [amd64, arm64]"),
        "{text}"
    );
    assert!(!dir.join("out.difypkg").exists());

    // The daemon refuses a UUID for an author at upload; the declaration's rules say so first.
    let dir = duck_copy("uuid-author", |m| {
        m.replace(
            "author: dify-plugin-wasm",
            "author: 0b1c4f2e-4d6a-4e8f-9a3b-5c7d9e1f2a4b",
        )
    });
    let err = package::write(&options(dir, runtimes)).expect_err("refused");
    assert!(
        matches!(err, PackageError::Declaration(_))
            && err.to_string().contains("cannot set author to an UUID"),
        "{err}"
    );
}

#[test]
fn packaging_refuses_more_than_the_daemon_unpacks() {
    let dir = duck_copy("too-large", |m| m.to_owned());
    let runtime = dir.join("huge-runtime");
    std::fs::write(&runtime, vec![0u8; package::MAX_UNPACKED_BYTES as usize]).unwrap();
    let err = package::write(&options(
        dir.clone(),
        BTreeMap::from([(Arch::Amd64, runtime)]),
    ))
    .expect_err("refused");
    let text = err.to_string();
    assert!(
        matches!(err, PackageError::TooLarge { .. })
            && text.contains("more than the daemon's cap of 52428800")
            && text.contains("runtime/amd64/dify-plugin-runtime (52428800)"),
        "{text}"
    );
    assert!(!dir.join("out.difypkg").exists());
}
