//! The watcher on a real directory: edit, add, delete, bad edit, `..data` symlink swap.

use std::fs;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use model::OperationId;
use registry::{Registry, RegistryPaths, Reload};

const DEVICE: &str = "apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: {name: dev}
spec:
  endpoints:
    inbound:
      ep:
        endpointType: Microsoft.SSEHttp
        address: https://h/base
        authentication:
          method: UsernamePassword
          usernamePasswordCredentials: {usernameSecretName: creds/username, passwordSecretName: creds/password}
";

fn asset(name: &str, topic: &str) -> String {
    format!(
        "apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {{name: {name}}}
spec:
  deviceRef: {{deviceName: dev, endpointName: ep}}
  datasets: [{{name: d, dataSource: /x, destinations: [{{target: Mqtt, configuration: {{topic: '{topic}'}}}}]}}]
"
    )
}

fn id(asset: &str) -> OperationId {
    OperationId::Dataset {
        asset: asset.into(),
        dataset: "d".into(),
    }
}

/// A Kubernetes-style mounted secret: `..<ts>/` holds the files, `..data` points at it, and the
/// visible names point into `..data`.
fn mount_secret(dir: &Path, generation: &str, password: &str) {
    let ts = dir.join(format!("..{generation}"));
    fs::create_dir_all(&ts).expect("mkdir");
    fs::write(ts.join("username"), "user").expect("write");
    fs::write(ts.join("password"), password).expect("write");
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{generation}"), &tmp).expect("symlink");
    fs::rename(&tmp, dir.join("..data")).expect("swap");
    for name in ["username", "password"] {
        if fs::symlink_metadata(dir.join(name)).is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(name)).expect("symlink");
        }
    }
}

/// Generous: the waiting side only; nothing asserts that a reload is fast.
const PATIENCE: Duration = Duration::from_secs(30);

struct Harness {
    dir: tempfile::TempDir,
    /// The registry directory, `<dir>/reg`, so that it can be deleted and recreated.
    root: std::path::PathBuf,
    rx: mpsc::Receiver<Result<Reload, String>>,
    _watch: registry::Watch,
}

/// Writes a complete registry (device, asset `a` with `topic`, secrets) into `root`.
fn populate(root: &Path, topic: &str, password: &str) {
    mount_secret(&root.join("secrets/creds"), "2024_01_01_a", password);
    fs::write(root.join("dev.yaml"), DEVICE).expect("write");
    fs::write(root.join("a.yaml"), asset("a", topic)).expect("write");
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("reg");
        populate(&root, "t/1", "p1");
        let registry = Registry::open(RegistryPaths::new(&root)).expect("opens");
        let snap = registry.snapshot();
        assert!(snap.is_valid(), "{:#?}", snap.problems);
        assert_eq!(snap.plan.len(), 1);
        let (tx, rx) = mpsc::channel();
        let watch = registry
            .watch(Duration::from_millis(200), move |r| {
                let _ = tx.send(r.map_err(|e| e.to_string()));
            })
            .expect("watch");
        Self {
            dir,
            root,
            rx,
            _watch: watch,
        }
    }

    /// The first outcome that satisfies `want`; `check` is applied to every reload seen on
    /// the way (e.g. "nothing was stopped meanwhile").
    fn wait(
        &self,
        what: &str,
        want: impl Fn(&Result<Reload, String>) -> bool,
        check: impl Fn(&Reload),
    ) -> Result<Reload, String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(r) => {
                    if let Ok(reload) = &r {
                        check(reload);
                    }
                    if want(&r) {
                        return r;
                    }
                }
                Err(_) => panic!("no reload with {what} within {PATIENCE:?}"),
            }
        }
    }

    /// The first reload that satisfies `want`.
    fn wait_for(&self, what: &str, want: impl Fn(&Reload) -> bool) -> Reload {
        match self.wait(what, |r| r.as_ref().is_ok_and(&want), |_| {}) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// The first failed reload whose error contains `fragment`; no reload on the way may
    /// stop asset `a`.
    fn wait_for_error(&self, fragment: &str) -> String {
        let outcome = self.wait(
            fragment,
            |r| r.as_ref().is_err_and(|e| e.contains(fragment)),
            keeps_a,
        );
        outcome.err().unwrap_or_default()
    }
}

fn keeps_a(r: &Reload) {
    assert!(
        !r.diff.removed.contains(&id("a")),
        "asset a was stopped: {:#?}",
        r.snapshot.problems
    );
}

#[test]
fn edit_add_delete_are_seen_as_changed_added_removed() {
    let h = Harness::new();
    fs::write(h.root.join("a.yaml"), asset("a", "t/2")).expect("edit");
    let r = h.wait_for("a changed", |r| r.diff.changed.contains(&id("a")));
    assert!(r.diff.added.is_empty() && r.diff.removed.is_empty());

    fs::create_dir_all(h.root.join("more")).expect("mkdir");
    fs::write(h.root.join("more/b.yaml"), asset("b", "t/b")).expect("add");
    let r = h.wait_for("b added", |r| r.diff.added.contains(&id("b")));
    assert_eq!(r.snapshot.plan.len(), 2);

    fs::remove_file(h.root.join("a.yaml")).expect("delete");
    let r = h.wait_for("a removed", |r| r.diff.removed.contains(&id("a")));
    assert_eq!(r.snapshot.plan.len(), 1);
}

