//! The `Storage` file sink on real files: rotation by size, a restart after a crash that left
//! a torn line, concurrent producers on one file, and paths that leave the root.
#![allow(missing_docs, clippy::unwrap_used)]

use std::fs;
use std::path::Path;

use sinks::PublishError;
use sinks::file::{Durability, FileOptions, FileSinks, Line, Record};

/// A line whose data is `text` (a JSON string, as it is not JSON itself) and whose `sse-id` is
/// `id`.
fn line(id: &str, text: &str) -> Line {
    Line::new(&Record {
        time: "2026-05-01T10:15:30Z",
        event_type: "DataSet",
        id: "00000000-0000-4000-8000-000000000000",
        subject: "asset/dataset",
        sse_event: "message",
        sse_id: id,
        data: text.as_bytes(),
    })
}

/// The `sse-id`s of a file's lines; panics unless every line is whole JSON.
fn ids(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{path:?} ends with a whole line"
    );
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{path:?}: not a JSON line ({e}): {l:?}"));
            v["sse-id"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn append_all(files: &FileSinks, path: &str, range: std::ops::Range<usize>) {
    let mut deliveries = Vec::new();
    for i in range {
        let delivery = files
            .append(path, line(&format!("{i:04}"), "payload"))
            .await
            .unwrap();
        deliveries.push(delivery);
    }
    for delivery in deliveries {
        assert_eq!(delivery.await, Ok(()));
    }
}

#[tokio::test]
async fn rotation_by_size_keeps_whole_lines_and_the_newest_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    let len = line("0000", "payload").len() as u64;
    let options = FileOptions {
        max_file_bytes: 10 * len, // exactly ten lines a file
        keep: 3,
        durability: Durability::Sync,
    };
    let files = FileSinks::new(&root, options);
    append_all(&files, "out/data.jsonl", 0..57).await;

    let name = |n: Option<u32>| match n {
        None => root.join("out/data.jsonl"),
        Some(n) => root.join(format!("out/data.{n}.jsonl")),
    };
    let mut names: Vec<String> = fs::read_dir(root.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["data.1.jsonl", "data.2.jsonl", "data.3.jsonl", "data.jsonl"],
        "the current file and three rotated ones; older ones deleted"
    );
    let expect = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("{i:04}")).collect()
    };
    // 57 lines, ten a file: 0-9, 10-19 deleted; 20-29 (.3), 30-39 (.2), 40-49 (.1), 50-56.
    assert_eq!(ids(&name(Some(3))), expect(20..30));
    assert_eq!(ids(&name(Some(2))), expect(30..40));
    assert_eq!(ids(&name(Some(1))), expect(40..50));
    assert_eq!(ids(&name(None)), expect(50..57));
    for n in [Some(1), Some(2), Some(3), None] {
        assert!(fs::metadata(name(n)).unwrap().len() <= options.max_file_bytes);
    }

    // A line larger than the limit gets a file of its own; the next one starts a new file.
    let big = "x".repeat(usize::try_from(options.max_file_bytes).unwrap());
    let delivery = files
        .append("out/data.jsonl", line("big", &big))
        .await
        .unwrap();
    assert_eq!(delivery.await, Ok(()));
    append_all(&files, "out/data.jsonl", 57..58).await;
    assert_eq!(ids(&name(Some(1))), ["big"]);
    assert_eq!(ids(&name(Some(2))), expect(50..57));
    assert_eq!(ids(&name(None)), expect(57..58));
    files.close().await;
}

#[tokio::test]
async fn a_restart_after_a_torn_line_loses_nothing_and_keeps_no_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    let path = root.join("events.jsonl");
    let files = FileSinks::new(&root, FileOptions::default());
    append_all(&files, "events.jsonl", 0..5).await;
    files.close().await;

    // A crash in the middle of the write of line 5: its delivery never resolved, so its
    // event is read again and written again after the restart.
    let torn = line("0005", "payload");
    let mut content = fs::read(&path).unwrap();
    content.extend_from_slice(&torn.as_bytes()[..torn.len() / 2]);
    fs::write(&path, &content).unwrap();
    assert!(
        ids_lossy(&path).contains(&None),
        "the file holds a torn line now"
    );

    let files = FileSinks::new(&root, FileOptions::default());
    append_all(&files, "events.jsonl", 5..10).await;
    files.close().await;
    let expected: Vec<String> = (0..10).map(|i| format!("{i:04}")).collect();
    assert_eq!(ids(&path), expected, "every line once, whole, in order");

    // A power loss can leave zeros instead of the last bytes: cut off the same way.
    let mut content = fs::read(&path).unwrap();
    content.extend_from_slice(&[0; 300]);
    fs::write(&path, &content).unwrap();
    let files = FileSinks::new(&root, FileOptions::default());
    append_all(&files, "events.jsonl", 10..11).await;
    files.close().await;
    let expected: Vec<String> = (0..11).map(|i| format!("{i:04}")).collect();
    assert_eq!(ids(&path), expected);
}

