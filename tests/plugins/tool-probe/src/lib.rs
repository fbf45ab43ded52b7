//! A test tool plugin (`tests/tools.rs`): the provider `probe` accepts the API key `sesame`;
//! `echo` sends one message of each kind, built from its parameters, and reports what it got;
//! `fail` sends one message, then fails in the way its `how` parameter names.

use dify_plugin::prelude::*;
use serde::Deserialize;

struct Probe;

impl Provider for Probe {
    fn validate_credentials(credentials: &Credentials) -> Result<(), Error> {
        match credentials.str("api_key")? {
            "sesame" => Ok(()),
            other => Err(Error::invalid_credentials(format!(
                "the API key '{other}' is not the probe's (it is 'sesame')"
            ))),
        }
    }
}

#[derive(Deserialize)]
struct EchoParams {
    text: String,
    count: f64,
    mode: Option<String>,
    app: Option<AppSelector>,
}

struct Echo;

impl Tool for Echo {
    const NAME: &'static str = "echo";
    type Parameters = EchoParams;

    fn invoke(params: EchoParams, call: &ToolCall, out: &mut Messages) -> Result<(), Error> {
        for _ in 0..params.count as u32 {
            out.text(params.text.clone())?;
        }
        out.json(&json!({
            "text": params.text,
            "count": params.count,
            "mode": params.mode,
            "app": params.app,
            "user_id": call.user_id(),
            "credential_type": call.credential_type(),
            "credentials": call.credentials().as_map().keys().collect::<Vec<_>>(),
        }))?;
        out.send(Message::link("https://dify.ai"))?;
        out.send(Message::image("https://dify.ai/logo.png"))?;
        out.variable("echoed", &params.text)?;
        for piece in params.text.split_inclusive(' ') {
            out.send(Message::variable_piece("streamed", piece))?;
        }
        if params.mode.as_deref() == Some("files") {
            let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
            out.send(Message::blob(bytes, "application/octet-stream"))?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct FailParams {
    how: String,
}

struct Fail;

impl Tool for Fail {
    const NAME: &'static str = "fail";
    type Parameters = FailParams;

    fn invoke(params: FailParams, _: &ToolCall, out: &mut Messages) -> Result<(), Error> {
        out.text("before the failure")?;
        match params.how.as_str() {
            "parameters" => Err(Error::bad_request("the text must not be empty")),
            "credentials" => Err(Error::invalid_credentials("the API key has expired")),
            "panic" => panic!("the probe panics on purpose"),
            "reserved" => out.variable("text", &"x"),
            _ => Err(Error::msg("it failed on purpose")),
        }
    }
}

dify_plugin::export_plugin!(tools: [Echo, Fail], provider: Probe);
