//! The host for Dify plugins written as WebAssembly components.
//!
//! It loads a plugin built with the `dify-plugin` SDK for `wasm32-wasip2`, runs each HTTP
//! request to its endpoint in a fresh wasmtime instance, and serves the plugin's app calls
//! from a [`Backend`]: the embedded [`mock::MockDify`] by default.
//!
//! Use it from a plugin's own tests:
//!
//! ```no_run
//! use dify_plugin_host::{EndpointRequest, PluginConfig, Runtime};
//! use dify_plugin_host::mock::{DemoApps, MockDify};
//!
//! let mock = MockDify::demo()?;
//! let runtime = Runtime::new()?;
//! let plugin = runtime.load("target/guests/wasm32-wasip2/guest/duck.wasm",
//!                           PluginConfig::new(mock.clone(), DemoApps::TENANT))?;
//! let response = plugin.request(
//!     EndpointRequest::get(&format!("/duck/{}?query=hi", DemoApps::CHATFLOW)));
//! assert_eq!(response.status(), 200);
//! for chunk in response { print!("{}", String::from_utf8_lossy(&chunk?)); }
//! println!("{:?}", mock.calls());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod backend;
mod bindings;
pub mod build;
pub mod dify;
pub mod endpoint;
mod imports;
pub mod mock;
pub mod router;
mod runtime;
pub mod server;
mod workers;

pub use backend::{AppError, AppKind, AppRequest, Backend, CallContext, DifyError, ResponseMode};
pub use endpoint::{EndpointRequest, EndpointResponse, PluginFailure, RequestStats};
pub use runtime::{HostError, Limits, Plugin, PluginConfig, Runtime};
