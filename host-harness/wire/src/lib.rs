//! The parts of `dify-plugin-host` that read untrusted bytes and need nothing else: no
//! wasmtime, no I/O. They live in a crate of their own so that the fuzz targets (`fuzz/`) and
//! the host build them the same way.
//!
//! - [`frames`]: Dify's inner API answers in length-prefixed frames, decoded as bytes arrive;
//! - [`sse`]: its Service API answers in Server-Sent Events, parsed as bytes arrive;
//! - [`router`]: a plugin's endpoint path patterns (Dify's endpoint YAML syntax), matched
//!   against request paths before any plugin code runs.
#![deny(missing_docs)]

pub mod frames;
pub mod router;
pub mod sse;
