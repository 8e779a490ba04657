//! A compiled module: a WebAssembly component linked against the host's imports, and the
//! operators (`map`, `filter`, `branch`) it exports.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use wasmtime::component::{Component, InstancePre};

use crate::bindings::exports::wasm_graph::processor::{branch, filter, map};
use crate::error::Error;
use crate::host::Host;
use crate::runtime::Runtime;

/// The operators of AIO's graphs a connector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatorKind {
    /// One message in, one (changed) message out.
    Map,
    /// Keep or drop a message.
    Filter,
    /// Send a message down the `False` or the `True` arm.
    Branch,
}

impl OperatorKind {
    /// Its name in the WIT and in graph definitions.
    pub fn name(self) -> &'static str {
        match self {
            Self::Map => "map",
            Self::Filter => "filter",
            Self::Branch => "branch",
        }
    }
}

impl fmt::Display for OperatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compiled, linked module; cheap to clone.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub name: String,
    pub runtime: Runtime,
    pub pre: InstancePre<Host>,
    pub map: Option<map::GuestIndices>,
    pub filter: Option<filter::GuestIndices>,
    pub branch: Option<branch::GuestIndices>,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.inner.name)
            .field("map", &self.inner.map.is_some())
            .field("filter", &self.inner.filter.is_some())
            .field("branch", &self.inner.branch.is_some())
            .finish()
    }
}

impl Module {
    /// Compiles the component in the file at `path`.
    ///
    /// # Errors
    /// [`Error::Read`], or those of [`Module::from_bytes`].
    pub fn from_file(runtime: &Runtime, path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(runtime, &path.display().to_string(), &bytes)
    }

    /// Compiles the component `bytes` (binary or, in tests, WAT), named `name` in errors
    /// and logs.
    ///
    /// # Errors
    /// [`Error::NotAComponent`] when the bytes are not a valid component (a core module is
    /// not one); [`Error::Exports`] when it imports what this host does not offer or exports
    /// none of `map`, `filter`, `branch`.
    pub fn from_bytes(runtime: &Runtime, name: &str, bytes: &[u8]) -> Result<Self, Error> {
        let component =
            Component::new(runtime.engine(), bytes).map_err(|e| Error::NotAComponent {
                module: name.to_owned(),
                detail: format!("{e:#}"),
            })?;
        let pre = runtime
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| Error::Exports {
                module: name.to_owned(),
                operator: "any",
                detail: format!("its imports are not what this host offers: {e:#}"),
            })?;
        let map = map::GuestIndices::new(&pre).ok();
        let filter = filter::GuestIndices::new(&pre).ok();
        let branch = branch::GuestIndices::new(&pre).ok();
        if map.is_none() && filter.is_none() && branch.is_none() {
            return Err(Error::Exports {
                module: name.to_owned(),
                operator: "any",
                detail: "it exports none of wasm-graph:processor/map, filter, branch".into(),
            });
        }
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                runtime: runtime.clone(),
                pre,
                map,
                filter,
                branch,
            }),
        })
    }

    /// Its name in errors and logs.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether it exports `kind`.
    pub fn exports(&self, kind: OperatorKind) -> bool {
        match kind {
            OperatorKind::Map => self.inner.map.is_some(),
            OperatorKind::Filter => self.inner.filter.is_some(),
            OperatorKind::Branch => self.inner.branch.is_some(),
        }
    }
}
