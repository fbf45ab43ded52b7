//! A test plugin written on the raw wit-bindgen bindings instead of the SDK, so that it can do
//! what the SDK prevents (bad heads, forged handles, blocking in odd places) and attack the host.
//!
//! GET and POST `/<path:what>`, dispatched on the path; query values are `key=value&...`,
//! taken as they are (no percent-decoding):
//!
//! - `/sleep?ms=N`: sleep, then 200 `slept`.
//! - `/sleep-after-head?ms=N`: head 200, `a`, sleep, `b`.
//! - `/chat-loop?app=ID&n=N`: `invoke-chat` N times (results ignored), then 200 with N.
//! - `/headers?n=N&len=L`: 200 with headers `x-h-<i>` of L bytes each, body `ok`.
//! - `/status?code=C`: status C, body `ok`.
//! - `/te`: `transfer-encoding: gzip`, body `ok`.
//! - `/two-lengths`: `content-length: 2` and `content-length: 3`, body `ok`.
//! - `/length?value=V`: `content-length: V`, body `ok`.
//! - `/big?mib=M&piece_kib=K`: M MiB of body in pieces of K KiB (default 1024).
//! - `/stream?n=N&ms=D`: N lines `chunk <i>`, each after a D ms sleep.
//! - `/echo`: the request body.
//! - `/wrong-handle?handle=H`: `send-head` on a forged response-writer handle (default a
//!   bogus number), then 200 with what that call returned, if it returns at all.
//! - anything else: 404 `unknown`.

use std::mem::ManuallyDrop;
use std::str::FromStr;
use std::time::Duration;

use dify::plugin::apps::{self, ChatRequest};
use dify::plugin::http::{Request, ResponseHead, ResponseWriter, WriteError};
use exports::dify::plugin::endpoint::{Guest, HandlerError, Route};

// Built against the released 0.1.1 contract (`tests/wit-0.1.1/`): a component of an
// older 0.1.x, which the host must keep serving.
wit_bindgen::generate!({ path: "../../wit-0.1.1", world: "plugin" });

struct Raw;

impl Guest for Raw {
    fn routes() -> Vec<Route> {
        ["GET", "POST"]
            .into_iter()
            .map(|method| Route {
                method: method.into(),
                path: "/<path:what>".into(),
            })
            .collect()
    }

    fn handle(req: Request, out: &ResponseWriter) -> Result<(), HandlerError> {
        let q = req.query.as_str();
        let outcome = match req.path.as_str() {
            "/sleep" => sleep(out, q),
            "/sleep-after-head" => sleep_after_head(out, q),
            "/chat-loop" => chat_loop(out, q),
            "/headers" => headers(out, q),
            "/status" => status(out, q),
            "/te" => ok_with(out, &[("transfer-encoding", "gzip")]),
            "/two-lengths" => ok_with(out, &[("content-length", "2"), ("content-length", "3")]),
            "/length" => ok_with(out, &[("content-length", param(q, "value").unwrap_or(""))]),
            "/big" => big(out, q),
            "/stream" => stream(out, q),
            "/echo" => respond(out, 200, &[], &req.body),
            "/wrong-handle" => wrong_handle(out, q),
            _ => respond(out, 404, &[], b"unknown"),
        };
        match outcome {
            Ok(()) => Ok(()),
            // The caller left: nothing to tell anyone, end quietly.
            Err(Stop::Write(WriteError::Closed)) => Ok(()),
            Err(Stop::Write(e)) => Err(HandlerError::Internal(format!("{e:?}"))),
            Err(Stop::BadRequest(why)) => Err(HandlerError::BadRequest(why)),
        }
    }
}

/// Why an endpoint stopped early.
enum Stop {
    Write(WriteError),
    BadRequest(String),
}

impl From<WriteError> for Stop {
    fn from(e: WriteError) -> Self {
        Stop::Write(e)
    }
}

type Outcome = Result<(), Stop>;

fn param<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(k, v)| (k == key).then_some(v))
}

/// A numeric query value; `default` applies only when the key is absent.
fn number<T: FromStr>(query: &str, key: &str, default: Option<T>) -> Result<T, Stop> {
    match param(query, key) {
        Some(v) => v
            .parse()
            .map_err(|_| Stop::BadRequest(format!("{key} is not a number: {v}"))),
        None => default.ok_or_else(|| Stop::BadRequest(format!("{key} is missing"))),
    }
}

