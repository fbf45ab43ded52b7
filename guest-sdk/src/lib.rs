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
//! The modules follow the capabilities: [`apps`] invokes apps, [`event`] reads what they
//! stream, [`endpoint`] serves HTTP, [`logging`] writes to the host's log, and [`error`] says
//! what went wrong. The WIT contract they wrap lives in the repository's `wit/` folder.
#![deny(missing_docs)]

pub mod apps;
pub mod endpoint;
pub mod error;
pub mod event;
pub mod logging;

/// The raw bindings generated from `wit/` by wit-bindgen.
///
/// Plugin code should not need them: the modules of this crate wrap every function. They are
/// public because [`export_endpoints!`] expands to code in the plugin crate that refers to them.
#[doc(hidden)]
pub mod wit {
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        default_bindings_module: "dify_plugin::wit",
        runtime_path: "dify_plugin::__wit_bindgen",
    });
}

// The generated code and `export_endpoints!` name this crate by its path, from inside it too.
extern crate self as dify_plugin;
#[doc(hidden)]
pub use wit_bindgen::rt as __wit_bindgen;

pub use apps::{Apps, ResponseMode, Session, session};
pub use endpoint::{Endpoint, Request, Response, Settings, Values};
pub use error::{AppErrorKind, DifyError, Error};
pub use event::{Event, EventKind};

/// Everything a plugin usually needs, in one `use`.
pub mod prelude {
    pub use crate::apps::{ResponseMode, session};
    pub use crate::endpoint::{Endpoint, Request, Response, Settings, Values};
    pub use crate::error::Error;
    pub use crate::event::{Event, EventKind};
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
/// and friends to the host.
#[macro_export]
macro_rules! export_endpoints {
    ($($handler:ty),+ $(,)?) => {
        const _: () = {
            struct __DifyPluginExport;

            impl $crate::wit::exports::dify::plugin::endpoint::Guest for __DifyPluginExport {
                fn routes() -> ::std::vec::Vec<$crate::wit::exports::dify::plugin::endpoint::Route> {
                    ::std::vec![$($crate::endpoint::__route::<$handler>()),+]
                }

                fn handle(
                    req: $crate::wit::dify::plugin::http::Request,
                    out: &$crate::wit::dify::plugin::http::ResponseWriter,
                ) -> ::core::result::Result<(), $crate::wit::exports::dify::plugin::endpoint::HandlerError>
                {
                    $(
                        if $crate::endpoint::__is_route_of::<$handler>(&req) {
                            return $crate::endpoint::__handle::<$handler>(req, out);
                        }
                    )+
                    $crate::endpoint::__unrouted(&req)
                }
            }

            // Only a component has these exports: their names (`dify:plugin/endpoint@…`)
            // are not valid native symbols, and a native build (to unit-test a plugin's own
            // logic) must still link.
            #[cfg(target_arch = "wasm32")]
            $crate::wit::export!(__DifyPluginExport);
            #[cfg(not(target_arch = "wasm32"))]
            const _: () = {
                // Natively nothing calls the handlers; name them so they are not dead code.
                let _ = <__DifyPluginExport as $crate::wit::exports::dify::plugin::endpoint::Guest>::handle;
                let _ = <__DifyPluginExport as $crate::wit::exports::dify::plugin::endpoint::Guest>::routes;
            };
        };
    };
}
