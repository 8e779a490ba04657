//! A stream's checkpoint file (`STATE_DIR/checkpoints/s-*.json`), read when the stream
//! starts: no panic on any content, and any `Last-Event-ID` saved loads back unchanged.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use model::plan::{Credentials, StreamSpec};
use supervisor::CheckpointStore;
use tempfile::TempDir;

static STATE_DIR: LazyLock<TempDir> =
    LazyLock::new(|| tempfile::tempdir().expect("a temporary state directory"));

fuzz_target!(|data: &[u8]| {
    let store = CheckpointStore::new(STATE_DIR.path());
    let stream = StreamSpec {
        url: "http://device.local/events".parse().expect("URL"),
        credentials: Credentials::Anonymous,
        trust: Vec::new(),
    };
    let path = store.path_for(&stream);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("checkpoints directory");
    std::fs::write(&path, data).expect("write the file under test");
    let _ = store.load(&stream, None);

    let id = String::from_utf8_lossy(data);
    store.save(&stream, &id).expect("save");
    assert_eq!(
        store.load(&stream, None).expect("load"),
        Some(id.into_owned())
    );
});