#[test]
fn a_bad_edit_is_reported_and_the_last_good_plan_stays() {
    let h = Harness::new();
    fs::write(h.root.join("a.yaml"), asset("a", "t/#")).expect("bad edit");
    let r = h.wait_for("an error", |r| !r.snapshot.is_valid());
    assert!(r.diff.is_empty(), "{:?}", r.diff);
    assert!(r.snapshot.plan.operations.contains_key(&id("a")));
    let errors: Vec<_> = r.snapshot.errors().map(ToString::to_string).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("configuration.topic") && e.contains("wildcard")),
        "{errors:#?}"
    );

    // A syntax error in the file keeps the last good version too.
    fs::write(h.root.join("a.yaml"), "kind: [").expect("broken file");
    let r = h.wait_for("a syntax error", |r| {
        r.snapshot
            .errors()
            .any(|e| e.path.as_str().starts_with("line "))
    });
    assert!(r.snapshot.plan.operations.contains_key(&id("a")));

    // Fixed: the new version runs.
    fs::write(h.root.join("a.yaml"), asset("a", "t/3")).expect("fix");
    let r = h.wait_for("a changed", |r| r.diff.changed.contains(&id("a")));
    assert!(r.snapshot.is_valid(), "{:#?}", r.snapshot.problems);
}

#[test]
fn a_kubernetes_symlink_swap_of_a_secret_changes_the_operations_using_it() {
    let h = Harness::new();
    mount_secret(
        &h.root.join("secrets/creds"),
        "2024_01_02_b",
        "a-longer-password",
    );
    let r = h.wait_for("a changed by the secret", |r| {
        r.diff.changed.contains(&id("a"))
    });
    assert!(r.snapshot.is_valid(), "{:#?}", r.snapshot.problems);
}

#[test]
fn a_deleted_secret_stops_what_needs_it_and_is_reported() {
    let h = Harness::new();
    fs::remove_file(h.root.join("secrets/creds/password")).expect("rm");
    let r = h.wait_for("a removed", |r| r.diff.removed.contains(&id("a")));
    let errors: Vec<_> = r.snapshot.errors().map(ToString::to_string).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("passwordSecretName") && e.contains("does not exist")),
        "{errors:#?}"
    );
}

#[test]
fn the_registry_directory_deleted_and_recreated_keeps_the_plan_meanwhile() {
    let h = Harness::new();
    fs::remove_dir_all(&h.root).expect("rm -r");
    let e = h.wait_for_error("does not exist");
    assert!(e.contains("registry directory"), "{e}");

    // It comes back (built aside and moved in, as a deployment would), with an edit.
    let staging = h.dir.path().join("staging");
    populate(&staging, "t/2", "p1");
    fs::rename(&staging, &h.root).expect("mv");
    let r = h.wait(
        "a changed",
        |r| r.as_ref().is_ok_and(|r| r.diff.changed.contains(&id("a"))),
        keeps_a,
    );
    let r = r.expect("reloaded");
    assert!(r.snapshot.is_valid(), "{:#?}", r.snapshot.problems);

    // And it is watched again.
    fs::write(h.root.join("a.yaml"), asset("a", "t/3")).expect("edit");
    h.wait_for("a changed again", |r| r.diff.changed.contains(&id("a")));
}

#[test]
fn the_secrets_directory_deleted_and_recreated_keeps_the_plan_meanwhile() {
    let h = Harness::new();
    fs::remove_dir_all(h.root.join("secrets")).expect("rm -r");
    let e = h.wait_for_error("secrets directory");
    assert!(
        e.contains("is gone; the last good plan stays in force"),
        "{e}"
    );

    let staging = h.dir.path().join("staging");
    mount_secret(&staging.join("creds"), "2024_01_03_c", "another-password");
    fs::rename(&staging, h.root.join("secrets")).expect("mv");
    let r = h.wait(
        "a changed by the new secret",
        |r| r.as_ref().is_ok_and(|r| r.diff.changed.contains(&id("a"))),
        keeps_a,
    );
    let r = r.expect("reloaded");
    assert!(r.snapshot.is_valid(), "{:#?}", r.snapshot.problems);

    // Secrets are watched again too.
    fs::remove_file(h.root.join("secrets/creds/password")).expect("rm");
    h.wait_for("a removed", |r| r.diff.removed.contains(&id("a")));
}

#[test]
fn a_type_error_keeps_the_last_good_version_and_reports_the_position() {
    let h = Harness::new();
    let text = asset("a", "t/#").replace("topic: 't/#'", "topic: 't/#', qos: Qos7");
    fs::write(h.root.join("a.yaml"), text).expect("bad edit");
    let r = h.wait_for("an error", |r| !r.snapshot.is_valid());
    assert!(r.diff.is_empty(), "{:?}", r.diff);
    let errors: Vec<_> = r.snapshot.errors().map(ToString::to_string).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("configuration.qos: line 6, column ")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("configuration.topic") && e.contains("wildcard")),
        "both problems are reported: {errors:#?}"
    );
}
