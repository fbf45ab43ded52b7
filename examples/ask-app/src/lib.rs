//! `ask_app`: a Dify tool that asks an app of its workspace.
//!
//! Its `app` parameter is an app-selector (the app, and the inputs the Dify user set for it),
//! `question` what to ask. It streams the app's run and answers as it goes:
//!
//! - a chat app's (chatbot, agent, chatflow) answer streams back as text messages, piece by
//!   piece; its conversation id comes last, as the variable `conversation_id`, so that a
//!   workflow can continue the conversation;
//! - a workflow app (which Dify runs on its stored mode, the question aside) answers with its
//!   outputs, as one JSON message, and its run id as the variable `workflow_run_id`.
//!
//! An error event of the run, or a failed workflow, fails the tool with Dify's reason.

use dify_plugin::event::EventKind;
use dify_plugin::prelude::*;
use serde::Deserialize;

/// The tool's parameters, as its YAML (`tools/ask_app.yaml`) declares them.
#[derive(Deserialize)]
struct Params {
    app: AppSelector,
    question: Option<String>,
}

struct AskApp;

impl Tool for AskApp {
    const NAME: &'static str = "ask_app";
    type Parameters = Params;

    fn invoke(params: Params, call: &ToolCall, out: &mut Messages) -> Result<(), Error> {
        let mut ask = session()
            .app()
            .chat()
            .call(&params.app.app_id)
            .query(params.question.unwrap_or_default())
            .inputs(params.app.inputs)
            .files(params.app.files);
        if !call.user_id().is_empty() {
            ask = ask.user(call.user_id());
        }
        let mut answered = false;
        for event in ask.invoke(ResponseMode::Streaming)?.into_stream()? {
            match event?.kind()? {
                EventKind::Message(piece) | EventKind::AgentMessage(piece)
                    if !piece.answer.is_empty() =>
                {
                    answered = true;
                    out.text(piece.answer)?;
                }
                EventKind::MessageEnd(end) => {
                    out.variable("conversation_id", &end.conversation_id)?;
                }
                // A chatflow's inner workflow finishes too; only a workflow app's run is the
                // answer.
                EventKind::WorkflowFinished(run) if !answered => {
                    if run.data.status == "failed" {
                        let reason = run.data.error.unwrap_or_else(|| "no reason given".into());
                        return Err(Error::msg(format!("the workflow failed: {reason}")));
                    }
                    out.json(&run.data.outputs.unwrap_or_else(|| json!({})))?;
                    out.variable("workflow_run_id", &run.workflow_run_id)?;
                }
                EventKind::Error(error) => {
                    return Err(Error::msg(format!("the app failed: {}", error.message)));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

dify_plugin::export_tools!(AskApp);
