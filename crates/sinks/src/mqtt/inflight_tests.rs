//! Tests of the bookkeeping, driven by the reports rumqttc's event loop makes.

use bytes::Bytes;

use super::*;

fn message(topic: &str, qos: Qos) -> Message {
    Message {
        topic: topic.into(),
        qos,
        retain: false,
        expiry_secs: None,
        content_type: None,
        correlation_data: None,
        user_properties: Vec::new(),
        payload: Bytes::from_static(b"{}"),
    }
}

/// The waiter is the message's name, so completions say which message completed.
fn submit(inflight: &mut Inflight<&'static str>, name: &'static str, qos: Qos) -> u64 {
    inflight.submit(message(name, qos), name)
}

fn written(inflight: &mut Inflight<&'static str>, pkid: u16) -> Vec<&'static str> {
    names(inflight.on_report(Report::Written { pkid }))
}

fn acked(inflight: &mut Inflight<&'static str>, pkid: u16) -> Vec<&'static str> {
    names(inflight.on_report(Report::Acked {
        pkid,
        refused: None,
    }))
}

fn names(done: Vec<(&'static str, Result<(), PublishError>)>) -> Vec<&'static str> {
    done.into_iter()
        .map(|(name, result)| {
            assert_eq!(result, Ok(()), "{name}");
            name
        })
        .collect()
}

/// Every replay the state machine hands out now: (name, pkid, dup).
fn replays(inflight: &mut Inflight<&'static str>) -> Vec<(String, u16, bool)> {
    let mut out = Vec::new();
    while let Some(replay) = inflight.next_replay() {
        out.push((replay.message.topic.clone(), replay.pkid, replay.dup));
    }
    out
}

#[test]
fn acknowledgements_complete_the_messages_they_belong_to() {
    let mut inflight = Inflight::new(10);
    submit(&mut inflight, "a", Qos::AtLeastOnce);
    submit(&mut inflight, "b", Qos::AtLeastOnce);
    submit(&mut inflight, "c", Qos::AtLeastOnce);
    assert!(written(&mut inflight, 1).is_empty());
    assert!(written(&mut inflight, 2).is_empty());
    assert!(written(&mut inflight, 3).is_empty());
    // Acknowledgements may come in any order; each completes its own message only.
    assert_eq!(acked(&mut inflight, 2), ["b"]);
    assert_eq!(acked(&mut inflight, 1), ["a"]);
    assert_eq!(acked(&mut inflight, 3), ["c"]);
    assert!(inflight.is_empty());
}

#[test]
fn qos0_completes_when_written_and_keeps_the_order_of_the_channel() {
    let mut inflight = Inflight::new(10);
    submit(&mut inflight, "q1", Qos::AtLeastOnce);
    submit(&mut inflight, "q0", Qos::AtMostOnce);
    assert!(written(&mut inflight, 1).is_empty());
    assert_eq!(written(&mut inflight, 0), ["q0"]);
    assert_eq!(acked(&mut inflight, 1), ["q1"]);
}

#[test]
fn a_refusing_puback_resolves_with_the_reason() {
    let mut inflight = Inflight::new(10);
    submit(&mut inflight, "t/x", Qos::AtLeastOnce);
    written(&mut inflight, 1);
    let done = inflight.on_report(Report::Acked {
        pkid: 1,
        refused: Some((0x87, "NotAuthorized".into())),
    });
    assert_eq!(
        done,
        [(
            "t/x",
            Err(PublishError::Refused {
                topic: "t/x".into(),
                code: 0x87,
                reason: "NotAuthorized".into()
            })
        )]
    );
}

#[test]
fn unknown_and_repeated_acknowledgements_are_ignored() {
    let mut inflight = Inflight::new(10);
    submit(&mut inflight, "a", Qos::AtLeastOnce);
    written(&mut inflight, 1);
    assert!(acked(&mut inflight, 7).is_empty());
    assert_eq!(acked(&mut inflight, 1), ["a"]);
    assert!(acked(&mut inflight, 1).is_empty());
}

#[test]
fn a_parked_publish_is_sent_after_the_ack_of_its_packet_id() {
    let mut inflight = Inflight::new(2);
    submit(&mut inflight, "a", Qos::AtLeastOnce);
    submit(&mut inflight, "b", Qos::AtLeastOnce);
    written(&mut inflight, 1);
    written(&mut inflight, 2);
    // The broker acknowledges b first; c gets id 1, still held by a, and is parked.
    assert_eq!(acked(&mut inflight, 2), ["b"]);
    let c = submit(&mut inflight, "c", Qos::AtLeastOnce);
    assert!(inflight.on_report(Report::Parked { pkid: 1 }).is_empty());
    assert_eq!(inflight.state_of(c), Some(State::Parked));
    // rumqttc reports the ack of a, then writes c under the freed id.
    assert_eq!(acked(&mut inflight, 1), ["a"]);
    assert!(written(&mut inflight, 1).is_empty());
    assert_eq!(inflight.state_of(c), Some(State::Sent));
    assert_eq!(acked(&mut inflight, 1), ["c"]);
}

#[test]
fn after_a_disconnect_everything_unacknowledged_is_replayed_once_in_order() {
    let mut inflight = Inflight::new(10);
    for name in ["a", "b", "c", "d"] {
        submit(&mut inflight, name, Qos::AtLeastOnce);
    }
    written(&mut inflight, 1);
    written(&mut inflight, 2);
    assert_eq!(acked(&mut inflight, 1), ["a"]);
    // b was written; c and d were still in rumqttc's channel and were drained into pending.
    inflight.connection_lost(2);
    inflight.connected(None);
    assert_eq!(
        replays(&mut inflight),
        [
            ("b".into(), 2, true),
            ("c".into(), 1, false),
            ("d".into(), 3, false)
        ]
    );
    // Nothing more until another disconnect: each message is sent again exactly once.
    assert!(replays(&mut inflight).is_empty());
    written(&mut inflight, 2);
    written(&mut inflight, 1);
    written(&mut inflight, 3);
    assert_eq!(acked(&mut inflight, 2), ["b"]);
    assert_eq!(acked(&mut inflight, 1), ["c"]);
    assert_eq!(acked(&mut inflight, 3), ["d"]);
    assert!(inflight.is_empty());
}

#[test]
fn messages_still_in_the_channel_keep_their_turn_after_the_replays() {
    let mut inflight = Inflight::new(10);
    for name in ["a", "b", "c"] {
        submit(&mut inflight, name, Qos::AtLeastOnce);
    }
    written(&mut inflight, 1);
    // Only b was drained; c entered the channel after the drain and stays there.
    inflight.connection_lost(1);
    inflight.connected(None);
    assert_eq!(
        replays(&mut inflight),
        [("a".into(), 1, true), ("b".into(), 2, false)]
    );
    written(&mut inflight, 1);
    written(&mut inflight, 2);
    // The next report after the replays is the channel's head: c, under rumqttc's id.
    written(&mut inflight, 5);
    assert_eq!(acked(&mut inflight, 5), ["c"]);
    assert_eq!(acked(&mut inflight, 1), ["a"]);
    assert_eq!(acked(&mut inflight, 2), ["b"]);
}

#[test]
fn replays_respect_the_brokers_receive_maximum() {
    let mut inflight = Inflight::new(10);
    for name in ["a", "b", "c", "d"] {
        submit(&mut inflight, name, Qos::AtLeastOnce);
    }
    inflight.connection_lost(4);
    inflight.connected(Some(2));
    assert_eq!(
        replays(&mut inflight),
        [("a".into(), 1, false), ("b".into(), 2, false)]
    );
    written(&mut inflight, 1);
    assert!(
        replays(&mut inflight).is_empty(),
        "a and b are unacknowledged"
    );
    written(&mut inflight, 2);
    assert_eq!(acked(&mut inflight, 1), ["a"]);
    assert_eq!(replays(&mut inflight), [("c".into(), 3, false)]);
}

#[test]
fn qos0_replays_do_not_wait_for_the_window() {
    let mut inflight = Inflight::new(1);
    submit(&mut inflight, "q1", Qos::AtLeastOnce);
    submit(&mut inflight, "q0", Qos::AtMostOnce);
    inflight.connection_lost(2);
    inflight.connected(Some(1));
    assert_eq!(
        replays(&mut inflight),
        [("q1".into(), 1, false), ("q0".into(), 0, false)]
    );
    written(&mut inflight, 1);
    assert_eq!(written(&mut inflight, 0), ["q0"]);
}

#[test]
fn a_stale_written_report_is_applied_before_the_loss() {
    let mut inflight = Inflight::new(10);
    submit(&mut inflight, "a", Qos::AtLeastOnce);
    // The write of a failed after rumqttc queued its report: the report is drained first.
    written(&mut inflight, 4);
    inflight.connection_lost(0);
    inflight.connected(None);
    assert_eq!(replays(&mut inflight), [("a".into(), 4, true)]);
}

#[test]
fn a_second_loss_during_the_replay_loses_nothing_and_steals_nothing() {
    let mut inflight = Inflight::new(10);
    submit(&mut inflight, "q0", Qos::AtMostOnce);
    submit(&mut inflight, "q1", Qos::AtLeastOnce);
    inflight.connection_lost(2);
    inflight.connected(None);
    assert_eq!(
        replays(&mut inflight),
        [("q0".into(), 0, false), ("q1".into(), 1, false)]
    );
    // c entered the channel; then the connection dropped again before anything was written.
    // rumqttc's pending held our q0 (id 0) and q1 (id 1), plus c drained from the channel.
    let c = submit(&mut inflight, "c", Qos::AtLeastOnce);
    inflight.connection_lost(2);
    assert_eq!(inflight.state_of(c), Some(State::Backlog));
    inflight.connected(None);
    assert_eq!(
        replays(&mut inflight),
        [
            ("q0".into(), 0, false),
            ("q1".into(), 1, false),
            ("c".into(), 2, false)
        ]
    );
    assert_eq!(written(&mut inflight, 0), ["q0"]);
    written(&mut inflight, 1);
    written(&mut inflight, 2);
    assert_eq!(acked(&mut inflight, 1), ["q1"]);
    assert_eq!(acked(&mut inflight, 2), ["c"]);
}

#[test]
fn a_kept_packet_id_is_not_given_to_another_replay() {
    let mut inflight = Inflight::new(3);
    for name in ["a", "b", "c"] {
        submit(&mut inflight, name, Qos::AtLeastOnce);
    }
    written(&mut inflight, 3);
    written(&mut inflight, 1);
    inflight.connection_lost(1);
    inflight.connected(None);
    // a keeps 3, b keeps 1, c gets the one id left.
    assert_eq!(
        replays(&mut inflight),
        [
            ("a".into(), 3, true),
            ("b".into(), 1, true),
            ("c".into(), 2, false)
        ]
    );
}

#[test]
fn withdraw_refuse_and_drain() {
    let mut inflight = Inflight::new(10);
    let a = submit(&mut inflight, "a", Qos::AtLeastOnce);
    let b = submit(&mut inflight, "b", Qos::AtLeastOnce);
    assert!(
        inflight.withdraw(a).is_none(),
        "only the last submission can be withdrawn"
    );
    assert_eq!(inflight.withdraw(b).map(|(_, w)| w), Some("b"));
    inflight.connection_lost(1);
    inflight.connected(None);
    assert_eq!(replays(&mut inflight).len(), 1);
    let (waiter, error) = inflight.refuse_handed("too large").expect("handed");
    assert_eq!(waiter, "a");
    assert_eq!(error.reason_code(), "invalid_message");
    submit(&mut inflight, "c", Qos::AtMostOnce);
    let drained: Vec<_> = inflight.drain().map(|(m, _)| m.topic).collect();
    assert_eq!(drained, ["c"]);
    assert!(inflight.is_empty());
}
