//! What a module's instance may reach on the host: WASI with nothing granted (no files,
//! network, environment or arguments; stdout and stderr discarded), the `logger` (to our
//! log), `metrics` (accepted and dropped) and a `state-store` that answers every request with
//! an error. A store's memory is capped by its [`StoreLimits`].

use bytes::Bytes;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::wasm_graph::processor::{
    hybrid_logical_clock, logger, metrics, state_store, state_store_types, types,
};

/// The bytes behind a `buffer` resource: a payload the host lends a module without copying
/// it until the module reads it, and that comes back without a copy when returned unread.
#[derive(Debug)]
pub struct HostBytes(pub Bytes);

/// The data of one instance's store.
pub(crate) struct Host {
    wasi: WasiCtx,
    pub table: ResourceTable,
    pub limits: StoreLimits,
    /// Names the module in its log lines.
    module: String,
}

impl Host {
    /// A host for `module` whose linear memories may grow to `memory_bytes` in total.
    pub fn new(module: &str, memory_bytes: usize) -> Self {
        Self {
            // Nothing inherited: no preopened directories, no environment, no arguments,
            // no network; stdio is empty/discarded. Clocks and random are what WASI must give.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .instances(16)
                .memories(4)
                .tables(64)
                .table_elements(1 << 20)
                .trap_on_grow_failure(true)
                .build(),
            module: module.to_owned(),
        }
    }
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for Host {}

impl types::HostBuffer for Host {
    fn read(&mut self, buffer: Resource<HostBytes>) -> Vec<u8> {
        // A handle the guest holds is always in the table; an unknown one reads as empty.
        self.table
            .get(&buffer)
            .map(|b| b.0.to_vec())
            .unwrap_or_default()
    }

    fn drop(&mut self, buffer: Resource<HostBytes>) -> wasmtime::Result<()> {
        self.table.delete(buffer)?;
        Ok(())
    }
}

impl hybrid_logical_clock::Host for Host {}
impl state_store_types::Host for Host {}

impl logger::Host for Host {
    fn log(&mut self, level: logger::Level, context: String, message: String) {
        let module = self.module.as_str();
        match level {
            logger::Level::Trace => tracing::trace!(module, context, "{message}"),
            logger::Level::Debug => tracing::debug!(module, context, "{message}"),
            logger::Level::Info => tracing::info!(module, context, "{message}"),
            logger::Level::Warn => tracing::warn!(module, context, "{message}"),
            logger::Level::Error | logger::Level::Critical => {
                tracing::error!(module, context, "{message}");
            }
        }
    }
}

impl metrics::Host for Host {
    fn add_to_counter(
        &mut self,
        _name: String,
        _value: metrics::CounterValue,
        _labels: Option<Vec<metrics::Label>>,
    ) -> Result<(), metrics::MetricsError> {
        Ok(())
    }

    fn record_to_histogram(
        &mut self,
        _name: String,
        _value: metrics::HistogramValue,
        _labels: Option<Vec<metrics::Label>>,
    ) -> Result<(), metrics::MetricsError> {
        Ok(())
    }
}

/// Why the state store answers nothing.
const NO_STATE_STORE: &str = "the SSE connector gives transforms no state store";

impl state_store::Host for Host {
    fn get(
        &mut self,
        _key: Vec<u8>,
        _timeout: Option<state_store::Duration>,
    ) -> Result<state_store::StateStoreGetResponse, state_store::StateStoreError> {
        Err(state_store::StateStoreError::RequestError(
            NO_STATE_STORE.into(),
        ))
    }

    fn set(
        &mut self,
        _key: Vec<u8>,
        _value: Vec<u8>,
        _timeout: Option<state_store::Duration>,
        _fencing_token: Option<state_store::HybridLogicalClock>,
        _options: state_store::SetOptions,
    ) -> Result<state_store::StateStoreSetResponse, state_store::StateStoreError> {
        Err(state_store::StateStoreError::RequestError(
            NO_STATE_STORE.into(),
        ))
    }

    fn del(
        &mut self,
        _key: Vec<u8>,
        _fencing_token: Option<state_store::HybridLogicalClock>,
        _timeout: Option<state_store::Duration>,
    ) -> Result<state_store::StateStoreDelResponse, state_store::StateStoreError> {
        Err(state_store::StateStoreError::RequestError(
            NO_STATE_STORE.into(),
        ))
    }

    fn vdel(
        &mut self,
        _key: Vec<u8>,
        _value: Vec<u8>,
        _fencing_token: Option<state_store::HybridLogicalClock>,
        _timeout: Option<state_store::Duration>,
    ) -> Result<state_store::StateStoreDelResponse, state_store::StateStoreError> {
        Err(state_store::StateStoreError::RequestError(
            NO_STATE_STORE.into(),
        ))
    }
}
