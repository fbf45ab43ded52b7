//! The host for Dify plugins written as WebAssembly components.
//!
//! It loads a plugin built with the `dify-plugin` SDK for `wasm32-wasip2`, runs each HTTP
//! request to its endpoint in a fresh wasmtime instance, and serves the plugin's app calls
//! from a [`Backend`]: the embedded [`mock::MockDify`] by default.
//!
//! # Where things are
//!
//! - [`runtime`](Runtime): the engine, compiled components, the loaded [`Plugin`], one
//!   request's instance, the limits, the worker threads;
//! - `guest/`: the WIT bindings and the host's side of each import, one file per capability
//!   (`apps.rs`, `writer.rs`, `logging.rs`);
//! - [`backend`]: where app calls go: the [`Backend`] trait, the [`mock`], the real Dify
//!   backends (inner API, Service API), record mode, and [`backend::select`];
//! - [`endpoint`] and [`response`]: the request and failure types, the channel a plugin's
//!   response travels through and its one reader, [`EndpointResponse`];
//! - front ends that bring requests in: [`server`] (HTTP); the router
//!   ([`router`], from `dify-plugin-wire`, with the frame and SSE decoders) runs first;
//! - [`build`]: building plugin crates into components.
//!
//! # Features
//!
//! All on by default. `compiler` compiles `.wasm` components (cranelift); `server` is the
//! HTTP front end; `dify-http` the real Dify backends. The runtime a `.difypkg` ships is built
//! with none of them: the daemon front end, the daemon's backend and the mock are always
//! there, and without `compiler` a plugin loads only as a component precompiled for the
//! machine ([`Runtime::load_precompiled`]).
//!
//! # Life of a request
//!
//! A front end turns what arrives into an [`EndpointRequest`] and asks the [`Plugin`] to route
//! it: no match is answered by the host (404, 405) without an instance. A match runs on a
//! worker thread in a fresh `Store` and instance (`runtime/instance.rs`), which calls the
//! plugin's `handle` export. The plugin's app calls reach `guest/apps.rs`, which validates them
//! and hands an [`AppRequest`] to the backend; a streamed app answer becomes a `chunk-stream`
//! resource whose `next-batch` hands the plugin the events already received. The plugin writes
//! its response into the `response-writer` (`guest/writer.rs`), which sends the head and the
//! body chunks into a bounded channel; the front end reads them with [`response`] and sends
//! them on as they come (a full channel blocks the plugin: backpressure). When the handler
//! returns, the instance is dropped (its app streams with it, which cancels them upstream),
//! and the end, with the request's stats, is the channel's last message.
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
mod budget;
pub mod build;
pub mod daemon;
pub mod endpoint;
mod guest;
#[cfg(feature = "package")]
pub mod package;
pub mod response;
mod runtime;
pub mod scaffold;
#[cfg(feature = "server")]
pub mod server;
pub mod tool;

pub use backend::mock;
pub use backend::{AppError, AppKind, AppRequest, Backend, CallContext, DifyError, ResponseMode};
pub use dify_plugin_wire::router;
pub use endpoint::{EndpointRequest, PluginFailure, RequestStats};
pub use response::EndpointResponse;
#[cfg(feature = "compiler")]
pub use runtime::precompile;
pub use runtime::{HostError, Limits, Plugin, PluginConfig, Runtime};
pub use tool::{ToolMessage, ToolRequest, ToolResponse};