fn sleep_ms(ms: u64) {
    // On wasm32-wasip2 this is a wasi:clocks monotonic-clock poll: the host sees a guest blocked
    // in an import, not one spinning.
    std::thread::sleep(Duration::from_millis(ms));
}

fn head(out: &ResponseWriter, status: u16, headers: &[(&str, &str)]) -> Outcome {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(out.send_head(&ResponseHead { status, headers })?)
}

fn respond(out: &ResponseWriter, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Outcome {
    head(out, status, headers)?;
    Ok(out.write(body)?)
}

fn ok_with(out: &ResponseWriter, headers: &[(&str, &str)]) -> Outcome {
    respond(out, 200, headers, b"ok")
}

fn sleep(out: &ResponseWriter, q: &str) -> Outcome {
    sleep_ms(number(q, "ms", None)?);
    respond(out, 200, &[], b"slept")
}

fn sleep_after_head(out: &ResponseWriter, q: &str) -> Outcome {
    let ms = number(q, "ms", None)?;
    head(out, 200, &[])?;
    out.write(b"a")?;
    sleep_ms(ms);
    Ok(out.write(b"b")?)
}

fn chat_loop(out: &ResponseWriter, q: &str) -> Outcome {
    let app = param(q, "app").unwrap_or("");
    let n: u64 = number(q, "n", None)?;
    let req = ChatRequest {
        app_id: app.into(),
        query: "hi".into(),
        inputs: "{}".into(),
        conversation_id: None,
        files: Vec::new(),
        user: None,
    };
    for _ in 0..n {
        let _ = apps::invoke_chat(&req);
    }
    respond(out, 200, &[], n.to_string().as_bytes())
}

fn headers(out: &ResponseWriter, q: &str) -> Outcome {
    let n: usize = number(q, "n", None)?;
    let value = "a".repeat(number(q, "len", None)?);
    let headers = (0..n)
        .map(|i| (format!("x-h-{i}"), value.clone()))
        .collect();
    out.send_head(&ResponseHead {
        status: 200,
        headers,
    })?;
    Ok(out.write(b"ok")?)
}

fn status(out: &ResponseWriter, q: &str) -> Outcome {
    respond(out, number(q, "code", None)?, &[], b"ok")
}

fn big(out: &ResponseWriter, q: &str) -> Outcome {
    let total = number::<u64>(q, "mib", None)?.saturating_mul(1 << 20);
    let piece_kib: usize = number(q, "piece_kib", Some(1024))?;
    if piece_kib == 0 {
        return Err(Stop::BadRequest("piece_kib must be at least 1".into()));
    }
    let piece = vec![b'z'; piece_kib << 10];
    head(out, 200, &[("content-type", "application/octet-stream")])?;
    let mut sent = 0u64;
    while sent < total {
        // Compare as u64: usize is 32 bits here, and a large remainder must not truncate.
        let len = (total - sent).min(piece.len() as u64) as usize;
        out.write(&piece[..len])?;
        sent += len as u64;
    }
    Ok(())
}

fn stream(out: &ResponseWriter, q: &str) -> Outcome {
    let n: u64 = number(q, "n", None)?;
    let ms = number(q, "ms", None)?;
    head(out, 200, &[])?;
    for i in 0..n {
        sleep_ms(ms);
        out.write(format!("chunk {i}\n").as_bytes())?;
    }
    Ok(())
}

fn wrong_handle(out: &ResponseWriter, q: &str) -> Outcome {
    let bogus: u32 = number(q, "handle", Some(0x0bad_f00d))?;
    // SAFETY (as far as the guest goes): nothing in this instance owns `bogus`, and
    // `ManuallyDrop` keeps us from dropping a resource we never had. Whether the host tolerates
    // the call is exactly what is being tested.
    let forged = ManuallyDrop::new(unsafe { ResponseWriter::from_handle(bogus) });
    let got = forged.send_head(&ResponseHead {
        status: 299,
        headers: Vec::new(),
    });
    let report = format!("forged handle {bogus} (real {}): {got:?}", out.handle());
    respond(out, 200, &[], report.as_bytes())
}

// Only a component has these exports; a native build of the workspace must still link.
#[cfg(target_arch = "wasm32")]
export!(Raw);
#[cfg(not(target_arch = "wasm32"))]
const _: () = {
    let _ = <Raw as Guest>::handle;
    let _ = <Raw as Guest>::routes;
};
