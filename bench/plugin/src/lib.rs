//! The benchmark's plugin.
//!
//! - `GET /floor?n=N`: opens a chat stream with the raw WIT bindings and calls `next()` N
//!   times, touching nothing: what wasmtime itself costs per event (the floor).
//! - `GET /blocking?n=N`: N blocking chat invokes through the SDK, one after the other.
//! - `GET /one`: one blocking chat invoke, answered with its `answer`.
//! - `GET /residue?pages=N`: what this instance finds of what an earlier request wrote (it
//!   must find nothing: the pool reuses memory slots, `bench/tests/reuse.rs`): a static of the
//!   data segment, and N pages of memory grown past the initial size, which it checks are
//!   zero and then overwrites.
//! - the tool `app_bench` (provider `bench`, declared in `manifest.yaml`, `provider/`,
//!   `tools/`): the Python peer's tool (`../shared/peer/plugin/tools/app_bench.py`) in Rust,
//!   the same app calls and the same JSON message at the end, for `--daemon`'s tool rows.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use dify_plugin::apps::Reply;
use dify_plugin::prelude::*;
use dify_plugin::wit::dify::plugin::apps;

fn count(req: &Request) -> Result<u64, Error> {
    req.query("n")
        .unwrap_or_else(|| "1".into())
        .parse()
        .map_err(|e| Error::bad_request(format!("n must be a count: {e}")))
}

struct Floor;

impl Endpoint for Floor {
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/floor";

    fn invoke(req: Request, _: Values, _: Settings) -> Result<Response, Error> {
        let n = count(&req)?;
        let request = apps::ChatRequest {
            app_id: "bench".into(),
            query: "hi".into(),
            inputs: "{}".into(),
            conversation_id: None,
            files: Vec::new(),
            user: None,
        };
        let stream = apps::stream_chat(&request).map_err(|e| Error::msg(format!("{e:?}")))?;
        let mut seen = 0u64;
        while seen < n {
            match stream.next() {
                Ok(Some(chunk)) => seen += chunk.data.len().min(1) as u64,
                Ok(None) => break,
                Err(e) => return Err(Error::msg(format!("{e:?}"))),
            }
        }
        Ok(Response::text(200, seen.to_string()))
    }
}

struct Blocking;

impl Endpoint for Blocking {
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/blocking";

    fn invoke(req: Request, _: Values, _: Settings) -> Result<Response, Error> {
        let n = count(&req)?;
        let mut bytes = 0;
        for _ in 0..n {
            let reply = session()
                .app()
                .chat()
                .call("bench")
                .query("hi")
                .blocking()?;
            bytes += reply["answer"].as_str().map_or(0, str::len);
        }
        Ok(Response::text(200, bytes.to_string()))
    }
}

struct One;

impl Endpoint for One {
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/one";

    fn invoke(_: Request, _: Values, _: Settings) -> Result<Response, Error> {
        let reply = session()
            .app()
            .chat()
            .call("bench")
            .query("hi")
            .blocking()?;
        Ok(Response::text(
            200,
            reply["answer"].as_str().unwrap_or_default(),
        ))
    }
}

/// A static of the data segment, overwritten by every `/residue` request.
static MARK: AtomicU32 = AtomicU32::new(0x5eed);

struct Residue;

impl Endpoint for Residue {
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/residue";

    fn invoke(req: Request, _: Values, _: Settings) -> Result<Response, Error> {
        let pages: usize = req
            .query("pages")
            .unwrap_or_else(|| "1".into())
            .parse()
            .map_err(|e| Error::bad_request(format!("pages must be a count: {e}")))?;
        let mark = MARK.swap(0xdead, Ordering::Relaxed);
        let dirty = grow_and_scribble(pages)?;
        Ok(Response::text(
            200,
            format!("mark {mark:#x}, {dirty} dirty words"),
        ))
    }
}

/// Grow memory by `pages`, count the words of them that are not zero, and fill them all.
#[cfg(target_arch = "wasm32")]
fn grow_and_scribble(pages: usize) -> Result<usize, Error> {
    const PAGE: usize = 64 << 10;
    let first = core::arch::wasm32::memory_grow(0, pages);
    if first == usize::MAX {
        return Err(Error::msg("memory.grow was refused"));
    }
    let words = (pages * PAGE) / 8;
    let base = (first * PAGE) as *mut u64;
    let mut dirty = 0;
    for i in 0..words {
        // SAFETY: the pages were just added to this instance's memory by `memory.grow`, and
        // nothing else (the allocator included) knows of them.
        unsafe {
            let word = base.add(i);
            dirty += usize::from(word.read_volatile() != 0);
            word.write_volatile(0xa5a5_a5a5_a5a5_a5a5);
        }
    }
    Ok(dirty)
}

// Only a component has linear memory to grow; a native build of the workspace must still link.
#[cfg(not(target_arch = "wasm32"))]
fn grow_and_scribble(_: usize) -> Result<usize, Error> {
    Err(Error::msg("only in wasm"))
}

