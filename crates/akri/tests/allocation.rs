//! The allocation mount on real files in kubelet's layout: reading it, and the watcher
//! following AtomicWriter swaps.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

use akri::allocation::{self, Allocation, Changes, EndpointRef};
use akri::error::Error;
use test_support::k8s_mount::K8sMount;

/// How long a watch callback may take to come.
const PATIENCE: Duration = Duration::from_secs(10);
const DEBOUNCE: Duration = Duration::from_millis(100);

fn endpoint(device: &str, endpoint: &str) -> EndpointRef {
    EndpointRef {
        device: device.into(),
        endpoint: endpoint.into(),
    }
}

fn assets(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// `[(device, endpoint, [asset, ...]), ...]` as an allocation.
fn allocation(entries: &[(&str, &str, &[&str])]) -> Allocation {
    entries
        .iter()
        .map(|(d, e, a)| (endpoint(d, e), assets(a)))
        .collect()
}

#[test]
fn file_names_split_at_the_first_underscore() {
    assert_eq!(
        EndpointRef::from_file_name("thermostat_sse_feed_1"),
        Some(endpoint("thermostat", "sse_feed_1"))
    );
    assert_eq!(
        endpoint("thermostat", "sse_feed_1").to_string(),
        "thermostat_sse_feed_1"
    );
    for bad in ["thermostat", "_feed", "thermostat_", "_"] {
        assert_eq!(EndpointRef::from_file_name(bad), None, "{bad}");
    }
}

#[test]
fn read_takes_one_asset_per_line_and_skips_what_is_not_an_endpoint_file() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mount = K8sMount::create(
        tmp.path().join("adr_resources_names"),
        &[
            ("thermostat_sse-feed", "boiler\n  pump \r\n\n\t\nboiler\n"),
            ("meter_feed_with_underscores", ""),
            ("gateway_events", "\n\n"),
            ("no-underscore", "ignored"),
            ("_no-device", "ignored"),
        ],
    );
    // The SDK's test mount: bookkeeping entries as plain files, never endpoints.
    std::fs::write(mount.file("..2025_22_7"), "not an endpoint").expect("file");
    let read = allocation::read(mount.path()).expect("readable");
    assert_eq!(
        read,
        allocation(&[
            ("thermostat", "sse-feed", &["boiler", "pump"]),
            ("meter", "feed_with_underscores", &[]),
            ("gateway", "events", &[]),
        ])
    );
    assert_eq!(read.len(), 3);
    assert_eq!(
        read.get(&endpoint("thermostat", "sse-feed")),
        Some(&assets(&["boiler", "pump"]))
    );
    assert_eq!(read.get(&endpoint("thermostat", "other")), None);
}

#[test]
fn an_empty_mount_is_an_empty_allocation_and_a_missing_one_an_error() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mount = K8sMount::create::<&str>(tmp.path().join("adr"), &[]);
    assert!(allocation::read(mount.path()).expect("readable").is_empty());
    let missing = tmp.path().join("not-mounted");
    let error = allocation::read(&missing).expect_err("no mount");
    assert!(
        matches!(&error, Error::Io { path, .. } if *path == missing),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&missing.display().to_string()),
        "{error}"
    );
}

#[test]
fn changes_list_endpoints_and_assets_added_and_removed() {
    let before = allocation(&[
        ("a", "kept", &["x", "y"]),
        ("b", "gone", &["z"]),
        ("c", "same", &["w"]),
    ]);
    let after = allocation(&[
        ("a", "kept", &["y", "v"]),
        ("c", "same", &["w"]),
        ("d", "new", &["u"]),
    ]);
    let changes = before.changes(&after);
    assert_eq!(
        changes,
        Changes {
            added_endpoints: [(endpoint("d", "new"), assets(&["u"]))].into(),
            removed_endpoints: [endpoint("b", "gone")].into(),
            added_assets: [(endpoint("a", "kept"), assets(&["v"]))].into(),
            removed_assets: [(endpoint("a", "kept"), assets(&["x"]))].into(),
        }
    );
    assert_eq!(
        changes.to_string(),
        r#"+d_new {"u"}; -b_gone; a_kept: +{"v"} -{"x"}"#
    );
    assert!(after.changes(&after).is_empty());
    assert_eq!(after.changes(&after).to_string(), "none");
}

/// The next callback of a watch.
fn next(rx: &mpsc::Receiver<Result<Allocation, Error>>) -> Result<Allocation, Error> {
    rx.recv_timeout(PATIENCE).expect("a callback")
}

#[test]
fn the_watch_follows_atomic_swaps_and_reports_only_changes() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut mount = K8sMount::create(
        tmp.path().join("adr_resources_names"),
        &[("thermostat_sse-feed", "boiler\n")],
    );
    let (tx, rx) = mpsc::channel();
    let watch = allocation::watch(mount.path(), DEBOUNCE, move |outcome| {
        let _ = tx.send(outcome);
    })
    .expect("watching");

    // A new endpoint file.
    mount.replace(&[
        ("thermostat_sse-feed", "boiler\n"),
        ("meter_events", "main\n"),
    ]);
    assert_eq!(
        next(&rx).expect("readable"),
        allocation(&[
            ("thermostat", "sse-feed", &["boiler"]),
            ("meter", "events", &["main"]),
        ])
    );

    // A new asset line in an existing file.
    mount.replace(&[
        ("thermostat_sse-feed", "boiler\npump\n"),
        ("meter_events", "main\n"),
    ]);
    assert_eq!(
        next(&rx).expect("readable"),
        allocation(&[
            ("thermostat", "sse-feed", &["boiler", "pump"]),
            ("meter", "events", &["main"]),
        ])
    );

    // A swap to the same allocation (only whitespace differs): no callback.
    mount.replace(&[
        ("thermostat_sse-feed", "pump\n\n  boiler\n"),
        ("meter_events", "main"),
    ]);
    assert!(
        matches!(
            rx.recv_timeout(DEBOUNCE * 10),
            Err(mpsc::RecvTimeoutError::Timeout)
        ),
        "an unchanged allocation is not reported"
    );

    // A file removed.
    mount.replace(&[("meter_events", "main\n")]);
    assert_eq!(
        next(&rx).expect("readable"),
        allocation(&[("meter", "events", &["main"])])
    );

    // Everything removed: an empty allocation.
    mount.replace::<&str>(&[]);
    assert_eq!(next(&rx).expect("readable"), Allocation::default());

    drop(watch);
}

#[test]
fn the_watch_follows_plain_edits_and_reports_a_mount_that_is_gone() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("adr");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::write(dir.join("thermostat_sse-feed"), "").expect("file");
    let (tx, rx) = mpsc::channel();
    let _watch = allocation::watch(&dir, DEBOUNCE, move |outcome| {
        let _ = tx.send(outcome);
    })
    .expect("watching");

    std::fs::write(dir.join("thermostat_sse-feed"), "boiler\n").expect("edit");
    assert_eq!(
        next(&rx).expect("readable"),
        allocation(&[("thermostat", "sse-feed", &["boiler"])])
    );

    std::fs::remove_dir_all(&dir).expect("remove");
    let error = loop {
        // The removal may first show as an empty allocation (the file deleted, the
        // directory not yet), then as the directory being gone.
        match next(&rx) {
            Ok(read) => assert!(read.is_empty(), "{read:?}"),
            Err(error) => break error,
        }
    };
    assert!(
        error.to_string().contains(&dir.display().to_string()),
        "{error}"
    );
}
