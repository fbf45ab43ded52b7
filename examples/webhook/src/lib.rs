//! Webhook: trigger a workflow or chatflow app of the workspace with an HTTP `POST`, a Rust
//! port of the Python plugin `perzeuss/dify-plugin-webhook` 0.5.1.
//!
//! Four routes, one per Dify endpoint file of the original, all handled by `handle`:
//!
//! | route | app | app id from |
//! |---|---|---|
//! | `POST /workflow/<app_id>` | workflow | the path |
//! | `POST /chatflow/<app_id>` | chat (chatflow, chatbot) | the path |
//! | `POST /single-workflow` | workflow | the `static_app_id` setting |
//! | `POST /single-chatflow` | chat | the `static_app_id` setting |
//!
//! A request goes through the original's steps in the original's order, because that order
//! is observable (a bad key with a broken body is a 403, not a 400):
//!
//! 1. the middleware: Discord's signature check and its ping and ack replies
//!    (`discord.rs`), then `json_string_input` (`python_json.rs`);
//! 2. the API key (`auth.rs`);
//! 3. the JSON body, the app id, the inputs, and for chat routes `query` and
//!    `conversation_id` (`body.rs`);
//! 4. one blocking app call, whose answer goes back as JSON.
//!
//! Every answer the plugin makes itself is JSON, `{"error": "..."}` for errors. A failed app
//! call is returned as the handler's error, so the host answers 500 with Dify's message, as
//! the Python SDK does. `README.md` lists where this port answers differently, and why.

mod auth;
mod body;
mod config;
mod discord;
mod python_json;

use dify_plugin::prelude::*;

use crate::config::Config;

/// Which app interface a route calls.
#[derive(Clone, Copy)]
enum AppType {
    Workflow,
    Chat,
}

/// Where a route takes its app id from.
#[derive(Clone, Copy)]
enum AppId {
    /// The path value `app_id`: every app of the workspace is reachable, unless
    /// `static_app_id` is set, which turns these routes off.
    Path,
    /// The `static_app_id` setting: only that app is reachable.
    Setting,
}

/// Why a request ends before (or instead of) the app's answer.
enum Halt {
    /// The plugin answers itself: an error as JSON, a Discord reply, an empty 404.
    Answer(Response),
    /// The app call failed: the host answers 500 with the SDK's message.
    Failed(Error),
}

impl From<Error> for Halt {
    fn from(e: Error) -> Self {
        Halt::Failed(e)
    }
}

/// `{"error": message}` with this status, the original's shape for every error it makes.
fn error(status: u16, message: impl Into<String>) -> Halt {
    Halt::Answer(json_response(status, &json!({ "error": message.into() })))
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::full(status, "application/json", body.to_string())
}

/// The original's answer when the route's app is not the one this endpoint exposes: 404,
/// `application/json`, no body.
fn not_exposed() -> Halt {
    Halt::Answer(Response::new(404).header("content-type", "application/json"))
}

/// The request handling all four routes share.
fn handle(
    app: AppType,
    app_id: AppId,
    req: &Request,
    values: &Values,
    settings: &Settings,
) -> Result<Response, Error> {
    match run(app, app_id, req, values, settings) {
        Ok(response) | Err(Halt::Answer(response)) => Ok(response),
        Err(Halt::Failed(e)) => Err(e),
    }
}

fn run(
    app: AppType,
    app_id: AppId,
    req: &Request,
    values: &Values,
    settings: &Settings,
) -> Result<Response, Halt> {
    let config = Config::read(settings).map_err(|message| error(500, message))?;

    // 1. The middleware. Both parts read the body themselves, before the key is checked.
    let mut parsed = None;
    if let Some(key) = &config.discord_key {
        if !discord::verified(key, req) {
            return Err(error(401, "invalid request signature"));
        }
        let interaction = body::parse(req)?;
        if let Some(reply) = discord::reply(&interaction) {
            return Ok(reply);
        }
        parsed = Some(interaction);
    }
    if config.json_string_input {
        parsed = Some(json!({ "json_string": body::python_json_text(req)? }));
    }

    // 2. The API key.
    auth::check(&config, req)?;

    // 3. The body, the app and its inputs.
    let body = match parsed {
        Some(body) => body,
        None => body::parse(req)?,
    };
    let id = match app_id {
        AppId::Path => values.get("app_id")?,
        AppId::Setting => config.static_app_id.as_deref().ok_or_else(not_exposed)?,
    };
    let mut parts = body::split(body, config.explicit_inputs)?;
    if matches!(app_id, AppId::Path) && config.static_app_id.is_some() {
        return Err(not_exposed());
    }

    // 4. The app call, always blocking, as in the original.
    let answer = match app {
        AppType::Chat => {
            let chat = parts.chat_params()?;
            let mut call = session()
                .app()
                .chat()
                .call(id)
                .query(chat.query)
                .inputs(Value::Object(parts.inputs));
            if let Some(conversation_id) = chat.conversation_id {
                call = call.conversation_id(conversation_id);
            }
            call.blocking()?
        }
        AppType::Workflow => {
            let mut reply = session()
                .app()
                .workflow()
                .call(id)
                .inputs(Value::Object(parts.inputs))
                .blocking()?;
            if config.raw_data_output {
                reply
                    .pointer_mut("/data/outputs")
                    .map(Value::take)
                    .unwrap_or_default()
            } else {
                reply
            }
        }
    };
    // What Python's `if not response` refuses: a failed run's raw outputs are `{}`.
    if answer.is_null() || answer.as_object().is_some_and(|o| o.is_empty()) {
        return Err(error(500, "Failed to get response"));
    }
    Ok(json_response(200, &answer))
}

/// One endpoint type per route of the original (Dify declares one endpoint file each), all
/// `POST`, all handled by `handle`.
macro_rules! route {
    ($(#[$doc:meta])* $name:ident, $path:literal, $app:expr, $app_id:expr) => {
        $(#[$doc])*
        struct $name;

        impl Endpoint for $name {
            const METHOD: &'static str = "POST";
            const PATH: &'static str = $path;

            fn invoke(req: Request, values: Values, settings: Settings) -> Result<Response, Error> {
                handle($app, $app_id, &req, &values, &settings)
            }
        }
    };
}

route!(
    /// Any workflow app of the workspace, by id.
    DynamicWorkflow,
    "/workflow/<app_id>",
    AppType::Workflow,
    AppId::Path
);
route!(
    /// Any chat app of the workspace (chatflow or chatbot), by id.
    DynamicChatflow,
    "/chatflow/<app_id>",
    AppType::Chat,
    AppId::Path
);
route!(
    /// The workflow app chosen in the `static_app_id` setting.
    StaticWorkflow,
    "/single-workflow",
    AppType::Workflow,
    AppId::Setting
);
route!(
    /// The chat app chosen in the `static_app_id` setting.
    StaticChatflow,
    "/single-chatflow",
    AppType::Chat,
    AppId::Setting
);

dify_plugin::export_endpoints!(
    DynamicWorkflow,
    DynamicChatflow,
    StaticWorkflow,
    StaticChatflow
);
