//! `dify-plugin-bench`: measures the host and the SDK, and prints a table (and JSON).
//!
//! Every figure comes from this one run, on this machine:
//! 1. streaming: one streaming chat invoke of N events (the peer's 143-byte `message`),
//!    through the SDK's iterator, each written to the response as `{json} <br>` (the Duck
//!    example, unchanged), read by the caller: chunks/s end to end;
//! 2. the floor: the same N events through bare `next()` calls of the raw WIT bindings;
//! 3. a blocking invoke round trip inside a warm instance;
//! 4. per request: a fresh instance, one endpoint call, one blocking invoke;
//! 5. plugin load: compiling versus loading the cached artifact;
//! 6. memory: the host's RSS with one plugin loaded, and what each live instance adds;
//! 7. the release Duck guest's size;
//! 8. `serve` under load: requests/s, p50 and p99 of the Duck endpoint at 1, 16 and 64
//!    keep-alive connections over loopback;
//! 9. the same for the hello plugin (`GET /hello`, 200 `hello`): what the host itself costs
//!    per request, with next to nothing for the plugin to do.

mod attacks;
mod backend;
mod daemon;
mod load;
mod package;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backend::{Hold, Repeat};
use dify_plugin_host::server::Server;
use dify_plugin_host::{Backend, EndpointRequest, Plugin, PluginConfig, Runtime};
use serde_json::{Value, json};

struct Args {
    chunks: usize,
    runs: usize,
    load_seconds: f64,
    connections: Vec<usize>,
    json: Option<PathBuf>,
    /// Run only these measures (by number), for profiling one of them.
    only: Option<Vec<u32>>,
    /// Instead of the measures: this many streaming requests against `serve` (the soak).
    soak: Option<usize>,
    /// Requests before the soak's first RSS reading.
    soak_warmup: usize,
    /// Instead of the measures: the attacks of SECURITY.md at full size.
    attacks: bool,
    /// Instead of the measures: the host behind the daemon protocol.
    daemon: bool,
    /// With `daemon`: the Python peer's tool plugin (its `plugin/` folder) and an interpreter
    /// with `dify-plugin`, measured under the same driver.
    peer: Option<(PathBuf, PathBuf)>,
    /// Instead of the measures: this installed package's size, start and memory.
    package: Option<PathBuf>,
}

impl Args {
    fn wants(&self, measure: u32) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.contains(&measure))
    }
}

fn args() -> Args {
    let mut args = Args {
        chunks: 100_000,
        runs: 5,
        load_seconds: 3.0,
        connections: vec![1, 16, 64],
        json: None,
        only: None,
        soak: None,
        soak_warmup: 50_000,
        attacks: false,
        daemon: false,
        peer: None,
        package: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage_error(&format!("{flag} needs a value")))
        };
        fn number<T: std::str::FromStr>(text: &str, usage: &str) -> T {
            text.parse()
                .unwrap_or_else(|_| usage_error(&format!("expected {usage}, got '{text}'")))
        }
        match flag.as_str() {
            "--chunks" => args.chunks = number(&value(), "--chunks N"),
            "--runs" => args.runs = number(&value(), "--runs N"),
            "--load-seconds" => args.load_seconds = number(&value(), "--load-seconds S"),
            "--connections" => {
                args.connections = value()
                    .split(',')
                    .map(|c| number(c, "--connections 1,16,64"))
                    .collect()
            }
            "--json" => {
                let path = PathBuf::from(value());
                // Checked now, not after minutes of measuring.
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
                if let Some(dir) = dir.filter(|d| !d.is_dir()) {
                    usage_error(&format!(
                        "--json {}: the folder {} does not exist",
                        path.display(),
                        dir.display()
                    ));
                }
                args.json = Some(path);
            }
            "--soak" => args.soak = Some(number(&value(), "--soak REQUESTS")),
            "--attacks" => args.attacks = true,
            "--daemon" => args.daemon = true,
            "--peer-plugin" => {
                let python =
                    std::env::var_os("DIFY_PLUGIN_PYTHON").map_or("python3".into(), PathBuf::from);
                args.peer = Some((PathBuf::from(value()), python));
            }
            "--package" => args.package = Some(PathBuf::from(value())),
            "--soak-warmup" => args.soak_warmup = number(&value(), "--soak-warmup REQUESTS"),
            "--only" => {
                args.only = Some(
                    value()
                        .split(',')
                        .map(|m| number(m, "--only 1,4"))
                        .collect(),
                )
            }
            "--help" | "-h" => {
                println!(
                    "dify-plugin-bench [--chunks 100000] [--runs 5] [--load-seconds 3] \
                     [--connections 1,16,64] [--json FILE] [--only 1,4] [--soak 100000 [--soak-warmup 50000]] [--attacks] [--daemon [--peer-plugin DIR]] [--package FILE.difypkg]"
                );
                std::process::exit(0);
            }
            other => usage_error(&format!("unknown argument {other} (see --help)")),
        }
    }
    args
}

