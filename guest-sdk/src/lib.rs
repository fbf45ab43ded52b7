//! Write Dify plugins in Rust, compiled to `wasm32-wasip2` WebAssembly components.
//!
//! A plugin serves HTTP endpoints and may invoke the Dify apps of its own workspace (chat,
//! agent, chatflow, workflow and completion apps), blocking or streaming, just as a Python
//! plugin does with `self.session.app.chat.invoke(...)`.
//!
//! ```no_run
//! use dify_plugin::prelude::*;
//!
//! /// Streams a chat app's events back to the HTTP caller, one `{json} <br>` line each.
//! struct Duck;
//!
//! impl Endpoint for Duck {
//!     const METHOD: &'static str = "GET";
//!     const PATH: &'static str = "/duck/<app_id>";
//!
//!     fn invoke(req: Request, values: Values, _settings: Settings) -> Result<Response, Error> {
//!         let app_id = values.get("app_id")?;
//!         let query = req.query("query").unwrap_or_else(|| "Hello".into());
//!         let events = session()
//!             .app()
//!             .chat()
//!             .invoke(app_id, &query, json!({}), ResponseMode::Streaming, None, vec![])?
//!             .into_stream()?;
//!         Ok(Response::stream(200, "text/html", events.map(|e| Ok(format!("{} <br>", e?)))))
//!     }
//! }
//!
//! dify_plugin::export_endpoints!(Duck);
//! ```
//!
//! # Modules
//!
//! - [`apps`]: invoke apps (`session().app()`), one generic builder for the three interfaces,
//!   and the [`Events`](apps::Events) iterator over a streamed run;
//! - [`event`]: one [`Event`] of a run, its JSON text and typed views;
//! - [`endpoint`]: the [`Endpoint`] trait, [`Request`], [`Response`] and the export glue;
//! - [`error`]: [`Error`], and what Dify reported; it also defines the app names
//!   ([`AppRef`](apps::AppRef), [`AppKind`](apps::AppKind)) that `apps` re-exports;
//! - [`tool`]: the [`Tool`] trait, its [`ToolCall`], the [`Message`]s it answers with, and the
//!   [`Provider`] that checks credentials;
//! - [`logging`]: the [`log`] backend that writes to the host's log;
//! - `body` (private): the response body, the buffer a streamed one goes through, and
//!   `host_call`, which sends that buffer before every host call that may block;
//! - `wit` (hidden): the bindings generated from the WIT contract, copied into this package's
//!   `wit/` folder from the repository's (a test checks the copy).
//!
//! Each module imports only modules before it in this order, so imports have no cycles:
//! `wit`, `error`, `event`, `logging`, `body`, `apps`, `endpoint`, `tool`. `apps` uses error,
//! event and body; `endpoint` and `tool` use error, body and logging; none of the three uses
//! another. This file declares and re-exports them, and holds the export macros
//! ([`export_plugin!`], and its shorthands [`export_endpoints!`] and [`export_tools!`]).
//!
//! # How a streamed event flows
//!
//! The host's `chunk-stream` yields chunks in batches, through `host_call`; the
//! [`Events`](apps::Events) iterator turns each into an [`Event`]; the plugin maps them into
//! the items of a [`Response::stream`] body; the `body` module buffers those items and writes
//! them to the host's `response-writer`, when the buffer is full or before the next blocking
//! host call.
#![deny(missing_docs)]

pub mod apps;
mod body;
pub mod endpoint;
pub mod error;
pub mod event;
pub mod logging;
pub mod tool;
#[doc(hidden)]
pub mod wit;

// The generated code and `export_endpoints!` name this crate by its path, from inside it too.
extern crate self as dify_plugin;
#[doc(hidden)]
pub use wit_bindgen::rt as __wit_bindgen;

pub use apps::{Apps, ResponseMode, Session, session};
pub use endpoint::{Endpoint, Request, Response, Settings, Values};
pub use error::{AppErrorKind, DifyError, Error};
pub use event::{Event, EventKind};
pub use tool::{AppSelector, Credentials, Message, Messages, Provider, Tool, ToolCall};

/// Everything a plugin usually needs, in one `use`.
pub mod prelude {
    pub use crate::apps::{ResponseMode, session};
    pub use crate::endpoint::{Endpoint, Request, Response, Settings, Values};
    pub use crate::error::Error;
    pub use crate::event::{Event, EventKind};
    pub use crate::tool::{AppSelector, Credentials, Message, Messages, Provider, Tool, ToolCall};
    pub use serde_json::{Value, json};
}

/// Export the plugin's endpoints: one or more types that implement [`Endpoint`].
///
/// Call it once, at the top level of the plugin crate:
///
/// ```ignore
/// struct Duck;
/// impl dify_plugin::Endpoint for Duck {
///     const METHOD: &'static str = "GET";
///     const PATH: &'static str = "/duck/<app_id>";
///     /* fn invoke ... */
/// }
/// dify_plugin::export_endpoints!(Duck);
/// ```
///
/// The host routes each request by the endpoints' `METHOD` and `PATH`; the macro dispatches
/// it to the matching type. It also installs the [`log`] backend that forwards `log::info!`
/// and friends to the host. It is [`export_plugin!`] with endpoints only.
#[macro_export]
macro_rules! export_endpoints {
    ($($handler:ty),+ $(,)?) => {
        $crate::export_plugin!(endpoints: [$($handler),+]);
    };
}

