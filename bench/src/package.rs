//! `--package FILE.difypkg`: an installed package, started as the daemon's local runtime starts
//! a plugin (`python3 -m main` in the unpacked folder, `INSTALL_METHOD=local`, pipes): the
//! package's size, the time from launch to the first heartbeat (when the daemon marks the
//! plugin ready), and the idle plugin's resident memory. Beside it, the alternative the
//! package does not take: the full host compiling the `.wasm` at start (`dify-plugin-host run
//! duck.wasm --stdio`), to show what precompiling buys.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Unpack `package` into a fresh folder, every file 0644, as the daemon does.
fn unpack(package: &Path) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dify-bench-package-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(package).expect("the package")).expect("a zip");
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("an entry");
        let path = dir.join(entry.enclosed_name().expect("a name inside"));
        std::fs::create_dir_all(path.parent().unwrap()).expect("a folder");
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("the entry");
        std::fs::write(&path, bytes).expect("the file");
    }
    dir
}

/// Launch `command`; the time to its first heartbeat line and its VmRSS (KiB) once idle.
fn start(mut command: Command) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = command
        .env("INSTALL_METHOD", "local")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("launch the plugin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        let n = stdout.read_line(&mut line).expect("read the plugin");
        assert!(n > 0, "the plugin exited before its first heartbeat");
        if line.contains("\"heartbeat\"") {
            break;
        }
    }
    let ready = started.elapsed();
    // Idle: what the process holds once started, not a start-up peak.
    std::thread::sleep(Duration::from_millis(500));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    (ready, rss)
}

fn median<T: Copy + Ord>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

/// Start each way `runs` times; print the rows and return them.
pub fn run(root: &Path, package: &Path, duck_wasm: &Path, runs: usize) -> Value {
    let packed = std::fs::metadata(package).expect("the package").len();
    let dir = unpack(package);
    let mut unpacked = 0;
    let mut runtime_bytes = 0;
    for entry in std::fs::read_dir(dir.join("runtime/amd64")).expect("an amd64 runtime") {
        let entry = entry.expect("an entry");
        let len = entry.metadata().expect("metadata").len();
        if entry.file_name() == "dify-plugin-runtime" {
            runtime_bytes = len;
        }
    }
    for file in walk(&dir) {
        unpacked += std::fs::metadata(file).expect("metadata").len();
    }
    // The daemon runs its venv's interpreter, a real binary: not a version manager's shim.
    let python = std::env::var_os("PYTHON").map_or_else(
        || {
            let system = PathBuf::from("/usr/bin/python3");
            if system.is_file() {
                system
            } else {
                PathBuf::from("python3")
            }
        },
        PathBuf::from,
    );
    let installed = |_: usize| {
        let mut command = Command::new(&python);
        command.args(["-m", "main"]).current_dir(&dir);
        start(command)
    };
    let runtime_alone = |_: usize| {
        let folder = dir.join("runtime/amd64");
        let mut command = Command::new(folder.join("dify-plugin-runtime"));
        command.arg(folder.join("duck.cwasm"));
        start(command)
    };
    let host = root.join("target/release/dify-plugin-host");
    let compiling = |_: usize| {
        let mut command = Command::new(&host);
        command.arg("run").arg(duck_wasm).arg("--stdio");
        start(command)
    };
    let measure = |f: &dyn Fn(usize) -> (Duration, u64)| {
        let samples: Vec<(Duration, u64)> = (0..runs).map(f).collect();
        (
            median(samples.iter().map(|s| s.0).collect()),
            median(samples.iter().map(|s| s.1).collect()),
        )
    };
    let (ready, rss) = measure(&installed);
    let (alone, _) = measure(&runtime_alone);
    println!("| package ({}) | result |", package.display());
    println!("|---|---|");
    println!("| size | {packed} bytes packed, {unpacked} unpacked (runtime {runtime_bytes}) |");
    println!(
        "| launch (`{} -m main`) to first heartbeat, median of {runs} | {:.1} ms (the runtime alone: {:.1} ms) |",
        python.display(),
        ready.as_secs_f64() * 1e3,
        alone.as_secs_f64() * 1e3
    );
    println!("| idle RSS | {:.1} MiB |", rss as f64 / 1024.0);
    let mut out = json!({
        "packed_bytes": packed, "unpacked_bytes": unpacked, "runtime_bytes": runtime_bytes,
        "start_ms": ready.as_secs_f64() * 1e3, "runtime_start_ms": alone.as_secs_f64() * 1e3,
        "rss_kib": rss,
    });
    if host.is_file() {
        let (ready, rss) = measure(&compiling);
        let host_bytes = std::fs::metadata(&host).expect("metadata").len();
        println!(
            "| instead: the full host compiling the .wasm at start | {:.1} ms to the first heartbeat, {:.1} MiB idle, a {host_bytes}-byte binary |",
            ready.as_secs_f64() * 1e3,
            rss as f64 / 1024.0
        );
        out["compiling"] = json!({"start_ms": ready.as_secs_f64() * 1e3, "rss_kib": rss, "host_bytes": host_bytes});
    }
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
