//! `--state-dir` and `--config`, for the commands that read what a connector keeps in its
//! state directory (`status`, `state keys`) without talking to it.

use std::path::PathBuf;

use clap::Args;

use crate::commands::run::settings::resolve_state_dir;

/// Where the connector's state directory is.
#[derive(Debug, Args)]
pub struct StateDirArgs {
    /// State directory of the connector [default: ./state]
    #[arg(long, value_name = "DIR", env = "SSE_CONNECTOR_STATE_DIR")]
    state_dir: Option<PathBuf>,

    /// YAML settings file of `run`; its `stateDir` is used
    #[arg(long, value_name = "FILE", env = "SSE_CONNECTOR_CONFIG")]
    config: Option<PathBuf>,
}

impl StateDirArgs {
    /// The state directory as `run` resolves it: the option, the config file's `stateDir`,
    /// else `./state`.
    ///
    /// # Errors
    /// When the config file cannot be read or parsed.
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        resolve_state_dir(self.config.as_deref(), self.state_dir.as_deref())
    }
}
