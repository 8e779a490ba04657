//! The store's rules, one test per rule, on a fake clock.

use super::*;

const NOW: u64 = 1_700_000_000_000;

fn ts(millis: u64, counter: u32) -> HlcTimestamp {
    HlcTimestamp {
        millis,
        counter,
        node_id: "client".into(),
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn cmd(request: Request) -> Command {
    Command {
        request,
        timestamp: Some(ts(NOW, 0)),
        fencing: None,
        client: Some("c1".into()),
    }
}

fn set(key: &str, value: &str) -> Request {
    set_with(key, value, SetCondition::Always, None)
}

fn set_with(key: &str, value: &str, condition: SetCondition, px: Option<u64>) -> Request {
    Request::Set {
        key: b(key),
        value: b(value),
        condition,
        expires_ms: px,
    }
}

fn get(key: &str) -> Request {
    Request::Get { key: b(key) }
}

fn run(store: &mut Store, command: Command) -> Response {
    store.execute(command, NOW).response.expect("a response")
}

fn refused(error: ServiceError) -> Response {
    Response::Error(error.text().to_owned())
}

#[test]
fn set_get_del_and_versions() {
    let mut store = Store::new("svc", 10);
    let outcome = store.execute(cmd(set("k", "v1")), NOW);
    assert_eq!(outcome.response, Some(Response::Ok));
    let v1 = outcome.version.expect("version");
    assert_eq!(outcome.records.len(), 1);
    assert_eq!(outcome.changes[0].value, Some(b("v1")));
    let got = store.execute(cmd(get("k")), NOW);
    assert_eq!(got.response, Some(Response::Value(b("v1"))));
    assert_eq!(got.version, Some(v1.clone()));
    assert!(got.records.is_empty(), "reads write nothing");
    let v2 = store.execute(cmd(set("k", "v2")), NOW).version.expect("v2");
    assert!(v2 > v1, "each write gets a newer version");
    let del = Request::Del { key: b("k") };
    assert_eq!(run(&mut store, cmd(del.clone())), Response::Integer(1));
    assert_eq!(run(&mut store, cmd(del)), Response::Integer(0));
    assert_eq!(run(&mut store, cmd(get("k"))), Response::NotFound);
}

#[test]
fn set_needs_a_timestamp_and_refuses_skew_and_empty_keys() {
    let mut store = Store::new("svc", 10);
    let mut no_ts = cmd(set("k", "v"));
    no_ts.timestamp = None;
    assert_eq!(
        run(&mut store, no_ts),
        refused(ServiceError::MissingTimestamp)
    );
    let mut get_no_ts = cmd(get("k"));
    get_no_ts.timestamp = None;
    assert_eq!(
        run(&mut store, get_no_ts),
        Response::NotFound,
        "only SET needs __ts"
    );
    let mut future = cmd(set("k", "v"));
    future.timestamp = Some(ts(NOW + 61_000, 0));
    assert_eq!(
        run(&mut store, future),
        refused(ServiceError::TimestampSkew)
    );
    let mut ft_future = cmd(set("k", "v"));
    ft_future.fencing = Some(ts(NOW + 61_000, 0));
    assert_eq!(
        run(&mut store, ft_future),
        refused(ServiceError::FencingTokenSkew)
    );
    assert_eq!(
        run(&mut store, cmd(set("", "v"))),
        refused(ServiceError::KeyLengthZero)
    );
    assert_eq!(store.len(), 0);
}

#[test]
fn nx_and_nex_conditions() {
    let mut store = Store::new("svc", 10);
    let nx = |v| set_with("k", v, SetCondition::NotExists, None);
    let nex = |v| set_with("k", v, SetCondition::NotExistsOrEqual, None);
    assert_eq!(run(&mut store, cmd(nx("a"))), Response::Ok);
    assert_eq!(run(&mut store, cmd(nx("b"))), Response::Integer(-1));
    assert_eq!(run(&mut store, cmd(nex("a"))), Response::Ok, "equal value");
    assert_eq!(run(&mut store, cmd(nex("b"))), Response::Integer(-1));
    assert_eq!(run(&mut store, cmd(get("k"))), Response::Value(b("a")));
    assert_eq!(run(&mut store, cmd(nex("x"))), Response::Integer(-1));
    assert_eq!(
        run(
            &mut store,
            cmd(set_with("n", "1", SetCondition::NotExistsOrEqual, None))
        ),
        Response::Ok
    );
}

#[test]
fn vdel_deletes_only_the_given_value() {
    let mut store = Store::new("svc", 10);
    run(&mut store, cmd(set("k", "v")));
    let vdel = |v| Request::VDel {
        key: b("k"),
        value: b(v),
    };
    assert_eq!(run(&mut store, cmd(vdel("other"))), Response::Integer(-1));
    assert_eq!(run(&mut store, cmd(vdel("v"))), Response::Integer(1));
    assert_eq!(run(&mut store, cmd(vdel("v"))), Response::Integer(0));
}

#[test]
fn px_expiry_on_touch_and_by_sweep() {
    let mut store = Store::new("svc", 10);
    run(
        &mut store,
        cmd(set_with("k", "v", SetCondition::Always, Some(100))),
    );
    run(
        &mut store,
        cmd(set_with("j", "v", SetCondition::Always, Some(50))),
    );
    assert_eq!(store.next_expiry(), Some(NOW + 50));
    let later = store.execute(cmd(get("k")), NOW + 100);
    assert_eq!(later.response, Some(Response::NotFound));
    assert_eq!(later.changes.len(), 1, "observers hear the expiry");
    assert_eq!(later.records, vec![Record::Del { key: b("k") }]);
    let swept = store.expire(NOW + 60);
    assert_eq!(swept.changes.len(), 1);
    assert_eq!(store.len(), 0);
    assert_eq!(store.next_expiry(), None);
    // A SET without PX clears the expiry.
    run(
        &mut store,
        cmd(set_with("k", "v", SetCondition::Always, Some(10))),
    );
    run(&mut store, cmd(set("k", "v")));
    assert_eq!(store.next_expiry(), None);
    assert!(store.expire(NOW + 1_000).changes.is_empty());
    // NX on an expired key applies.
    run(
        &mut store,
        cmd(set_with("e", "1", SetCondition::Always, Some(10))),
    );
    let nx = store.execute(
        cmd(set_with("e", "2", SetCondition::NotExists, None)),
        NOW + 10,
    );
    assert_eq!(nx.response, Some(Response::Ok));
}

#[test]
fn fencing_tokens_protect_a_key_once_set() {
    let mut store = Store::new("svc", 10);
    let with_ft = |request, ft: Option<HlcTimestamp>| Command {
        fencing: ft,
        ..cmd(request)
    };
    assert_eq!(
        run(&mut store, cmd(set("k", "free"))),
        Response::Ok,
        "unprotected"
    );
    assert_eq!(
        run(&mut store, with_ft(set("k", "v1"), Some(ts(NOW, 5)))),
        Response::Ok
    );
    assert_eq!(
        run(&mut store, cmd(set("k", "x"))),
        refused(ServiceError::FencingTokenRequired)
    );
    assert_eq!(
        run(&mut store, with_ft(set("k", "x"), Some(ts(NOW, 4)))),
        refused(ServiceError::FencingTokenLowerVersion)
    );
    assert_eq!(
        run(&mut store, with_ft(set("k", "v2"), Some(ts(NOW, 5)))),
        Response::Ok,
        "same holder"
    );
    assert_eq!(
        run(&mut store, with_ft(set("k", "v3"), Some(ts(NOW, 9)))),
        Response::Ok
    );
    assert_eq!(
        run(&mut store, with_ft(set("k", "x"), Some(ts(NOW, 5)))),
        refused(ServiceError::FencingTokenLowerVersion),
        "the newer token replaced the old"
    );
    let del = Request::Del { key: b("k") };
    assert_eq!(
        run(&mut store, cmd(del.clone())),
        refused(ServiceError::FencingTokenRequired)
    );
    let vdel = Request::VDel {
        key: b("k"),
        value: b("v3"),
    };
    assert_eq!(
        run(&mut store, with_ft(vdel, Some(ts(NOW, 1)))),
        refused(ServiceError::FencingTokenLowerVersion)
    );
    assert_eq!(run(&mut store, cmd(get("k"))), Response::Value(b("v3")));
    assert_eq!(
        run(&mut store, with_ft(del, Some(ts(NOW, 9)))),
        Response::Integer(1)
    );
    assert_eq!(run(&mut store, cmd(set("k", "free again"))), Response::Ok);
}

#[test]
fn quota_counts_keys() {
    let mut store = Store::new("svc", 1);
    assert_eq!(run(&mut store, cmd(set("a", "1"))), Response::Ok);
    assert_eq!(
        run(&mut store, cmd(set("a", "2"))),
        Response::Ok,
        "overwrite is fine"
    );
    assert_eq!(
        run(&mut store, cmd(set("b", "1"))),
        refused(ServiceError::QuotaExceeded)
    );
}

#[test]
fn keynotify_registers_and_stops() {
    let mut store = Store::new("svc", 10);
    let notify = |stop| Request::KeyNotify { key: b("k"), stop };
    let first = store.execute(cmd(notify(false)), NOW);
    assert_eq!(first.response, Some(Response::Ok));
    assert_eq!(first.records.len(), 1);
    assert!(
        store.execute(cmd(notify(false)), NOW).records.is_empty(),
        "idempotent"
    );
    assert_eq!(store.watchers(b"k").collect::<Vec<_>>(), ["c1"]);
    assert_eq!(run(&mut store, cmd(notify(true))), Response::Ok);
    assert_eq!(run(&mut store, cmd(notify(true))), Response::Integer(0));
    assert_eq!(store.watchers(b"k").count(), 0);
    let anonymous = Command {
        client: None,
        ..cmd(notify(false))
    };
    assert_eq!(
        run(&mut store, anonymous),
        refused(ServiceError::NotAuthorized)
    );
}

#[test]
fn replaying_the_records_rebuilds_the_state() {
    let mut store = Store::new("svc", 10);
    let mut records = Vec::new();
    for command in [
        cmd(set("a", "1")),
        cmd(set_with("b", "2", SetCondition::Always, Some(5_000))),
        cmd(set("c", "3")),
        cmd(Request::Del { key: b("c") }),
        cmd(Request::KeyNotify {
            key: b("a"),
            stop: false,
        }),
    ] {
        records.extend(store.execute(command, NOW).records);
    }
    let mut copy = Store::new("svc", 10);
    for record in records {
        copy.replay(record);
    }
    let mut compacted = Store::new("svc", 10);
    for record in store.snapshot() {
        compacted.replay(record);
    }
    for other in [&mut copy, &mut compacted] {
        assert_eq!(run(other, cmd(get("a"))), Response::Value(b("1")));
        assert_eq!(run(other, cmd(get("c"))), Response::NotFound);
        assert_eq!(other.next_expiry(), Some(NOW + 5_000));
        assert_eq!(other.watchers(b"a").count(), 1);
        let version = other.execute(cmd(set("a", "x")), NOW).version.expect("v");
        assert!(version > store.execute(cmd(get("b")), NOW).version.expect("b"));
    }
}
