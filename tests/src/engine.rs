//! The wasmtime engine, a compiled-component cache, and the per-instance store data.

use crate::outbound::OutboundHooks;
use crate::spin_apis::SpinState;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Cache, CacheConfig, Config, Engine};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::p3::{WasiHttpCtxView, WasiHttpView};

/// Everything one instance's store holds.
pub struct Ctx {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub hooks: OutboundHooks,
    pub spin: SpinState,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.hooks,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

/// One engine per process, as Spin has: compiled code is shared by every app a test starts.
pub fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return Ok(e);
    }
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    let mut cache = CacheConfig::new();
    cache.with_directory(cache_dir());
    config.cache(Some(Cache::new(cache).map_err(|e| anyhow::anyhow!("{e}"))?));
    let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(ENGINE.get_or_init(|| engine))
}

pub fn linker(engine: &Engine) -> Result<Linker<Ctx>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
    wasmtime_wasi::p3::add_to_linker(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::spin_apis::add_to_linker(&mut linker, |ctx: &mut Ctx| &mut ctx.spin)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(linker)
}

/// Loads a component. Compiled code is cached on disk by wasmtime (keyed by the wasm and the
/// engine's settings), as Spin does, so an unchanged component compiles once per machine.
pub fn load_component(engine: &Engine, wasm_path: &Path) -> Result<Component> {
    let wasm = std::fs::read(wasm_path)
        .with_context(|| format!("reading component {}", wasm_path.display()))?;
    Component::new(engine, &wasm)
        .map_err(|e| anyhow::anyhow!("loading {}: {e}", wasm_path.display()))
}

/// Where compiled components are cached: `target/spin-test-host-cache` of this workspace, or
/// `SPIN_TEST_HOST_CACHE_DIR`.
fn cache_dir() -> PathBuf {
    std::env::var_os("SPIN_TEST_HOST_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("spin-test-host-cache")
        })
}
