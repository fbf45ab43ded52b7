//! Completion writer: `POST /complete/<app_id>` with the app's inputs as a JSON object.
//!
//! - `?mode=streaming` (the default here) streams only the answer text, piece by piece, by
//!   reading the typed view of each event and keeping the `message` pieces.
//! - `?mode=blocking` waits for the whole answer and returns it as plain text.
//!
//! The builder form of the call is used here (`call(app_id).inputs(..).user(..)`).

use dify_plugin::prelude::*;
use serde_json::Map;

struct CompletionWriter;

impl Endpoint for CompletionWriter {
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/complete/<app_id>";

    fn invoke(req: Request, values: Values, _settings: Settings) -> Result<Response, Error> {
        let app_id = values.get("app_id")?;
        // The app's inputs: a JSON object, or a 400 that says why not.
        let inputs: Map<String, Value> = req.json()?;
        let call = session()
            .app()
            .completion()
            .call(app_id)
            .inputs(Value::Object(inputs))
            .user("completion-writer");

        if req.query("mode").as_deref() == Some("blocking") {
            let reply = call.blocking()?;
            let answer = reply["answer"].as_str().unwrap_or_default().to_owned();
            log::info!("completion app {app_id} answered {} bytes", answer.len());
            return Ok(Response::text(200, answer));
        }

        let pieces = call
            .stream()?
            .filter_map(|event| match event.and_then(|e| e.kind()) {
                Ok(EventKind::Message(chunk)) => Some(Ok(chunk.answer)),
                // A failure of the run itself arrives as an `error` event: end the body with it.
                Ok(EventKind::Error(e)) => Some(Err(Error::msg(format!(
                    "the app failed: {} ({})",
                    e.message, e.code
                )))),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            });
        Ok(Response::stream(200, "text/plain; charset=utf-8", pieces))
    }
}

dify_plugin::export_endpoints!(CompletionWriter);
