//! The wasmtime engine, a compiled-component cache, and the per-instance store data.

use crate::outbound::OutboundHooks;
use crate::spin_apis::SpinState;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
};
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
    pub guest_time: GuestTime,
}

/// The guest's running time in an instance, kept as Spin's default build keeps it (feature
/// `cpu-time-metrics`, `crates/factors-executor`): a call hook reads the clock on every entry
/// into and exit from wasm, host calls included. That puts every transition on wasmtime's
/// hooked path, as under Spin; the total is in the trace (`SPIN_TEST_HOST_TRACE`) when the
/// instance ends.
#[derive(Debug, Default)]
pub struct GuestTime {
    entered: Option<std::time::Instant>,
    pub elapsed: std::time::Duration,
}

impl GuestTime {
    /// Installs the hook on `store`.
    pub fn hook(store: &mut wasmtime::Store<Ctx>) {
        store.call_hook(|mut store, hook| {
            let t = &mut store.data_mut().guest_time;
            match hook {
                wasmtime::CallHook::CallingWasm | wasmtime::CallHook::ReturningFromHost => {
                    t.entered = Some(std::time::Instant::now());
                }
                wasmtime::CallHook::ReturningFromWasm | wasmtime::CallHook::CallingHost => {
                    if let Some(entered) = t.entered.take() {
                        t.elapsed += entered.elapsed();
                    }
                }
            }
            Ok(())
        });
    }
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
/// Configured as Spin's `spin_core::Config::default()`: epoch interruption (with a deadline
/// far away, as Spin sets it) and, where the address space allows, the pooling allocator with
/// Spin's limits, so instantiation costs here what it costs under Spin.
pub fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return Ok(e);
    }
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    if pooling_fits() {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling()));
    }
    // `SPIN_TEST_HOST_PROFILER=perfmap`: name the guests' functions for `perf` (as
    // `spin up`'s wasmtime can); see docs/BENCHMARKS.md.
    if std::env::var("SPIN_TEST_HOST_PROFILER").as_deref() == Ok("perfmap") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let mut cache = CacheConfig::new();
    cache.with_directory(cache_dir());
    config.cache(Some(Cache::new(cache).map_err(|e| anyhow::anyhow!("{e}"))?));
    let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(ENGINE.get_or_init(|| engine))
}

/// The epoch deadline every store gets: never reached (Spin sets the same).
pub const EPOCH_DEADLINE: u64 = u64::MAX / 2;

/// Spin's pooling limits for its default of 1,000 instances (`SPIN_MAX_INSTANCE_COUNT`).
fn pooling() -> PoolingAllocationConfig {
    const MB: usize = 1 << 20;
    let max_instances = 1_000;
    let mut p = PoolingAllocationConfig::default();
    p.total_component_instances(max_instances)
        .total_memories(max_instances)
        .total_tables(2 * max_instances)
        .total_stacks(max_instances)
        .total_core_instances(4 * max_instances)
        .table_elements(100_000)
        .max_component_instance_size(10 * MB)
        .max_core_instance_size(10 * MB)
        .max_core_instances_per_component(200)
        .max_tables_per_component(64)
        .max_memories_per_component(32)
        .max_tables_per_module(2)
        .max_memories_per_module(2)
        .max_memory_size(4 << 30)
        .linear_memory_keep_resident(2 * MB)
        .table_keep_resident(MB / 2);
    p
}

/// Spin's probe: pooling needs about 42 bits of address space, which some machines lack.
/// `SPIN_WASMTIME_POOLING=0|1` overrides it, as in Spin.
fn pooling_fits() -> bool {
    match std::env::var("SPIN_WASMTIME_POOLING").as_deref() {
        Ok("1") => return true,
        Ok("0") => return false,
        _ => {}
    }
    const BITS: u32 = 42;
    let mut config = Config::new();
    config.wasm_memory64(true);
    config.memory_reservation(1 << BITS);
    let Ok(engine) = Engine::new(&config) else {
        return false;
    };
    let mut store = wasmtime::Store::new(&engine, ());
    let ty = wasmtime::MemoryType::new64(0, Some(1 << (BITS - 16)));
    wasmtime::Memory::new(&mut store, ty).is_ok()
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
                .join("../..")
                .join("target")
                .join("spin-test-host-cache")
        })
}
