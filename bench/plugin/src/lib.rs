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

use std::sync::atomic::{AtomicU32, Ordering};

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

dify_plugin::export_endpoints!(Floor, Blocking, One, Residue);
