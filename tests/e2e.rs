//! End-to-end tests: real plugins, built for wasm32-wasip2, run by the host under wasmtime
//! against the embedded mock Dify.

mod http;
mod support;

mod apps;
mod attacks;
mod cancellation;
mod daemon;
mod docs;
mod duck;
mod errors;
mod fake_daemon;
mod faults;
mod fidelity;
mod hostile;
mod isolation;
mod misbehaving;
mod package;
mod python_peer;
mod real_dify;
mod replay;
mod server;
mod tools;
mod webhook;
