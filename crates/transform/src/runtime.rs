//! The engine every module shares: wasmtime with the component model and epoch interruption,
//! a ticker thread that advances the epoch, the linker of the host's imports, and the limits
//! each instance gets.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use crate::bindings::Operators;
use crate::error::Error;
use crate::host::Host;

/// How often the epoch advances: a call's time limit is enforced to within one tick.
const TICK: Duration = Duration::from_millis(2);

/// What each instance may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory of one instance, in bytes (default 16 MiB).
    pub memory_bytes: usize,
    /// Time of one `process` call (default 10 ms).
    pub per_event: Duration,
    /// Time of `init` (default 1 s).
    pub init: Duration,
    /// Largest payload a module may return (default 4 MiB).
    pub output_bytes: usize,
    /// Most user properties a returned message may carry (default 64).
    pub properties: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 16 << 20,
            per_event: Duration::from_millis(10),
            init: Duration::from_secs(1),
            output_bytes: 4 << 20,
            properties: 64,
        }
    }
}

impl Limits {
    /// The epoch deadline, in ticks, that lets a call run at least `time`.
    pub(crate) fn ticks(time: Duration) -> u64 {
        let ticks = time.as_micros().div_ceil(TICK.as_micros());
        u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1)
    }
}

/// The shared engine and linker; cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<Host>,
    limits: Limits,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

/// Two runtimes are equal when they are clones of one: modules compiled by one run in the
/// other.
impl PartialEq for Runtime {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Runtime {}

impl Runtime {
    /// An engine with `limits`, and its ticker thread (which ends when the last clone of the
    /// runtime is dropped).
    ///
    /// # Errors
    /// [`Error::NotAComponent`] (module `engine`) when wasmtime cannot be set up here, or
    /// the host's imports cannot be linked.
    pub fn new(limits: Limits) -> Result<Self, Error> {
        let setup = |e: wasmtime::Error| Error::NotAComponent {
            module: "engine".into(),
            detail: format!("{e:#}"),
        };
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(setup)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(setup)?;
        Operators::add_to_linker::<_, wasmtime::component::HasSelf<Host>>(&mut linker, |h| h)
            .map_err(setup)?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| Error::NotAComponent {
                module: "engine".into(),
                detail: format!("cannot start the epoch ticker: {e}"),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                limits,
            }),
        })
    }

    /// The engine.
    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The linker of the host's imports.
    pub(crate) fn linker(&self) -> &Linker<Host> {
        &self.inner.linker
    }

    /// The limits of every instance.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }
}