/// Each line's `sse-id`, or `None` for a line that is not JSON.
fn ids_lossy(path: &Path) -> Vec<Option<String>> {
    String::from_utf8_lossy(&fs::read(path).unwrap())
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["sse-id"].as_str().map(str::to_owned))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_on_one_file_keep_their_order() {
    const PRODUCERS: usize = 4;
    const EACH: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    let options = FileOptions {
        max_file_bytes: 0, // no rotation: one file to check
        ..FileOptions::default()
    };
    let files = FileSinks::new(&root, options);
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let files = files.clone();
        producers.push(tokio::spawn(async move {
            let mut deliveries = Vec::new();
            for n in 0..EACH {
                let line = line(&format!("{p}:{n}"), &format!("producer {p}"));
                deliveries.push(files.append("shared/all.jsonl", line).await.unwrap());
                if n % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            for delivery in deliveries {
                assert_eq!(delivery.await, Ok(()));
            }
        }));
    }
    for producer in producers {
        producer.await.unwrap();
    }
    let all = ids(&root.join("shared/all.jsonl"));
    assert_eq!(all.len(), PRODUCERS * EACH, "every line, once");
    for p in 0..PRODUCERS {
        let mine: Vec<usize> = all
            .iter()
            .filter_map(|id| id.split_once(':'))
            .filter(|(who, _)| *who == p.to_string())
            .map(|(_, n)| n.parse().unwrap())
            .collect();
        assert_eq!(mine, (0..EACH).collect::<Vec<_>>(), "producer {p} in order");
    }
    files.close().await;
}

#[tokio::test]
async fn paths_that_leave_the_root_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let files = FileSinks::new(&root, FileOptions::default());
    for bad in [
        "",
        "../escape.jsonl",
        "a/../../escape.jsonl",
        "/etc/escape.jsonl",
        "a//b.jsonl",
        "./a.jsonl",
        "a\\..\\b.jsonl",
    ] {
        let refused = files.append(bad, line("1", "x")).await;
        assert!(
            matches!(refused, Err(PublishError::StoragePath { .. })),
            "{bad:?}: {refused:?}"
        );
    }

    // Symbolic links out of the root: a directory, and a file.
    fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.join("target.jsonl"), root.join("file.jsonl")).unwrap();
    for bad in ["link/escape.jsonl", "file.jsonl"] {
        let delivery = files.append(bad, line("1", "x")).await.unwrap();
        let result = delivery.await;
        assert!(
            matches!(&result, Err(PublishError::StoragePath { path, .. }) if path == bad),
            "{bad:?}: {result:?}"
        );
    }
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside the root"
    );

    // A path inside the root still works, and close refuses what comes after.
    append_all(&files, "inside/ok.jsonl", 0..1).await;
    assert_eq!(ids(&root.join("inside/ok.jsonl")), ["0000"]);
    files.close().await;
    let closed = files.append("inside/ok.jsonl", line("1", "x")).await;
    assert!(matches!(closed, Err(PublishError::Closed)), "{closed:?}");
}

#[tokio::test]
async fn written_durability_and_no_rotation_still_write_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileOptions {
        max_file_bytes: 0,
        keep: 0,
        durability: Durability::Written,
    };
    let files = FileSinks::new(dir.path(), options);
    append_all(&files, "a.jsonl", 0..100).await;
    files.close().await;
    assert_eq!(ids(&dir.path().join("a.jsonl")).len(), 100);
}

#[tokio::test]
async fn keep_zero_deletes_full_files() {
    let dir = tempfile::tempdir().unwrap();
    let len = line("0000", "payload").len() as u64;
    let options = FileOptions {
        max_file_bytes: 2 * len,
        keep: 0,
        durability: Durability::Sync,
    };
    let files = FileSinks::new(dir.path(), options);
    append_all(&files, "a.jsonl", 0..5).await;
    files.close().await;
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["a.jsonl"]);
    assert_eq!(ids(&dir.path().join("a.jsonl")), ["0004"]);
}
