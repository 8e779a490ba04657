//! One operator of one module, ready to run: its instance (made on first use and again after
//! any failure), `init` with the graph's parameters, and `process` under the limits.

use std::time::Duration;

use wasmtime::{Store, Trap};

use crate::bindings::exports::wasm_graph::processor::{branch, filter, map};
use crate::bindings::wasm_graph::processor::types::ModuleConfiguration;
use crate::error::Error;
use crate::host::Host;
use crate::message::Message;
use crate::module::{Module, OperatorKind};
use crate::runtime::Limits;

/// What one call of an operator decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A map's message.
    Message(Message),
    /// A filter's `true` (keep) or `false` (drop); a branch's arm (`false`: the first).
    Decision(bool),
}

/// An operator (`kind`) of a module with its configuration.
pub struct Operator {
    module: Module,
    kind: OperatorKind,
    configuration: Vec<(String, String)>,
    /// `None` before the first call and after a failure: the next call makes a new one.
    live: Option<Live>,
}

struct Live {
    store: Store<Host>,
    guest: Guest,
}

enum Guest {
    Map(map::Guest),
    Filter(filter::Guest),
    Branch(branch::Guest),
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("module", &self.module.name())
            .field("kind", &self.kind)
            .field("live", &self.live.is_some())
            .finish()
    }
}

impl Operator {
    /// The `kind` operator of `module`, with `configuration` for `init`; makes its first
    /// instance and runs `init` now, so that a broken module is found when it is loaded.
    ///
    /// # Errors
    /// [`Error::Exports`] when the module does not export `kind`; [`Error::InitRefused`], or
    /// the trap or timeout of instantiation or `init`.
    pub async fn new(
        module: Module,
        kind: OperatorKind,
        configuration: Vec<(String, String)>,
    ) -> Result<Self, Error> {
        if !module.exports(kind) {
            return Err(Error::Exports {
                module: module.name().to_owned(),
                operator: kind.name(),
                detail: format!("it does not export wasm-graph:processor/{kind}"),
            });
        }
        let mut operator = Self {
            module,
            kind,
            configuration,
            live: None,
        };
        operator.live =
            Some(Self::instantiate(&operator.module, kind, &operator.configuration).await?);
        Ok(operator)
    }

    /// The module it runs.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Which operator.
    pub fn kind(&self) -> OperatorKind {
        self.kind
    }

    /// Runs the operator on `message`; a map returns its message, a filter or branch its
    /// decision.
    ///
    /// On any error the instance is dropped; the next call makes a new one and runs `init`
    /// again.
    ///
    /// # Errors
    /// [`Error::Timeout`], [`Error::Trap`], [`Error::Guest`] (its `error` result),
    /// [`Error::Output`] (an invalid message), or those of a new instance.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the instance dropped; the next call makes a new one.
    pub async fn process(&mut self, message: &Message) -> Result<Output, Error> {
        let mut live = match self.live.take() {
            Some(live) => live,
            None => Self::instantiate(&self.module, self.kind, &self.configuration).await?,
        };
        let limits = self.module.inner.runtime.limits();
        let result = Self::call(&mut live, message, &limits).await;
        let name = self.module.name();
        let output = match result {
            Ok(Ok(output)) => output,
            Ok(Err(message)) => {
                return Err(Error::Guest {
                    module: name.to_owned(),
                    message,
                });
            }
            Err(e) => return Err(classify(name, &e, limits.per_event)),
        };
        let output = match output {
            Called::Map(data) => Message::from_wit(data, &mut live.store.data_mut().table, &limits)
                .map(Output::Message)
                .map_err(|detail| Error::Output {
                    module: name.to_owned(),
                    detail,
                })?,
            Called::Decision(keep) => Output::Decision(keep),
        };
        self.live = Some(live);
        Ok(output)
    }

