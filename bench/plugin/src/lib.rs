//! The benchmark's plugin.
//!
//! - `GET /floor?n=N`: opens a chat stream with the raw WIT bindings and calls `next()` N
//!   times, touching nothing: what wasmtime itself costs per event (the floor).
//! - `GET /blocking?n=N`: N blocking chat invokes through the SDK, one after the other.
//! - `GET /one`: one blocking chat invoke, answered with its `answer`.

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

dify_plugin::export_endpoints!(Floor, Blocking, One);
