//! The raw bindings generated from `wit/` by wit-bindgen.
//!
//! Plugin code should not need them: the modules of this crate wrap every function. They are
//! public because [`export_endpoints!`](crate::export_endpoints) expands to code in the plugin
//! crate that refers to them.
#![allow(missing_docs)]

// The path is this package's own copy of the repository's `wit/`, so that the published crate
// builds (`tests/wit_copy.rs` keeps the two identical).
wit_bindgen::generate!({
    path: "wit",
    world: "plugin",
    pub_export_macro: true,
    default_bindings_module: "dify_plugin::wit",
    runtime_path: "dify_plugin::__wit_bindgen",
});
