//! Errors of loading and running operators.

/// What went wrong with a module or one of its calls.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read module {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes are not a WebAssembly component wasmtime can compile.
    #[error("module {module} is not a WebAssembly component: {detail}")]
    NotAComponent {
        /// The module.
        module: String,
        /// The compiler's message.
        detail: String,
    },
    /// The component does not export the operator the graph uses, or its imports are not
    /// what this host offers.
    #[error("module {module} cannot run as a {operator} operator: {detail}")]
    Exports {
        /// The module.
        module: String,
        /// `map`, `filter` or `branch`.
        operator: &'static str,
        /// What is missing or mistyped.
        detail: String,
    },
    /// `init` returned `false`.
    #[error("module {module} refused its configuration (init returned false)")]
    InitRefused {
        /// The module.
        module: String,
    },
    /// The call ran longer than its time limit.
    #[error("module {module} ran out of time ({limit_ms} ms)")]
    Timeout {
        /// The module.
        module: String,
        /// The limit.
        limit_ms: u64,
    },
    /// The module trapped: a panic, an out-of-bounds access, memory beyond its limit.
    #[error("module {module} trapped: {detail}")]
    Trap {
        /// The module.
        module: String,
        /// The trap and its backtrace.
        detail: String,
    },
    /// The module returned its `error` result.
    #[error("module {module} returned an error: {message}")]
    Guest {
        /// The module.
        module: String,
        /// The message it returned.
        message: String,
    },
    /// The module returned something this connector cannot publish.
    #[error("module {module} returned an invalid message: {detail}")]
    Output {
        /// The module.
        module: String,
        /// What is wrong.
        detail: String,
    },
}

impl Error {
    /// A stable name of the kind, for metric labels and status messages.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Read { .. } => "read",
            Self::NotAComponent { .. } => "not_a_component",
            Self::Exports { .. } => "exports",
            Self::InitRefused { .. } => "init_refused",
            Self::Timeout { .. } => "timeout",
            Self::Trap { .. } => "trap",
            Self::Guest { .. } => "error",
            Self::Output { .. } => "output",
        }
    }

    /// Whether the module cannot be loaded at all (a configuration error), as opposed to a
    /// failure of one call.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            Self::Read { .. } | Self::NotAComponent { .. } | Self::Exports { .. }
        )
    }
}
