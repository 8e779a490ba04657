//! Writing definitions, secrets and trust files for the CLI commands and the API.
//!
//! Every write is atomic (a hidden temporary file in the same directory, then a rename) and is
//! refused, with the validation problems, when it would add an error that `validate` reports
//! (a transform's graph and modules included).
//! New resources go to `devices/NAME.yaml` and `assets/NAME.yaml`; an existing resource is
//! rewritten in its own file and format (YAML or JSON, Kubernetes or ARM form) only when that
//! file holds nothing else, so no other definition is ever touched.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use model::build::{Accepted, Unreadable};
use model::environment::safe_relative_path;
use model::{Kind, Located, Problem, Resource};

use crate::error::Error;
use crate::load::{self, load, parse_documents};
use crate::registry::Registry;
use crate::secrets::holds_certificate;

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The file written or removed.
    pub path: PathBuf,
    /// Warnings about the result (errors refuse the write).
    pub warnings: Vec<Problem>,
}

impl Registry {
    /// Every definition on disk (valid or not), for `device list|show`, `asset list|show`.
    ///
    /// # Errors
    /// When the definitions directory cannot be read.
    pub fn definitions(&self) -> Result<Vec<Located>, Error> {
        Ok(load(self.paths())?.definitions)
    }

    /// The definition of one resource, if any.
    ///
    /// # Errors
    /// When the definitions directory cannot be read.
    pub fn find(&self, kind: Kind, name: &str) -> Result<Option<Located>, Error> {
        Ok(self
            .definitions()?
            .into_iter()
            .find(|l| l.resource.kind() == kind && l.resource.name == name))
    }

    /// Creates a resource in `devices/NAME.yaml` or `assets/NAME.yaml` (`device create`,
    /// `asset create`).
    ///
    /// # Errors
    /// [`model::Error::AlreadyExists`] when the name is taken, [`Error::Invalid`] when the
    /// result would not validate, [`Error::Io`] when the file cannot be written.
    pub fn create(&mut self, resource: Resource) -> Result<Written, Error> {
        let kind = resource.kind();
        if self.find(kind, &resource.name)?.is_some() {
            return Err(model::Error::AlreadyExists {
                owner: "registry".into(),
                what: kind_word(kind),
                name: resource.name,
            }
            .into());
        }
        let dir = match kind {
            Kind::Device => "devices",
            Kind::Asset => "assets",
        };
        let path = self
            .paths()
            .definitions
            .join(dir)
            .join(format!("{}.yaml", resource.name));
        if path.exists() {
            return Err(Error::SharedFile {
                resource: resource.label(),
                file: path,
            });
        }
        let located = Located {
            file: path.clone(),
            document: 1,
            resource,
        };
        self.apply(Some(located), None)
    }

    /// Changes a resource with `edit` and rewrites its file (`device endpoint add`, `asset
    /// dataset add`, `asset event-group add`, `asset event add`).
    ///
    /// # Errors
    /// [`model::Error::NotFound`], errors of `edit`, [`Error::SharedFile`] when the resource's
    /// file holds other documents, [`Error::Invalid`], [`Error::Io`].
    pub fn update(
        &mut self,
        kind: Kind,
        name: &str,
        edit: impl FnOnce(&mut Resource) -> Result<(), model::Error>,
    ) -> Result<Written, Error> {
        let mut located = self.sole_resource(kind, name)?;
        edit(&mut located.resource)?;
        let key = (kind, name.to_owned());
        self.apply(Some(located), Some(key))
    }

    /// Deletes a resource's file (`device delete`, `asset delete`); refused while other
    /// resources refer to it.
    ///
    /// # Errors
    /// As [`Registry::update`].
    pub fn delete(&mut self, kind: Kind, name: &str) -> Result<Written, Error> {
        let located = self.sole_resource(kind, name)?;
        let written = self.apply(None, Some((kind, name.to_owned())))?;
        Ok(Written {
            path: located.file,
            ..written
        })
    }

    /// Writes a secret (`secret set NAME --from-file F`): the file `<secrets>/NAME`, readable
    /// by the owner only.
    ///
    /// # Errors
    /// [`model::Error::Invalid`] when the name leaves the secrets directory, [`Error::Io`].
    pub fn set_secret(&mut self, name: &str, value: &[u8]) -> Result<PathBuf, Error> {
        let relative = safe_relative_path(name).map_err(|why| model::Error::Invalid {
            what: format!("secret name {name:?}"),
            why,
        })?;
        let path = self.paths().secrets.join(relative);
        atomic_write(&path, value, true)?;
        let _ = self.reload();
        Ok(path)
    }

