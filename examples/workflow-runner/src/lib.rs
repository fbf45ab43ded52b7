//! Workflow runner: `POST /workflow/<app_id>` with the workflow's inputs as a JSON object.
//!
//! - `?mode=blocking` (the default, as in Dify's Python SDK) answers the run's result as JSON:
//!   `{"task_id", "workflow_run_id", "data": {"status", "outputs", ...}}`.
//! - `?mode=streaming` relays the run's events as Server-Sent Events, `data: {json}\n\n`.

use dify_plugin::prelude::*;

struct WorkflowRunner;

impl Endpoint for WorkflowRunner {
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/workflow/<app_id>";

    fn invoke(req: Request, values: Values, _settings: Settings) -> Result<Response, Error> {
        let app_id = values.get("app_id")?;
        let inputs: Value = if req.body().is_empty() {
            json!({})
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

        let reply = session()
            .app()
            .workflow()
            .invoke(app_id, inputs, mode, vec![])?;
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
