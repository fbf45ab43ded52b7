//! Compiling components: at load (with a cache in memory and optionally on disk), and ahead of
//! time for another machine ([`precompile`], what a package ships).
//!
//! All of it is the `compiler` feature (cranelift). Without it, the runtime a package ships
//! loads only precompiled components ([`Runtime::load_precompiled`]), and a `.wasm` is refused
//! with [`HostError::NoCompiler`], naming what to do.

use super::{HostError, Runtime};

#[cfg(feature = "compiler")]
pub use with_compiler::precompile;

#[cfg(not(feature = "compiler"))]
impl Runtime {
    /// Without a compiler, a `.wasm` cannot be loaded.
    pub(super) fn compile(
        &self,
        name: &str,
        _wasm: &[u8],
    ) -> Result<wasmtime::component::Component, HostError> {
        Err(HostError::NoCompiler {
            plugin: name.to_owned(),
        })
    }
}

#[cfg(feature = "compiler")]
mod with_compiler {
    use std::path::{Path, PathBuf};

    use wasmtime::Engine;
    use wasmtime::component::Component;

    use super::super::engine_config;
    use super::{HostError, Runtime};

    /// Compile `wasm` ahead of time for Linux on `arch` (`x86_64` or `aarch64`), for
    /// [`Runtime::load_precompiled`] on another machine: the same engine settings as a
    /// runtime's, and the target's baseline instead of this machine's CPU features.
    ///
    /// On x86_64 the baseline is x86-64-v2 (SSE4.2 and POPCNT, every x86 server CPU since
    /// 2009), so that float rounding compiles to instructions rather than calls; a machine
    /// without them refuses the component at load, saying which feature is missing.
    pub fn precompile(name: &str, wasm: &[u8], arch: &str) -> Result<Vec<u8>, HostError> {
        let fail = |reason: String| HostError::Compile {
            plugin: name.to_owned(),
            reason,
        };
        let mut config = engine_config();
        config
            .target(&format!("{arch}-unknown-linux-gnu"))
            .map_err(|e| fail(format!("cannot compile for {arch}: {e}")))?;
        if arch == "x86_64" {
            for flag in [
                "has_sse3",
                "has_ssse3",
                "has_sse41",
                "has_sse42",
                "has_popcnt",
            ] {
                // SAFETY: code that needs a feature the machine lacks is refused at load by
                // wasmtime's compatibility check, never run.
                unsafe {
                    config.cranelift_flag_enable(flag);
                }
            }
        }
        let engine = Engine::new(&config).map_err(|e| fail(format!("{e:#}")))?;
        engine
            .precompile_component(wasm)
            .map_err(|e| fail(format!("{e:?}")))
    }

    impl Runtime {
        /// A runtime that also keeps compiled components in `dir`, so a later process loads a
        /// plugin it has seen without compiling it (about a millisecond instead of tens).
        ///
        /// The directory must be the host's own: a cached file is machine code that wasmtime
        /// loads as is. Files are named by the SHA-256 of the component and of the engine's
        /// settings, so a changed plugin, wasmtime or configuration never loads a stale one.
        pub fn with_cache_dir(dir: impl Into<PathBuf>) -> Result<Self, HostError> {
            let dir = dir.into();
            std::fs::create_dir_all(&dir).map_err(|source| HostError::CacheDir {
                path: dir.display().to_string(),
                source,
            })?;
            let mut runtime = Runtime::new()?;
            runtime.cache_dir = Some(dir);
            Ok(runtime)
        }

        /// The compiled component for these bytes, compiling them on first use.
        pub(in crate::runtime) fn compile(
            &self,
            name: &str,
            wasm: &[u8],
        ) -> Result<Component, HostError> {
            let mut compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(component) = compiled.get(wasm) {
                return Ok(component.clone());
            }
            let cached = self
                .cache_dir
                .as_ref()
                .map(|dir| dir.join(self.cache_name(wasm)));
            if let Some(path) = cached.as_ref().filter(|p| p.is_file()) {
                // SAFETY: the file was written by `Component::serialize` of an engine with these
                // exact settings (the name says so) into the host's own cache directory.
                match unsafe { Component::deserialize_file(&self.engine, path) } {
                    Ok(component) => {
                        compiled.insert(wasm.to_vec(), component.clone());
                        return Ok(component);
                    }
                    Err(e) => log::warn!(
                        target: "dify_plugin_host::runtime",
                        "ignoring the cached {}: {e}", path.display()
                    ),
                }
            }
            let component = Component::new(&self.engine, wasm).map_err(|e| HostError::Compile {
                plugin: name.to_owned(),
                reason: format!("{e:?}"),
            })?;
            if let Some(path) = cached {
                self.store_in_cache(&component, &path);
            }
            compiled.insert(wasm.to_vec(), component.clone());
            Ok(component)
        }

        /// The cache file name: SHA-256 of the engine's compatibility hash and the component.
        fn cache_name(&self, wasm: &[u8]) -> String {
            use sha2::{Digest, Sha256};
            use std::hash::{Hash, Hasher};
            let mut engine = std::collections::hash_map::DefaultHasher::new();
            self.engine
                .precompile_compatibility_hash()
                .hash(&mut engine);
            let mut hasher = Sha256::new();
            hasher.update(engine.finish().to_le_bytes());
            hasher.update(wasm);
            let digest = hasher.finalize();
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex}.cwasm")
        }

        /// Write a compiled component to the cache, atomically; a failure only costs a compile
        /// next time.
        fn store_in_cache(&self, component: &Component, path: &Path) {
            let write = || -> Result<(), String> {
                let bytes = component.serialize().map_err(|e| format!("{e:?}"))?;
                let partial = path.with_extension(format!("partial-{}", std::process::id()));
                std::fs::write(&partial, bytes).map_err(|e| e.to_string())?;
                std::fs::rename(&partial, path).map_err(|e| e.to_string())
            };
            if let Err(e) = write() {
                log::warn!(target: "dify_plugin_host::runtime", "cannot cache {}: {e}", path.display());
            }
        }
    }
}