    async fn call(
        live: &mut Live,
        message: &Message,
        limits: &Limits,
    ) -> wasmtime::Result<Result<Called, String>> {
        live.store
            .set_epoch_deadline(Limits::ticks(limits.per_event));
        let data = message.to_wit(&mut live.store.data_mut().table)?;
        Ok(match &live.guest {
            Guest::Map(g) => g
                .call_process(&mut live.store, &data)
                .await?
                .map(Called::Map)
                .map_err(|e| e.message),
            Guest::Filter(g) => g
                .call_process(&mut live.store, &data)
                .await?
                .map(Called::Decision)
                .map_err(|e| e.message),
            Guest::Branch(g) => g
                .call_process(&mut live.store, &message.timestamp.to_wit(), &data)
                .await?
                .map(Called::Decision)
                .map_err(|e| e.message),
        })
    }

    /// A new instance of `module`'s `kind`, `init` run with `configuration`.
    async fn instantiate(
        module: &Module,
        kind: OperatorKind,
        configuration: &[(String, String)],
    ) -> Result<Live, Error> {
        let inner = &module.inner;
        let limits = inner.runtime.limits();
        let name = inner.name.as_str();
        let mut store = Store::new(inner.runtime.engine(), Host::new(name, limits.memory_bytes));
        store.limiter(|host| &mut host.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(Limits::ticks(limits.init));
        let fail = |e: wasmtime::Error| classify(name, &e, limits.init);
        let instance = inner
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(fail)?;
        let operator = kind.name();
        let exports = |e: wasmtime::Error| Error::Exports {
            module: name.to_owned(),
            operator,
            detail: format!("{e:#}"),
        };
        let configuration = ModuleConfiguration {
            properties: configuration.to_vec(),
            module_schemas: Vec::new(),
        };
        let (guest, accepted) = match kind {
            OperatorKind::Map => {
                let g = load(&inner.map, &mut store, &instance, exports, |i, s, n| {
                    i.load(s, n)
                })?;
                let ok = g
                    .call_init(&mut store, &configuration)
                    .await
                    .map_err(fail)?;
                (Guest::Map(g), ok)
            }
            OperatorKind::Filter => {
                let g = load(&inner.filter, &mut store, &instance, exports, |i, s, n| {
                    i.load(s, n)
                })?;
                let ok = g
                    .call_init(&mut store, &configuration)
                    .await
                    .map_err(fail)?;
                (Guest::Filter(g), ok)
            }
            OperatorKind::Branch => {
                let g = load(&inner.branch, &mut store, &instance, exports, |i, s, n| {
                    i.load(s, n)
                })?;
                let ok = g
                    .call_init(&mut store, &configuration)
                    .await
                    .map_err(fail)?;
                (Guest::Branch(g), ok)
            }
        };
        if !accepted {
            return Err(Error::InitRefused {
                module: name.to_owned(),
            });
        }
        Ok(Live { store, guest })
    }
}

enum Called {
    Map(crate::bindings::wasm_graph::processor::types::DataModel),
    Decision(bool),
}

/// The typed export of `indices` in `instance`.
fn load<I, G>(
    indices: &Option<I>,
    store: &mut Store<Host>,
    instance: &wasmtime::component::Instance,
    exports: impl Fn(wasmtime::Error) -> Error,
    get: impl FnOnce(&I, &mut Store<Host>, &wasmtime::component::Instance) -> wasmtime::Result<G>,
) -> Result<G, Error> {
    let indices = indices
        .as_ref()
        .ok_or_else(|| exports(wasmtime::format_err!("the export is missing")))?;
    get(indices, store, instance).map_err(exports)
}

/// A failed call: out of time (the epoch deadline), or any other trap.
fn classify(module: &str, e: &wasmtime::Error, limit: Duration) -> Error {
    if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        Error::Timeout {
            module: module.to_owned(),
            limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        }
    } else {
        Error::Trap {
            module: module.to_owned(),
            detail: format!("{e:#}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream tasks that run operators move between threads.
    #[test]
    fn calls_are_send() {
        fn send<T: Send>(_: T) {}
        #[allow(dead_code, clippy::diverging_sub_expression)]
        fn check(op: &mut Operator, m: &Message, module: Module) {
            send(op.process(m));
            send(Operator::new(module, OperatorKind::Map, Vec::new()));
        }
        let _ = check;
    }
}
