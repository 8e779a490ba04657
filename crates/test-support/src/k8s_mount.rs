//! A directory laid out as kubelet's AtomicWriter writes a mounted ConfigMap, Secret or
//! projected volume, and replaced the way kubelet updates it.
//!
//! Layout: the content lives in a timestamped directory (`..2026_12_04_10_00_00.000000001`),
//! the symlink `..data` points at it, and each visible top-level name is a symlink
//! `name -> ..data/name`. [`K8sMount::replace`] writes a new timestamped directory, points a
//! temporary symlink at it and renames it over `..data` (the atomic step), adds the visible
//! symlinks of new names, removes those of names gone, then deletes the old directory.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// A Kubernetes-style mounted directory.
#[derive(Debug)]
pub struct K8sMount {
    dir: PathBuf,
    generation: u32,
}

impl K8sMount {
    /// Creates `dir` (and its parents) and writes `files` into it. A name may have
    /// directories (`trust-list/ca.crt`): its first component becomes the visible name.
    ///
    /// # Panics
    /// When the directory cannot be written.
    pub fn create<C: AsRef<[u8]>>(dir: impl Into<PathBuf>, files: &[(&str, C)]) -> Self {
        let dir = dir.into();
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let mut mount = Self { dir, generation: 0 };
        mount.replace(files);
        mount
    }

    /// The mounted directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The visible path of `name`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Replaces the whole content with `files`, atomically, as kubelet does.
    ///
    /// # Panics
    /// When the directory cannot be written.
    pub fn replace<C: AsRef<[u8]>>(&mut self, files: &[(&str, C)]) {
        self.generation += 1;
        let data = self.dir.join("..data");
        let old = fs::read_link(&data).ok();
        let old_names = self.visible_names();

        let stamp = format!("..2026_12_04_10_00_00.{:09}", self.generation);
        let new_dir = self.dir.join(&stamp);
        let mut new_names = BTreeSet::new();
        for (name, content) in files {
            let path = new_dir.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)
                    .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
            }
            fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            let top = name.split('/').next().unwrap_or(name);
            new_names.insert(top.to_owned());
        }
        if files.is_empty() {
            fs::create_dir_all(&new_dir)
                .unwrap_or_else(|e| panic!("create {}: {e}", new_dir.display()));
        }

        let tmp = self.dir.join("..data_tmp");
        symlink(&stamp, &tmp).unwrap_or_else(|e| panic!("symlink {}: {e}", tmp.display()));
        fs::rename(&tmp, &data).unwrap_or_else(|e| panic!("rename onto {}: {e}", data.display()));

        for name in new_names.difference(&old_names) {
            let link = self.dir.join(name);
            symlink(format!("..data/{name}"), &link)
                .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
        }
        for name in old_names.difference(&new_names) {
            let link = self.dir.join(name);
            fs::remove_file(&link).unwrap_or_else(|e| panic!("remove {}: {e}", link.display()));
        }
        if let Some(old) = old {
            let old = self.dir.join(old);
            fs::remove_dir_all(&old).unwrap_or_else(|e| panic!("remove {}: {e}", old.display()));
        }
    }

    /// The visible names now in the directory.
    fn visible_names(&self) -> BTreeSet<String> {
        fs::read_dir(&self.dir)
            .unwrap_or_else(|e| panic!("list {}: {e}", self.dir.display()))
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| !name.starts_with(".."))
            .collect()
    }
}
