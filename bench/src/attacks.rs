//! `--attacks`: the attacks of SECURITY.md repeated at full size against `serve` on loopback,
//! with the host's memory and the answers counted. The tests in `tests/attacks.rs` check the
//! same bounds on a small scale; this gives the figures.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use dify_plugin_host::mock::{DemoApps, MockDify};
use dify_plugin_host::server::Server;
use dify_plugin_host::{EndpointRequest, Limits, Plugin, PluginConfig, Runtime};

use crate::memory;

fn serve(plugin: &Plugin) -> Server {
    Server::start(plugin.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).expect("serve")
}

fn load(runtime: &Runtime, wasm: &Path, limits: Limits) -> Plugin {
    let mut config = PluginConfig::new(MockDify::demo().expect("demo"), DemoApps::TENANT);
    config.limits = limits;
    runtime.load(wasm, config).expect("load")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The status of one request on a fresh connection (0 if none came).
fn status(addr: SocketAddr, target: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return 0;
    };
    let request = format!("GET {target} HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut head = [0u8; 12];
    if stream.read_exact(&mut head).is_err() {
        return 0;
    }
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Raise this process's file-descriptor limit to its hard limit (10,000 connections need two
/// descriptors each here: both ends live in this process).
fn raise_fd_limit() -> u64 {
    #[repr(C)]
    struct Rlimit {
        cur: u64,
        max: u64,
    }
    unsafe extern "C" {
        fn getrlimit(resource: i32, rlim: *mut Rlimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const Rlimit) -> i32;
    }
    const RLIMIT_NOFILE: i32 = 7;
    let mut limit = Rlimit { cur: 0, max: 0 };
    // SAFETY: plain libc calls on a struct of the layout they expect (Linux, 64-bit).
    unsafe {
        getrlimit(RLIMIT_NOFILE, &mut limit);
        limit.cur = limit.max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &mut limit);
    }
    limit.cur
}

pub fn run(raw_wasm: &Path, duck_wasm: &Path) {
    let fds = raise_fd_limit();
    let runtime = Runtime::new().expect("runtime");
    println!("attacks against serve on loopback (file-descriptor limit {fds})");
    println!("| attack | held |");
    println!("|---|---|");

    // 1. A sleep far past the deadline.
    let sleeper = load(
        &runtime,
        raw_wasm,
        Limits {
            deadline: Duration::from_secs(1),
            ..Limits::default()
        },
    );
    let started = Instant::now();
    let response = sleeper.request(EndpointRequest::get("/sleep?ms=15000"));
    println!(
        "| `/sleep?ms=15000` under a 1,000 ms deadline | {} after {:.0} ms |",
        response.status(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let started = Instant::now();
    let response = sleeper.request(EndpointRequest::get(&format!(
        "/chat-loop?app={}&n=100000000",
        DemoApps::CHATBOT
    )));
    println!(
        "| a loop of mock `invoke-chat` calls under a 1,000 ms deadline | {} after {:.0} ms |",
        response.status(),
        started.elapsed().as_secs_f64() * 1000.0
    );

    // 2. A flood of sleeping requests: the plugin's slots, then 503s; another plugin served.
    let flooded = load(&runtime, raw_wasm, Limits::default());
    let flooded_server = serve(&flooded);
    let duck = load(&runtime, duck_wasm, Limits::default());
    let duck_server = serve(&duck);
    let flood: Vec<_> = (0..1010)
        .map(|_| {
            let addr = flooded_server.addr();
            std::thread::spawn(move || status(addr, "/sleep?ms=60000"))
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(10);
    while flooded.in_flight() < Limits::default().in_flight && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    let started = Instant::now();
    let duck_status = status(
        duck_server.addr(),
        &format!("/duck/{}?query=hi", DemoApps::CHATBOT),
    );
    let duck_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut counts = std::collections::BTreeMap::new();
    for request in flood {
        *counts.entry(request.join().unwrap_or(0)).or_insert(0) += 1;
    }
    println!(
        "| 1,010 concurrent sleeping requests (deadline 30 s) | statuses {counts:?}; meanwhile another plugin answered {duck_status} in {duck_ms:.1} ms |"
    );
    drop(flooded_server);

    // 3. Clients that never read a 64 MiB body written in 1 MiB pieces.
    let big = load(&runtime, raw_wasm, Limits::default());
    let big_server = serve(&big);
    let (rss_before, _) = memory();
    let stalled: Vec<TcpStream> = (0..64)
        .filter_map(|_| {
            let mut stream = TcpStream::connect(big_server.addr()).ok()?;
            stream
                .write_all(b"GET /big?mib=64&piece_kib=1024 HTTP/1.1\r\nhost: bench\r\n\r\n")
                .ok()?;
            Some(stream)
        })
        .collect();
    let mut peak = rss_before;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(memory().0);
    }
    println!(
        "| 64 clients that never read a 64 MiB body | RSS {:.1} → peak {:.1} MiB over 3 s (+{:.1} MiB, {:.2} MiB per client) |",
        mib(rss_before),
        mib(peak),
        mib(peak - rss_before),
        mib(peak - rss_before) / 64.0
    );
    drop(stalled);
    big.wait_idle(Duration::from_secs(60));
    drop(big_server);

    // 4. Idle connections and half-sent heads.
    let idle_server = serve(&duck);
    let (rss_before, _) = memory();
    let mut open = Vec::new();
    for _ in 0..10_000 {
        let Ok(mut stream) =
            TcpStream::connect_timeout(&idle_server.addr(), Duration::from_secs(3))
        else {
            break;
        };
        let _ = stream.write_all(b"GET /duck/x HTTP/1.1\r\nhost: ");
        open.push(stream);
    }
    std::thread::sleep(Duration::from_secs(1));
    let (rss_open, _) = memory();
    let started = Instant::now();
    let mut closed = 0;
    for stream in &mut open {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        // A read that ends (EOF, or the server's 408 before it) rather than timing out.
        if stream.read(&mut [0; 64]).is_ok() {
            closed += 1;
        }
    }
    let served = status(
        idle_server.addr(),
        &format!("/duck/{}?query=hi", DemoApps::CHATBOT),
    );
    println!(
        "| {} connections with half-sent heads | RSS {:.1} → {:.1} MiB (+{:.1} KiB each); {closed} closed by the server within {:.1} s; then a normal request: {served} |",
        open.len(),
        mib(rss_before),
        mib(rss_open),
        (rss_open - rss_before) as f64 / open.len().max(1) as f64,
        started.elapsed().as_secs_f64()
    );
}
