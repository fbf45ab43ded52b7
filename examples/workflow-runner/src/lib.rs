//! Workflow runner: `POST /workflow/<app_id>` with the workflow's inputs as a JSON object.
//!
//! - `?mode=blocking` (the default, as in Dify's Python SDK) answers the run's result as JSON:
//!   `{"task_id", "workflow_run_id", "data": {"status", "outputs", ...}}`.
//! - `?mode=streaming` relays the run's events as Server-Sent Events, `data: {json}\n\n`.

use dify_plugin::prelude::*;
use serde_json::Map;

struct WorkflowRunner;

impl Endpoint for WorkflowRunner {
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/workflow/<app_id>";

    fn invoke(req: Request, values: Values, _settings: Settings) -> Result<Response, Error> {
        let app_id = values.get("app_id")?;
        // The workflow's inputs: a JSON object (none at all is `{}`), or a 400 that says why not.
        let inputs: Map<String, Value> = if req.body().is_empty() {
            Map::new()
        } else {
            req.json()?
        };
        let mode = match req.query("mode").as_deref() {
            None | Some("blocking") => ResponseMode::Blocking,
            Some("streaming") => ResponseMode::Streaming,
            Some(other) => {
                return Err(Error::bad_request(format!(
                    "mode must be 'blocking' or 'streaming', got '{other}'"
                )));
            }
        };

        let reply =
            session()
                .app()
                .workflow()
                .invoke(app_id, Value::Object(inputs), mode, vec![])?;
        match mode {
            ResponseMode::Blocking => Response::json(200, &reply.into_blocking()?),
            ResponseMode::Streaming => {
                let events = reply.into_stream()?;
                Ok(Response::stream(
                    200,
                    "text/event-stream",
                    events.map(|event| Ok(format!("data: {}\n\n", event?))),
                ))
            }
        }
    }
}

dify_plugin::export_endpoints!(WorkflowRunner);