    /// Adds a PEM certificate file to a trust list (`trust add NAME CERT.pem`): the file
    /// `<trust>/NAME/<file name>`.
    ///
    /// # Errors
    /// [`model::Error::Invalid`] for a bad list or file name, [`Error::NotPem`] when `pem`
    /// holds no certificate, [`Error::Io`].
    pub fn add_trust(&mut self, list: &str, file_name: &str, pem: &[u8]) -> Result<PathBuf, Error> {
        let invalid = |what: String, why: String| model::Error::Invalid { what, why };
        let dir =
            safe_relative_path(list).map_err(|why| invalid(format!("trust list {list:?}"), why))?;
        if file_name.contains('/') || file_name.starts_with('.') {
            return Err(invalid(
                format!("file name {file_name:?}"),
                "must be a plain file name, not hidden".into(),
            )
            .into());
        }
        let file = safe_relative_path(file_name)
            .map_err(|why| invalid(format!("file name {file_name:?}"), why))?;
        let path = self.paths().trust.join(dir).join(file);
        if !holds_certificate(pem) {
            return Err(Error::NotPem(path));
        }
        atomic_write(&path, pem, false)?;
        let _ = self.reload();
        Ok(path)
    }

    /// The resource, which must be alone in its file.
    fn sole_resource(&self, kind: Kind, name: &str) -> Result<Located, Error> {
        let located = self
            .find(kind, name)?
            .ok_or_else(|| model::Error::NotFound {
                owner: "registry".into(),
                what: kind_word(kind),
                name: name.to_owned(),
            })?;
        let text = fs::read_to_string(&located.file).map_err(|e| Error::io(&located.file, e))?;
        let documents = parse_documents(&located.file, &text)
            .map(|d| d.len())
            .unwrap_or(0);
        if documents != 1 {
            return Err(Error::SharedFile {
                resource: located.resource.label(),
                file: located.file,
            });
        }
        Ok(located)
    }

    /// Validates the definitions with `put` added (replacing `replace`) and, when that adds
    /// no error, writes `put` (or removes `replace`'s file when there is nothing to put).
    fn apply(
        &mut self,
        put: Option<Located>,
        replace: Option<(Kind, String)>,
    ) -> Result<Written, Error> {
        let loaded = load::load(self.paths())?;
        let unreadable = Unreadable {
            files: loaded.unreadable,
            resources: loaded.undecodable,
            partial: loaded.partial,
        };
        let validate = |defs: &[Located]| {
            let mut built = model::build(defs, &unreadable, self.env(), &Accepted::new());
            let transforms = crate::transforms::apply(&mut built.plan, &self.paths().definitions);
            built.problems.extend(transforms);
            built.problems
        };
        let before: BTreeSet<String> = validate(&loaded.definitions)
            .iter()
            .filter(|p| p.is_error())
            .map(ToString::to_string)
            .collect();
        let mut removed_file = None;
        let mut candidate: Vec<Located> = Vec::new();
        for l in loaded.definitions {
            let key = (l.resource.kind(), l.resource.name.clone());
            if replace.as_ref() == Some(&key) {
                removed_file = Some(l.file.clone());
            } else {
                candidate.push(l);
            }
        }
        candidate.extend(put.clone());
        candidate.sort_by(|a, b| (&a.file, a.document).cmp(&(&b.file, b.document)));
        let after = validate(&candidate);
        let new_errors: Vec<Problem> = after
            .iter()
            .filter(|p| p.is_error() && !before.contains(&p.to_string()))
            .cloned()
            .collect();
        if !new_errors.is_empty() {
            return Err(Error::Invalid(new_errors));
        }
        let touched = put
            .as_ref()
            .map(|l| l.file.clone())
            .or(removed_file.clone());
        let warnings = after
            .into_iter()
            .filter(|p| !p.is_error() && Some(&p.file) == touched.as_ref())
            .collect();
        let path = match put {
            Some(l) => {
                let text = render(&l)?;
                atomic_write(&l.file, text.as_bytes(), false)?;
                l.file
            }
            None => {
                let path = removed_file.unwrap_or_default();
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                path
            }
        };
        let _ = self.reload();
        Ok(Written { path, warnings })
    }
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Device => "device",
        Kind::Asset => "asset",
    }
}

/// The text of a one-resource file: pretty JSON for `*.json`, YAML otherwise.
pub fn render(located: &Located) -> Result<String, Error> {
    let is_json = located
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let serialize = |message: String| Error::Serialize {
        resource: located.resource.label(),
        message,
    };
    if is_json {
        serde_json::to_string_pretty(&located.resource)
            .map(|s| s + "\n")
            .map_err(|e| serialize(e.to_string()))
    } else {
        serde_saphyr::to_string(&located.resource).map_err(|e| serialize(e.to_string()))
    }
}

/// Writes `bytes` to `path` atomically: a hidden temporary file beside it (never read as a
/// definition), flushed to disk, then renamed over `path`. `private` files are created
/// readable by the owner only.
pub fn atomic_write(path: &Path, bytes: &[u8], private: bool) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let result = options
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}
