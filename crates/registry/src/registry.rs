//! The registry: definitions + secrets + trust → a validated [`Snapshot`], and on each reload
//! the new snapshot with the difference from the last one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::build::{Accepted, Unreadable, accepted_of};
use model::{Credentials, FileRef, Kind, Plan, PlanDiff, Problem};

use crate::error::Error;
use crate::load::load;
use crate::paths::RegistryPaths;
use crate::secrets::FsEnvironment;

/// The state of the registry at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// What runs: the operations of every accepted resource.
    pub plan: Plan,
    /// Every problem found reading and validating, errors and warnings, in file order.
    pub problems: Vec<Problem>,
    /// The resources in force (new versions that validated, or last good ones).
    pub resources: Accepted,
    /// The definition files read.
    pub files: Vec<PathBuf>,
}

impl Snapshot {
    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.is_error())
    }

    /// Whether there is no error.
    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }

    /// One line for `validate`: `valid: 2 devices, 3 assets, 7 data operations on 4 streams,
    /// 1 warning`, or the number of errors.
    pub fn summary(&self) -> String {
        let devices = accepted_of(&self.resources, Kind::Device).count();
        let assets = accepted_of(&self.resources, Kind::Asset).count();
        let errors = self.errors().count();
        let warnings = self.warnings().count();
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let head = if errors == 0 {
            "valid".to_owned()
        } else {
            format!("invalid ({})", plural(errors, "error"))
        };
        format!(
            "{head}: {}, {}, {} on {}, {} in {}",
            plural(devices, "device"),
            plural(assets, "asset"),
            plural(self.plan.len(), "data operation"),
            plural(self.plan.streams().len(), "stream"),
            plural(warnings, "warning"),
            plural(self.files.len(), "file"),
        )
    }
}

/// A reload's outcome: the new snapshot and what changed in the plan.
#[derive(Debug, Clone)]
pub struct Reload {
    /// The new state.
    pub snapshot: Arc<Snapshot>,
    /// What the runtime must start, restart and stop.
    pub diff: PlanDiff,
}

/// A registry directory and the state last read from it.
#[derive(Debug)]
pub struct Registry {
    paths: RegistryPaths,
    env: FsEnvironment,
    current: Arc<Snapshot>,
}

impl Registry {
    /// Reads the registry for the first time.
    ///
    /// # Errors
    /// [`Error::NoRegistry`] when the definitions directory does not exist, [`Error::Io`]
    /// when it cannot be listed. Problems in definitions are not errors: see the snapshot.
    pub fn open(paths: RegistryPaths) -> Result<Self, Error> {
        let env = FsEnvironment::new(&paths.secrets, &paths.trust);
        let mut registry = Self {
            paths,
            env,
            current: Arc::new(Snapshot::default()),
        };
        registry.reload()?;
        Ok(registry)
    }

    /// The directories.
    pub fn paths(&self) -> &RegistryPaths {
        &self.paths
    }

    /// The current state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current)
    }

    /// Reads everything again; resources that fail keep their last good version.
    ///
    /// # Errors
    /// As [`Registry::open`], and [`Error::Gone`] when the secrets or trust directory has
    /// disappeared while the plan in force uses files in it. On error the current snapshot is
    /// unchanged: a directory that is briefly gone (deleted and recreated, remounted) stops
    /// nothing.
    pub fn reload(&mut self) -> Result<Reload, Error> {
        if !self.paths.definitions.is_dir() {
            return Err(Error::NoRegistry(self.paths.definitions.clone()));
        }
        for (what, dir) in [
            ("secrets", &self.paths.secrets),
            ("trust", &self.paths.trust),
        ] {
            if !dir.is_dir() && uses_files_in(&self.current.plan, dir) {
                return Err(Error::Gone {
                    what,
                    path: dir.clone(),
                });
            }
        }
        let next = Arc::new(self.read(&self.current.resources)?);
        let diff = model::diff(&self.current.plan, &next.plan);
        self.current = Arc::clone(&next);
        Ok(Reload {
            snapshot: next,
            diff,
        })
    }

    /// Reads and validates with `last_good` as the fallback, changing nothing.
    pub(crate) fn read(&self, last_good: &Accepted) -> Result<Snapshot, Error> {
        let loaded = load(&self.paths)?;
        let unreadable = Unreadable {
            files: loaded.unreadable,
            resources: loaded.undecodable,
            partial: loaded.partial,
        };
        let built = model::build(&loaded.definitions, &unreadable, &self.env, last_good);
        let mut problems = loaded.problems;
        problems.extend(built.problems);
        let mut plan = built.plan;
        if let Some(dir) = &self.paths.common_trust {
            problems.extend(crate::common_trust::apply(&mut plan, dir));
        }
        problems.extend(crate::transforms::apply(&mut plan, &self.paths.definitions));
        problems.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(Snapshot {
            plan,
            problems,
            resources: built.accepted,
            files: loaded.files,
        })
    }

    /// The validation environment (secrets and trust lookups).
    pub(crate) fn env(&self) -> &FsEnvironment {
        &self.env
    }
}

/// Whether an operation of `plan` reads a secret or trust file below `dir`.
fn uses_files_in(plan: &Plan, dir: &Path) -> bool {
    plan.operations.values().any(|op| {
        let credentials: Vec<&FileRef> = match &op.stream.credentials {
            Credentials::Anonymous => Vec::new(),
            Credentials::UsernamePassword { username, password } => vec![username, password],
            Credentials::Certificate {
                certificate,
                key,
                intermediates,
            } => [Some(certificate), key.as_ref(), intermediates.as_ref()]
                .into_iter()
                .flatten()
                .collect(),
        };
        credentials
            .into_iter()
            .chain(&op.stream.trust)
            .any(|f| f.path.starts_with(dir))
    })
}

/// `sse-connector validate`: reads the registry from scratch (no last good version), so every
/// problem of every file is in the snapshot.
///
/// # Errors
/// As [`Registry::open`].
pub fn validate(paths: RegistryPaths) -> Result<Snapshot, Error> {
    let registry = Registry::open(paths)?;
    Ok((*registry.snapshot()).clone())
}