/// A bad command line: say what, and exit.
fn usage_error(message: &str) -> ! {
    eprintln!("dify-plugin-bench: {message}");
    std::process::exit(2);
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// VmRSS and VmHWM of this process, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// glibc's `struct mallinfo2`.
#[repr(C)]
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

unsafe extern "C" {
    fn mallinfo2() -> MallInfo2;
}

/// Heap bytes in use and free-but-kept (main arena plus mmapped), from glibc: tells a leak
/// (in use grows) from fragmentation (only RSS grows).
fn heap() -> String {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct (glibc >= 2.33).
    let info = unsafe { mallinfo2() };
    format!(
        "heap in use {} KiB, free in heap {} KiB, mmapped {} KiB",
        (info.uordblks + info.hblkhd) / 1024,
        info.fordblks / 1024,
        info.hblkhd / 1024
    )
}

/// RssAnon, RssFile and RssShmem of this process, as one string.
fn rss_kinds() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| {
            ["RssAnon", "RssFile", "RssShmem", "Threads"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn load(runtime: &Runtime, wasm: &Path, backend: impl Backend) -> Plugin {
    runtime
        .load(wasm, PluginConfig::new(backend, "bench-workspace"))
        .expect("load")
}

/// Time one request, body read to the end; returns seconds and the body.
fn timed(plugin: &Plugin, target: &str) -> (f64, Vec<u8>) {
    let start = Instant::now();
    let response = plugin.request(EndpointRequest::get(target));
    assert_eq!(response.status(), 200, "{target}");
    let body = response.bytes().expect("a whole body");
    (start.elapsed().as_secs_f64(), body)
}

/// The soak: `requests` streaming requests at 64 connections against `serve` with the demo
/// mock (the Duck endpoint on the demo chatbot, 3 events each), after `warmup` of them; RSS
/// after the warm-up and at the end, and every failure counted.
fn soak(duck_wasm: &Path, requests: usize, warmup: usize) {
    let mock = dify_plugin_host::mock::MockDify::demo().unwrap();
    let runtime = Runtime::new().unwrap();
    let duck = runtime
        .load(
            duck_wasm,
            PluginConfig::new(mock.clone(), dify_plugin_host::mock::DemoApps::TENANT),
        )
        .unwrap();
    let server = Server::start(duck.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let path = format!(
        "/duck/{}?query=hi",
        dify_plugin_host::mock::DemoApps::CHATBOT
    );
    let (warm_ok, warm_failed, _) = load::run_count(server.addr(), &path, 64, warmup);
    let (rss_warm, _) = memory();
    let kinds_warm = rss_kinds();
    let heap_warm = heap();
    let (ok, failed, took) = load::run_count(server.addr(), &path, 64, requests);
    let (rss_end, hwm) = memory();
    let kinds_end = rss_kinds();
    let heap_end = heap();
    let growth = (rss_end as f64 - rss_warm as f64) / rss_warm as f64 * 100.0;
    println!(
        "soak: {requests} streaming requests (Duck, 3 events each) at 64 connections against serve, mock Dify"
    );
    println!("| measure | result |");
    println!("|---|---|");
    println!("| warm-up | {warm_ok} ok, {warm_failed} failed |");
    println!(
        "| soak | {ok} ok, {failed} failed, in {:.1} s = {:.0} req/s |",
        took.as_secs_f64(),
        ok as f64 / took.as_secs_f64()
    );
    println!(
        "| RSS after warm-up / at the end / peak | {:.1} MiB / {:.1} MiB ({growth:+.1} %) / {:.1} MiB |",
        rss_warm as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!("| RSS by kind after warm-up / at the end (KiB) | {kinds_warm} / {kinds_end} |");
    println!("| malloc after warm-up / at the end | {heap_warm} / {heap_end} |");
    println!(
        "| left running afterwards | {} instances, {} open app streams |",
        duck.in_flight(),
        mock.open_streams()
    );
    if failed + warm_failed > 0 || growth > 10.0 {
        eprintln!(
            "soak FAILED: {} failures, RSS {growth:+.1} %",
            failed + warm_failed
        );
        std::process::exit(1);
    }
}

/// Serve `plugin` and drive `target` at each of `args.connections`, adding a row per count;
/// the figures as JSON.
fn serve_under_load(
    plugin: &Plugin,
    target: &str,
    label: &str,
    args: &Args,
    rows: &mut Vec<(String, String)>,
) -> Value {
    let server = Server::start(plugin.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let mut serve = Vec::new();
    for &c in &args.connections {
        let mut r = load::run(
            server.addr(),
            target,
            c,
            Duration::from_secs_f64(args.load_seconds),
        );
        let (p50, p99) = (r.percentile(0.50), r.percentile(0.99));
        rows.push((
            format!("{label}, {c} connection(s)"),
            format!(
                "{:.0} req/s, p50 {:.0} µs, p99 {:.0} µs, {} errors",
                r.per_second(),
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6,
                r.errors
            ),
        ));
        serve.push(json!({
            "connections": c,
            "requests_per_s": r.per_second(),
            "p50_us": p50.as_secs_f64() * 1e6,
            "p99_us": p99.as_secs_f64() * 1e6,
            "requests": r.requests,
            "errors": r.errors,
        }));
    }
    Value::Array(serve)
}

fn main() {
    let args = args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // The guests go beside the bench's own build (`CARGO_TARGET_DIR`, else `target`).
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let guests = dify_plugin_host::build::build_plugins(
        &root.join("Cargo.toml"),
        &["duck", "bench-plugin", "raw", "hello-plugin"],
        &target.join("guests"),
    )
    .expect("build the guests");
    let duck_wasm = &guests["duck"];
    let bench_wasm = &guests["bench-plugin"];
    if args.daemon {
        let out = daemon::run(root, duck_wasm, bench_wasm, args.chunks, args.peer.as_ref());
        if let Some(path) = &args.json {
            let _ = std::fs::write(path, serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        return;
    }
    if args.attacks {
        attacks::run(&guests["raw"], duck_wasm);
        return;
    }
    if let Some(package) = &args.package {
        let out = package::run(root, package, duck_wasm, args.runs);
        if let Some(path) = &args.json {
            let _ = std::fs::write(path, serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        return;
    }
    if let Some(requests) = args.soak {
        soak(duck_wasm, requests, args.soak_warmup);
        return;
    }
    let mut out =
        json!({"chunks": args.chunks, "event_bytes": backend::EVENT.len(), "runs": args.runs});
    let mut rows: Vec<(String, String)> = Vec::new();
    let n = args.chunks;

    let (rss_before, _) = memory();
    let runtime = Runtime::new().unwrap();
    let duck = load(&runtime, duck_wasm, Repeat { count: n });
    let bench = load(&runtime, bench_wasm, Repeat { count: n });
    let (rss_loaded, _) = memory();

    if args.wants(1) {
        timed(&duck, "/duck/bench?query=hi"); // warm up
        let seconds = median(
            (0..args.runs)
                .map(|_| {
                    let (s, body) = timed(&duck, "/duck/bench?query=hi");
                    assert_eq!(body.len(), n * (backend::EVENT.len() + " <br>".len()));
                    s
                })
                .collect(),
        );
        out["streaming_chunks_per_s"] = json!(n as f64 / seconds);
        out["streaming_us_per_chunk"] = json!(seconds * 1e6 / n as f64);
        rows.push((
            "1. streaming, Duck pipeline (SDK iterator -> `{json} <br>` -> caller)".into(),
            format!(
                "{:.0} chunks/s = {:.3} µs/chunk",
                n as f64 / seconds,
                seconds * 1e6 / n as f64
            ),
        ));
    }

    if args.wants(2) {
        let target = format!("/floor?n={n}");
        timed(&bench, &target);
        let seconds = median(
            (0..args.runs)
                .map(|_| {
                    let (s, body) = timed(&bench, &target);
                    assert_eq!(body, n.to_string().as_bytes());
                    s
                })
                .collect(),
        );
        out["floor_us_per_next"] = json!(seconds * 1e6 / n as f64);
        out["floor_next_per_s"] = json!(n as f64 / seconds);
        rows.push((
            "2. the floor: bare `next()` of the raw bindings".into(),
            format!(
                "{:.0} calls/s = {:.3} µs/call",
                n as f64 / seconds,
                seconds * 1e6 / n as f64
            ),
        ));
    }

    if args.wants(3) {
        let iterations = 20_000;
        let target = format!("/blocking?n={iterations}");
        timed(&bench, &target);
        let us = median(
            (0..args.runs)
                .map(|_| timed(&bench, &target).0 * 1e6 / iterations as f64)
                .collect(),
        );
        out["blocking_round_trip_us"] = json!(us);
        rows.push((
            "3. blocking invoke round trip, warm instance".into(),
            format!("{us:.2} µs"),
        ));
    }

    if args.wants(4) {
        let requests = 5_000;
        for _ in 0..500 {
            timed(&bench, "/one");
        }
        let us = median(
            (0..args.runs)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..requests {
                        timed(&bench, "/one");
                    }
                    t.elapsed().as_secs_f64() * 1e6 / requests as f64
                })
                .collect(),
        );
        let inline_us = median(
            (0..args.runs)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..requests {
                        let response = bench.request_inline(EndpointRequest::get("/one"));
                        assert_eq!(response.status(), 200);
                        response.bytes().unwrap();
                    }
                    t.elapsed().as_secs_f64() * 1e6 / requests as f64
                })
                .collect(),
        );
        out["per_request_us"] = json!(inline_us);
        out["per_request_worker_us"] = json!(us);
        rows.push((
            "4. per request: fresh instance + endpoint call + 1 blocking invoke (calling thread / handed to a worker thread)".into(),
            format!("{inline_us:.1} µs / {us:.1} µs"),
        ));
    }

    if args.wants(5) {
        let cache = std::env::temp_dir().join(format!("dify-bench-cache-{}", std::process::id()));
        let wasm = std::fs::read(duck_wasm).unwrap();
        let load_ms = |runtime: &Runtime| {
            let t = Instant::now();
            runtime
                .load_bytes("duck", &wasm, PluginConfig::new(Repeat { count: 1 }, "w"))
                .unwrap();
            t.elapsed().as_secs_f64() * 1e3
        };
        let mut compile = Vec::new();
        let mut cached = Vec::new();
        for _ in 0..args.runs {
            let _ = std::fs::remove_dir_all(&cache);
            compile.push(load_ms(&Runtime::with_cache_dir(&cache).unwrap()));
            cached.push(load_ms(&Runtime::with_cache_dir(&cache).unwrap()));
        }
        let _ = std::fs::remove_dir_all(&cache);
        let (compile, cached) = (median(compile), median(cached));
        out["load_compile_ms"] = json!(compile);
        out["load_cached_ms"] = json!(cached);
        rows.push((
            "5. plugin load (compile + link + read routes): compiling / from the cache".into(),
            format!("{compile:.1} ms / {cached:.2} ms"),
        ));
    }

    if args.wants(6) {
        let hold = Hold::default();
        let held = load(&runtime, duck_wasm, hold.clone());
        let (rss_idle, _) = memory();
        let live = 50;
        let responses: Vec<_> = (0..live)
            .map(|_| {
                let held = held.clone();
                std::thread::spawn(move || {
                    held.request(EndpointRequest::get("/duck/x?query=hi"))
                        .bytes()
                })
            })
            .collect();
        hold.wait_for(live);
        let (rss_held, _) = memory();
        hold.release();
        for r in responses {
            r.join().unwrap().unwrap();
        }
        let per_instance = rss_held.saturating_sub(rss_idle) as f64 / live as f64;
        out["rss_with_plugins_mib"] = json!(rss_loaded as f64 / 1024.0);
        out["rss_plugins_added_mib"] = json!(rss_loaded.saturating_sub(rss_before) as f64 / 1024.0);
        out["per_instance_kib"] = json!(per_instance);
        rows.push((
            "6. RSS: host with plugins loaded / added per live instance (50 held)".into(),
            format!(
                "{:.1} MiB / {per_instance:.0} KiB",
                rss_loaded as f64 / 1024.0
            ),
        ));
    }

    if args.wants(7) {
        let size = std::fs::metadata(duck_wasm).map(|m| m.len()).unwrap_or(0);
        out["duck_wasm_bytes"] = json!(size);
        rows.push((
            "7. release Duck guest (.wasm)".into(),
            format!("{size} bytes"),
        ));
    }

    if args.wants(8) {
        let served = load(&runtime, duck_wasm, Repeat { count: 3 });
        let label = "8. serve, Duck (3 events)";
        out["serve"] = serve_under_load(&served, "/duck/bench?query=hi", label, &args, &mut rows);
    }

    if args.wants(9) {
        let hello = load(&runtime, &guests["hello-plugin"], Repeat { count: 0 });
        let label = "9. serve, hello";
        out["serve_hello"] = serve_under_load(&hello, "/hello", label, &args, &mut rows);
    }

    let (_, hwm) = memory();
    out["peak_rss_mib"] = json!(hwm as f64 / 1024.0);
    println!(
        "dify-plugin-bench: {n} events of {} B, median of {} runs",
        backend::EVENT.len(),
        args.runs
    );
    println!("| measure | result |");
    println!("|---|---|");
    for (measure, result) in rows {
        println!("| {measure} | {result} |");
    }
    println!(
        "(peak RSS of the whole run: {:.1} MiB)",
        hwm as f64 / 1024.0
    );
    if let Some(path) = args.json {
        let text = serde_json::to_string_pretty(&out).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("dify-plugin-bench: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
