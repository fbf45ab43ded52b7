//! Duck: the canonical Dify endpoint plugin, in Rust.
//!
//! `GET /duck/<app_id>?query=...` invokes the chat app `app_id` in streaming mode and sends
//! each event back as it arrives, as one `{json} <br>` line, with `Content-Type: text/html`,
//! exactly as the Python example in Dify's documentation does.

use dify_plugin::prelude::*;

struct Duck;

impl Endpoint for Duck {
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/duck/<app_id>";

    fn invoke(req: Request, values: Values, _settings: Settings) -> Result<Response, Error> {
        // The app comes from the path pattern `/duck/<app_id>`.
        let app_id = values.get("app_id")?;
        // Dify needs a query for chat apps; take it from `?query=` or say hello.
        let query = req
            .query("query")
            .unwrap_or_else(|| "Hello, duck!".to_owned());
        let conversation_id = req.query("conversation_id");

        let events = session()
            .app()
            .chat()
            .invoke(
                app_id,
                &query,
                json!({}),
                ResponseMode::Streaming,
                conversation_id.as_deref(),
                vec![],
            )?
            .into_stream()?;

        // Each event goes out as soon as it arrives; its JSON text is forwarded untouched.
        Ok(Response::stream(
            200,
            "text/html",
            events.map(|event| Ok(format!("{} <br>", event?))),
        ))
    }
}

dify_plugin::export_endpoints!(Duck);