/// The peer's `app_bench` tool. Parameters, all optional (its YAML declares none, as the
/// peer's does, so the host checks none): `mode` (`stream`, `blocking` or `error`), `app`
/// (`chat`, `workflow` or `completion`), `tag` (the app id is `app-<tag>`), `iterations` (the
/// blocking calls, 200 by default). It answers with one JSON message:
///
/// - `stream`: one streaming call, each event parsed (the peer's SDK makes each a dict; here
///   into a struct of the one field read, [`Piece`], as a Rust plugin reads events) and its
///   `answer` counted: `chunks`, `answer_bytes`, `last_event`, `t_first_s`, `t_total_s`,
///   `t_stream_s`, as the peer's;
/// - `blocking`: `iterations` blocking calls one after the other: `lat_s` (each one's
///   seconds) and `last_result`;
/// - `error`: a streaming call expected to fail: `raised` and `message`.
///
/// For the peer's `maxrss_kib_*` (the process's peak RSS, which a component cannot see) it
/// gives `memory_kib_*`: the size of its linear memory (and `maxrss_kib_after` as null, for
/// the peer's driver, which reads that key).
struct AppBench;

/// What `app_bench` reads of an event: its `answer` (the peer's `ev["answer"]`).
#[derive(serde::Deserialize)]
struct Piece {
    #[serde(default)]
    answer: String,
}

impl Tool for AppBench {
    const NAME: &'static str = "app_bench";
    /// Read by hand, as the peer's `tool_parameters.get(name, default)`.
    type Parameters = Value;

    fn invoke(params: Value, _: &ToolCall, out: &mut Messages) -> Result<(), Error> {
        let text = |name: &str, default: &'static str| -> String {
            match params.get(name) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => default.to_owned(),
                Some(other) => other.to_string(),
            }
        };
        let (mode, app, tag) = (
            text("mode", "stream"),
            text("app", "chat"),
            text("tag", "x"),
        );
        let memory_before = memory_kib();
        match mode.as_str() {
            "stream" => {
                let start = Instant::now();
                let events = app_call(&app, ResponseMode::Streaming, &tag)?.into_stream()?;
                let (mut chunks, mut answer_bytes) = (0u64, 0usize);
                let mut first = None;
                let mut last = None;
                for event in events {
                    let event = event?;
                    first.get_or_insert_with(|| start.elapsed());
                    chunks += 1;
                    answer_bytes += event.parse::<Piece>()?.answer.len();
                    last = Some(event);
                }
                let last = last.map(|event| event.to_value()).transpose()?;
                let total = start.elapsed();
                out.json(&json!({
                    "mode": mode,
                    "app": app,
                    "chunks": chunks,
                    "answer_bytes": answer_bytes,
                    "last_event": last,
                    "t_first_s": first.map(|t| t.as_secs_f64()),
                    "t_total_s": total.as_secs_f64(),
                    "t_stream_s": first.map(|t| (total - t).as_secs_f64()),
                    "memory_kib_before": memory_before,
                    "memory_kib_after": memory_kib(),
                    "maxrss_kib_after": null,
                }))
            }
            "blocking" => {
                let iterations = match params.get("iterations") {
                    Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0) as u64,
                    Some(Value::String(s)) => s.parse().map_err(|e| {
                        Error::bad_request(format!("iterations must be a count: {e}"))
                    })?,
                    _ => 200,
                };
                let mut lat_s = Vec::with_capacity(iterations as usize);
                let mut last = Value::Null;
                for i in 0..iterations {
                    let start = Instant::now();
                    let tag = format!("{tag}-{i}");
                    last = app_call(&app, ResponseMode::Blocking, &tag)?.into_blocking()?;
                    lat_s.push(start.elapsed().as_secs_f64());
                }
                out.json(&json!({
                    "mode": mode,
                    "app": app,
                    "iterations": iterations,
                    "lat_s": lat_s,
                    "last_result": last,
                    "memory_kib_after": memory_kib(),
                }))
            }
            "error" => {
                let run = || -> Result<(), Error> {
                    for event in app_call(&app, ResponseMode::Streaming, &tag)?.into_stream()? {
                        event?;
                    }
                    Ok(())
                };
                match run() {
                    Ok(()) => out.json(&json!({"mode": mode, "raised": null})),
                    Err(e) => out.json(&json!({
                        "mode": mode,
                        "raised": "Error",
                        "message": e.to_string(),
                    })),
                }
            }
            other => Err(Error::bad_request(format!("unknown mode {other}"))),
        }
    }
}

/// The peer's `_call`: the app `app-<tag>` of kind `app`, with its query, inputs and user.
fn app_call(app: &str, mode: ResponseMode, tag: &str) -> Result<Reply, Error> {
    let id = format!("app-{tag}");
    let inputs = json!({"k": "v"});
    match app {
        "chat" => session()
            .app()
            .chat()
            .call(&id)
            .query("hello")
            .inputs(inputs)
            .user("bench-user")
            .invoke(mode),
        "workflow" => session()
            .app()
            .workflow()
            .call(&id)
            .inputs(inputs)
            .user("bench-user")
            .invoke(mode),
        "completion" => session()
            .app()
            .completion()
            .call(&id)
            .inputs(inputs)
            .user("bench-user")
            .invoke(mode),
        other => Err(Error::bad_request(format!("unknown app {other}"))),
    }
}

/// The size of this instance's linear memory, in KiB.
#[cfg(target_arch = "wasm32")]
fn memory_kib() -> usize {
    core::arch::wasm32::memory_size(0) * 64
}

#[cfg(not(target_arch = "wasm32"))]
fn memory_kib() -> usize {
    0
}

dify_plugin::export_plugin!(endpoints: [Floor, Blocking, One, Residue], tools: [AppBench]);
