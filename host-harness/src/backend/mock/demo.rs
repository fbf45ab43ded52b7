//! The apps the mock starts with when nothing else is configured, so that the examples
//! answer with no setup. Ids are fixed, so a README command can name them.

use super::app::{AppMode, Behaviour, InputField, MockApp};
use super::{InvalidApp, MockDify};

/// Ids of the demo workspaces and apps.
pub struct DemoApps;

impl DemoApps {
    /// The workspace plugins run in.
    pub const TENANT: &'static str = "1e4f77b9-8c59-4cc4-88a4-95684fcfed7e";
    /// A second workspace, whose apps a plugin of the first must not reach.
    pub const OTHER_TENANT: &'static str = "7c0ffee0-0000-4000-8000-0000000000b2";
    /// A chatflow that answers `You said: <query>` (the recorded `inner-04` app).
    pub const CHATFLOW: &'static str = "a1b2c3d4-0000-4000-8000-000000000001";
    /// A chatbot that answers `You said: <query>`.
    pub const CHATBOT: &'static str = "a1b2c3d4-0000-4000-8000-000000000002";
    /// An agent (streaming only).
    pub const AGENT: &'static str = "a1b2c3d4-0000-4000-8000-000000000003";
    /// A workflow with a required `name` (text, at most 48 characters) that outputs it.
    pub const WORKFLOW: &'static str = "a1b2c3d4-0000-4000-8000-000000000004";
    /// A completion app with a required `topic`, answering a short text about it.
    pub const COMPLETION: &'static str = "a1b2c3d4-0000-4000-8000-000000000005";
    /// A workflow whose code node fails (the recorded `inner-50` app).
    pub const FAILING_WORKFLOW: &'static str = "a1b2c3d4-0000-4000-8000-000000000006";
    /// A chatflow whose code node fails (the recorded `inner-52` app).
    pub const FAILING_CHATFLOW: &'static str = "a1b2c3d4-0000-4000-8000-000000000007";
    /// A workflow in [`Self::OTHER_TENANT`].
    pub const OTHER_WORKSPACE_WORKFLOW: &'static str = "b0000000-0000-4000-8000-000000000001";
}

/// What the recorded failing apps report: the server had no code sandbox.
const SANDBOX_DOWN: &str = "Failed to execute code, which is likely a network issue, please check if the sandbox service is running. ( Error: [Errno 111] Connection refused )";

impl MockDify {
    /// A mock with the demo workspaces and apps of [`DemoApps`].
    pub fn demo() -> Result<Self, InvalidApp> {
        let mock = MockDify::new();
        let t = DemoApps::TENANT;
        mock.add_app(
            MockApp::new(t, DemoApps::CHATFLOW, AppMode::AdvancedChat)
                .name("Echo chatflow: answers 'You said: <query>'"),
        )?
        .add_app(
            MockApp::new(t, DemoApps::CHATBOT, AppMode::Chat)
                .name("Echo chatbot: answers 'You said: <query>'"),
        )?
        .add_app(
            MockApp::new(t, DemoApps::AGENT, AppMode::AgentChat)
                .name("Agent (streaming only)")
                .behaviour(Behaviour::Answer("Ducks are waterfowl.".into())),
        )?
        .add_app(
            MockApp::new(t, DemoApps::WORKFLOW, AppMode::Workflow)
                .name("Greeter: input 'name' (required, <= 48 chars)")
                .input(InputField::text("name").required().max_length(48)),
        )?
        .add_app(
            MockApp::new(t, DemoApps::COMPLETION, AppMode::Completion)
                .name("Writer: input 'topic' (required)")
                .input(InputField::text("topic").required())
                .behaviour(Behaviour::Answer("Ducks quack and swim.".into())),
        )?
        .add_app(
            MockApp::new(t, DemoApps::FAILING_WORKFLOW, AppMode::Workflow)
                .name("Template workflow: fails at its code node")
                .input(InputField::text("name"))
                .behaviour(Behaviour::Fail(SANDBOX_DOWN.into())),
        )?
        .add_app(
            MockApp::new(t, DemoApps::FAILING_CHATFLOW, AppMode::AdvancedChat)
                .name("Template chatflow: fails at its code node")
                .behaviour(Behaviour::Fail(SANDBOX_DOWN.into())),
        )?
        .add_app(
            MockApp::new(
                DemoApps::OTHER_TENANT,
                DemoApps::OTHER_WORKSPACE_WORKFLOW,
                AppMode::Workflow,
            )
            .name("Other workspace's workflow: not reachable from the demo workspace"),
        )?;
        Ok(mock)
    }
}
