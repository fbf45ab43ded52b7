//! The end-to-end tests' probe plugin.
//!
//! `POST /call` performs the app call its JSON body describes and answers, as JSON, exactly
//! what the SDK gave back: the blocking reply, the streamed events (all, or the first `take`,
//! after which the stream is dropped), or the error with its kind, Dify's words and its text.
//!
//! Other paths misbehave on purpose: `/panic`, `/panic-mid-stream`, `/loop`, `/hog`, `/bad-request`,
//! `/streams` (opens app streams until the host refuses).
//! `/echo` answers with the request as the plugin saw it.
//! `/ambient` reports what the sandbox lets it see (environment, files).

use dify_plugin::apps::{AppKind, Reply};
use dify_plugin::error::AppErrorKind;
use dify_plugin::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Call {
    interface: String,
    mode: String,
    app_id: String,
    #[serde(default)]
    query: String,
    #[serde(default = "empty_object")]
    inputs: Value,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    files: Vec<Value>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    take: Option<usize>,
}

fn empty_object() -> Value {
    json!({})
}

/// Every path, by GET and by POST (two endpoints sharing one handler).
struct ProbeGet;
struct ProbePost;

impl Endpoint for ProbeGet {
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/<path:what>";

    fn invoke(req: Request, values: Values, _settings: Settings) -> Result<Response, Error> {
        probe(req, values)
    }
}

impl Endpoint for ProbePost {
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/<path:what>";

    fn invoke(req: Request, values: Values, _settings: Settings) -> Result<Response, Error> {
        probe(req, values)
    }
}

fn probe(req: Request, values: Values) -> Result<Response, Error> {
    match values.get("what")? {
        "call" => Response::json(200, &call(req.json()?)),
        "panic" => panic!("the probe panics on purpose"),
        "panic-mid-stream" => Ok(Response::stream(
            200,
            "text/plain",
            (0..3).map(|i| {
                if i > 0 {
                    // Send the line before this one now rather than with a later batch:
                    // a panic aborts the instance, and what is buffered then is lost.
                    dify_plugin::endpoint::flush();
                }
                if i == 2 {
                    panic!("the probe panics mid-stream");
                }
                Ok(format!("line {i}\n"))
            }),
        )),
        "hog" => {
            // Allocate until the host's memory limit stops us.
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "bad-request" => Err(Error::bad_request("the probe wants a better request")),
        "streams" => {
            let mut open = Vec::new();
            loop {
                match session()
                    .app()
                    .workflow()
                    .call(&req.query("app_id").unwrap_or_default())
                    .inputs(json!({"name": "n"}))
                    .stream()
                {
                    Ok(events) => open.push(events),
                    Err(e) => {
                        return Response::json(
                            200,
                            &json!({"opened": open.len(), "error": e.to_string()}),
                        );
                    }
                }
            }
        }
        "ambient" => Response::json(
            200,
            &json!({
                "env": std::env::vars().count(),
                "args": std::env::args().count(),
                "root_dir_readable": std::fs::read_dir("/").is_ok(),
            }),
        ),
        "log" => {
            log::info!("probe says hello");
            Ok(Response::text(200, "logged"))
        }
        "echo" => Response::json(
            200,
            &json!({
                "method": req.method(),
                "path": req.path(),
                "query": req.query_string(),
                "values": values.iter().collect::<Vec<_>>(),
                "headers": req.headers(),
                "body": req.text()?,
            }),
        ),
        other => Ok(Response::text(404, format!("no probe at {other}"))),
    }
}

fn call(c: Call) -> Value {
    let mode = if c.mode == "blocking" {
        ResponseMode::Blocking
    } else {
        ResponseMode::Streaming
    };
    let apps = session().app();
    let reply = match c.interface.as_str() {
        "chat" => {
            let mut call = apps
                .chat()
                .call(&c.app_id)
                .query(c.query)
                .inputs(c.inputs)
                .files(c.files);
            if let Some(id) = c.conversation_id {
                call = call.conversation_id(id);
            }
            if let Some(user) = c.user {
                call = call.user(user);
            }
            call.invoke(mode)
        }
        "workflow" => apps.workflow().invoke(&c.app_id, c.inputs, mode, c.files),
        "completion" => apps.completion().invoke(&c.app_id, c.inputs, mode, c.files),
        other => return json!({"probe_error": format!("unknown interface {other}")}),
    };
    match reply {
        Ok(Reply::Blocking(value)) => json!({"reply": value}),
        Ok(Reply::Streaming(events)) => {
            let limit = c.take.unwrap_or(usize::MAX);
            let mut seen = Vec::new();
            let mut failure = Value::Null;
            for event in events.take(limit) {
                match event {
                    // `raw` keeps Dify's key order, which `data` (a parsed Value) does not.
                    Ok(e) => seen.push(json!({
                        "name": e.name(),
                        "data": e.to_value().unwrap_or(Value::Null),
                        "raw": e.as_json(),
                    })),
                    Err(e) => failure = describe(&e),
                }
            }
            json!({"events": seen, "stream_error": failure})
        }
        Err(e) => json!({"error": describe(&e)}),
    }
}

fn describe(e: &Error) -> Value {
    let (kind, dify) = match e.app_error() {
        Some(AppErrorKind::InvalidRequest(d)) => ("invalid-request", Some(d)),
        Some(AppErrorKind::NotFound(d)) => ("not-found", Some(d)),
        Some(AppErrorKind::RateLimited(d)) => ("rate-limited", Some(d)),
        Some(AppErrorKind::AppFailed(d)) => ("app-failed", Some(d)),
        Some(AppErrorKind::PermissionDenied(_)) => ("permission-denied", None),
        Some(AppErrorKind::Timeout(_)) => ("timeout", None),
        Some(AppErrorKind::Cancelled) => ("cancelled", None),
        Some(AppErrorKind::Internal(_)) => ("internal", None),
        Some(_) => ("other-app-error", None),
        None => ("sdk", None),
    };
    let app_kind = match e {
        Error::App { app, .. } => match app.kind() {
            AppKind::Chat => "chat",
            AppKind::Workflow => "workflow",
            AppKind::Completion => "completion",
        },
        _ => "",
    };
    json!({
        "kind": kind,
        "app_kind": app_kind,
        "status": dify.map(|d| d.status),
        "code": dify.map(|d| d.code.clone()),
        "message": dify.map(|d| d.message.clone()),
        "display": e.to_string(),
    })
}

dify_plugin::export_endpoints!(ProbeGet, ProbePost);