/// Export the plugin's tools: one or more types that implement [`Tool`], under a provider
/// that accepts any credentials. It is [`export_plugin!`] with tools only; use that to name a
/// [`Provider`] that checks credentials.
///
/// ```ignore
/// dify_plugin::export_tools!(AskApp);
/// ```
#[macro_export]
macro_rules! export_tools {
    ($($tool:ty),+ $(,)?) => {
        $crate::export_plugin!(tools: [$($tool),+]);
    };
}

/// Export what the plugin has: its endpoints, its tools, and the provider that checks the
/// tools' credentials, each part optional, in this order.
///
/// Call it once, at the top level of the plugin crate:
///
/// ```ignore
/// dify_plugin::export_plugin!(
///     endpoints: [Duck],
///     tools: [AskApp, Summarize],
///     provider: MyProvider,
/// );
/// ```
///
/// Without `provider`, any credentials are accepted ([`tool::AnyCredentials`]). The host
/// routes requests by the endpoints' `METHOD` and `PATH` and calls tools by their `NAME`; the
/// macro dispatches each to its type. It also installs the [`log`] backend that forwards
/// `log::info!` and friends to the host.
#[macro_export]
macro_rules! export_plugin {
    (
        $(endpoints: [$($handler:ty),* $(,)?] $(,)?)?
        $(tools: [$($tool:ty),* $(,)?] $(,)?)?
        $(provider: $provider:ty $(,)?)?
    ) => {
        const _: () = {
            struct __DifyPluginExport;

            impl $crate::wit::exports::dify::plugin::endpoint::Guest for __DifyPluginExport {
                fn routes() -> ::std::vec::Vec<$crate::wit::exports::dify::plugin::endpoint::Route> {
                    ::std::vec![$($($crate::endpoint::__route::<$handler>()),*)?]
                }

                fn handle(
                    req: $crate::wit::dify::plugin::http::Request,
                    out: &$crate::wit::dify::plugin::http::ResponseWriter,
                ) -> ::core::result::Result<(), $crate::wit::exports::dify::plugin::endpoint::HandlerError>
                {
                    $($(
                        if $crate::endpoint::__is_route_of::<$handler>(&req) {
                            return $crate::endpoint::__handle::<$handler>(req, out);
                        }
                    )*)?
                    let _ = out;
                    $crate::endpoint::__unrouted(&req)
                }
            }

            impl $crate::wit::exports::dify::plugin::tool::Guest for __DifyPluginExport {
                fn tools() -> ::std::vec::Vec<::std::string::String> {
                    ::std::vec![$($($crate::tool::__name::<$tool>()),*)?]
                }

                fn invoke(
                    call: $crate::wit::exports::dify::plugin::tool::Call,
                    out: &$crate::wit::dify::plugin::tool_messages::MessageWriter,
                ) -> ::core::result::Result<(), $crate::wit::exports::dify::plugin::tool::ToolError>
                {
                    $($(
                        if $crate::tool::__is_call_of::<$tool>(&call) {
                            return $crate::tool::__invoke::<$tool>(call, out);
                        }
                    )*)?
                    let _ = out;
                    $crate::tool::__unknown(&call)
                }

                fn validate_credentials(
                    credentials: ::std::string::String,
                ) -> ::core::result::Result<(), $crate::wit::exports::dify::plugin::tool::ToolError>
                {
                    $crate::tool::__validate::<$crate::__provider_or_any!($($provider)?)>(credentials)
                }
            }

            // Only a component has these exports: their names (`dify:plugin/endpoint@…`)
            // are not valid native symbols, and a native build (to unit-test a plugin's own
            // logic) must still link.
            #[cfg(target_arch = "wasm32")]
            $crate::wit::export!(__DifyPluginExport);
            #[cfg(not(target_arch = "wasm32"))]
            const _: () = {
                // Natively nothing calls the exports; name them so they are not dead code.
                use $crate::wit::exports::dify::plugin::{endpoint, tool};
                let _ = <__DifyPluginExport as endpoint::Guest>::handle;
                let _ = <__DifyPluginExport as endpoint::Guest>::routes;
                let _ = <__DifyPluginExport as tool::Guest>::tools;
                let _ = <__DifyPluginExport as tool::Guest>::invoke;
                let _ = <__DifyPluginExport as tool::Guest>::validate_credentials;
            };
        };
    };
}

/// The provider [`export_plugin!`] was given, or [`tool::AnyCredentials`].
#[doc(hidden)]
#[macro_export]
macro_rules! __provider_or_any {
    () => {
        $crate::tool::AnyCredentials
    };
    ($provider:ty) => {
        $provider
    };
}
