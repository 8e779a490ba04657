//! Which message each acknowledgement belongs to, and what must be sent again after a
//! reconnect: a state machine that does no I/O.
//!
//! # Why our own bookkeeping
//! rumqttc's `publish()` returns when the request is queued and does not say which packet id
//! the message got. Its event loop reports, in order, `Outgoing::Publish(pkid)` when a publish
//! is written and `Incoming::PubAck` when the broker acknowledges it. This module turns those
//! reports into completions of our [`Delivery`](crate::Delivery) futures:
//!
//! - A message *submitted* to rumqttc's request channel waits in `in_channel` (oldest first).
//!   The next `Written` report that is not for a message we handed over ourselves (below)
//!   belongs to the oldest of them: rumqttc takes requests from its channel in order.
//! - A `Written { pkid }` for a QoS 1 message moves it to `sent` under that packet id; the
//!   `Acked { pkid }` for that id completes it. A QoS 0 message completes when written.
//! - rumqttc parks a publish whose packet id is still unacknowledged (a "collision", possible
//!   only when a broker acknowledges out of order) and reports `Parked { pkid }`; the publish is
//!   written, and reported as `Written { pkid }`, right after the acknowledgement of the older
//!   message with that id.
//!
//! # Reconnects
//! When the connection is lost, rumqttc moves its unacknowledged publishes *and every request
//! still in its channel* into its `pending` queue, which it replays when the broker says the
//! session is present and silently drops when it is not. Its replay is ordered by packet id,
//! not by send order, ignores the broker's Receive Maximum, and can park (and lose) several
//! publishes at once. So the connection task takes that queue away after every disconnect and
//! the state machine replays everything itself ([`Inflight::connection_lost`],
//! [`Inflight::next_replay`]):
//!
//! - every message not yet acknowledged (or, for QoS 0, not yet written) goes to `backlog`, in
//!   the order it was first submitted;
//! - replays keep their packet id (MQTT 5 requires the original id when the session is
//!   present, and it is harmless when it is not) and get a free id otherwise;
//! - replays go first, one window at a time (`window` mirrors rumqttc's limit: the broker's
//!   Receive Maximum capped by ours), so nothing new overtakes them and the broker's limit holds.
//!
//! Each message is therefore sent again exactly once per reconnect, whether or not the broker
//! kept the session: no message is lost, and none is sent twice by the client.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::error::PublishError;
use aio_mqtt::{Message, Qos};

/// What the event loop reported, reduced to what the bookkeeping needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    /// A publish was written; `pkid` is 0 for QoS 0.
    Written {
        /// Packet id.
        pkid: u16,
    },
    /// A publish was parked because its packet id is still in use.
    Parked {
        /// Packet id it waits for.
        pkid: u16,
    },
    /// The broker acknowledged a publish; `refused` holds the reason when it is a failure.
    Acked {
        /// Packet id.
        pkid: u16,
        /// The failure reason code and text, or `None` for success and "no matching
        /// subscribers".
        refused: Option<(u8, String)>,
    },
}

/// A message to hand to the event loop ahead of everything else.
#[derive(Debug)]
pub(crate) struct Replay<'a> {
    /// The message.
    pub message: &'a Message,
    /// Packet id to use (0 for QoS 0).
    pub pkid: u16,
    /// Whether the message may have reached the broker before (the DUP flag).
    pub dup: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    InChannel,
    Backlog,
    Handed,
    Parked,
    Sent,
}

#[derive(Debug)]
struct Entry<W> {
    message: Message,
    waiter: W,
    state: State,
    /// The packet id last used for this message, kept across a disconnect so a replay reuses it.
    pkid: Option<u16>,
    /// Written at least once (so a replay carries DUP).
    written: bool,
}

/// The unacknowledged messages of one publisher, oldest first; `W` completes a message.
#[derive(Debug)]
pub(crate) struct Inflight<W> {
    entries: BTreeMap<u64, Entry<W>>,
    next_seq: u64,
    in_channel: VecDeque<u64>,
    backlog: VecDeque<u64>,
    handed: VecDeque<u64>,
    parked: Option<(u16, u64)>,
    sent: HashMap<u16, u64>,
    /// Packet ids held by a message (sent, handed, or kept for a replay); index = packet id.
    used: Vec<bool>,
    /// Where the search for a free packet id starts.
    cursor: u16,
    max_pkid: u16,
    window: u16,
}

impl<W> Inflight<W> {
    /// Tracks up to `max_in_flight` messages (packet ids 1..=max_in_flight).
    pub(crate) fn new(max_in_flight: u16) -> Self {
        let max_pkid = max_in_flight.max(1);
        Self {
            entries: BTreeMap::new(),
            next_seq: 0,
            in_channel: VecDeque::new(),
            backlog: VecDeque::new(),
            handed: VecDeque::new(),
            parked: None,
            sent: HashMap::new(),
            used: vec![false; usize::from(max_pkid) + 1],
            cursor: 1,
            max_pkid,
            window: max_pkid,
        }
    }

    /// Number of messages not yet completed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether every message has completed.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records a message that is about to enter rumqttc's request channel; returns its number.
    pub(crate) fn submit(&mut self, message: Message, waiter: W) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(
            seq,
            Entry {
                message,
                waiter,
                state: State::InChannel,
                pkid: None,
                written: false,
            },
        );
        self.in_channel.push_back(seq);
        seq
    }

    /// Forgets the message just submitted when it could not enter the channel.
    pub(crate) fn withdraw(&mut self, seq: u64) -> Option<(Message, W)> {
        if self.in_channel.back() != Some(&seq) {
            return None;
        }
        self.in_channel.pop_back();
        self.entries.remove(&seq).map(|e| (e.message, e.waiter))
    }

    /// A CONNACK arrived: the broker's Receive Maximum bounds what may be unacknowledged.
    /// Without one the previous window stays, as in rumqttc.
    pub(crate) fn connected(&mut self, receive_maximum: Option<u16>) {
        if let Some(max) = receive_maximum {
            self.window = max.clamp(1, self.max_pkid);
        }
    }

    /// Applies one report; returns the messages it completed.
    pub(crate) fn on_report(&mut self, report: Report) -> Vec<(W, Result<(), PublishError>)> {
        let mut done = Vec::new();
        match report {
            Report::Written { pkid } => {
                let seq = self.take_written(pkid);
                if let Some(seq) = seq {
                    self.written(seq, pkid, &mut done);
                } else {
                    tracing::debug!(pkid, "publish written that no message waits for");
                }
            }
            Report::Parked { pkid } => {
                let seq = match self.handed.front() {
                    Some(&seq) if self.entry_pkid(seq) == Some(pkid) => self.handed.pop_front(),
                    _ => self.in_channel.pop_front(),
                };
                if let Some(seq) = seq
                    && let Some(entry) = self.entries.get_mut(&seq)
                {
                    entry.state = State::Parked;
                    self.parked = Some((pkid, seq));
                }
            }
            Report::Acked { pkid, refused } => {
                if let Some(seq) = self.sent.remove(&pkid) {
                    self.release(pkid);
                    if let Some(entry) = self.entries.remove(&seq) {
                        let result = match refused {
                            None => Ok(()),
                            Some((code, reason)) => Err(PublishError::Refused {
                                topic: entry.message.topic,
                                code,
                                reason,
                            }),
                        };
                        done.push((entry.waiter, result));
                    }
                } else {
                    tracing::debug!(pkid, "acknowledgement that no message waits for");
                }
            }
        }
        done
    }

    /// Which message a `Written { pkid }` report is for.
    fn take_written(&mut self, pkid: u16) -> Option<u64> {
        if let Some(&seq) = self.handed.front()
            && self.entry_pkid(seq).unwrap_or(0) == pkid
        {
            return self.handed.pop_front();
        }
        if let Some((parked_pkid, seq)) = self.parked
            && parked_pkid == pkid
            && !self.sent.contains_key(&pkid)
        {
            self.parked = None;
            return Some(seq);
        }
        self.in_channel.pop_front()
    }

    fn entry_pkid(&self, seq: u64) -> Option<u16> {
        self.entries.get(&seq).and_then(|e| e.pkid)
    }

    fn written(&mut self, seq: u64, pkid: u16, done: &mut Vec<(W, Result<(), PublishError>)>) {
        let Some(entry) = self.entries.get_mut(&seq) else {
            return;
        };
        match entry.message.qos {
            Qos::AtMostOnce => {
                if let Some(entry) = self.entries.remove(&seq) {
                    done.push((entry.waiter, Ok(())));
                }
            }
            Qos::AtLeastOnce => {
                entry.state = State::Sent;
                entry.written = true;
                entry.pkid = Some(pkid);
                if let Some(slot) = self.used.get_mut(usize::from(pkid)) {
                    *slot = true;
                }
                self.sent.insert(pkid, seq);
            }
        }
    }

    /// The connection is gone. `new_requests_drained` is how many publishes without a packet
    /// id rumqttc moved from its request channel into its pending queue (which the caller has
    /// emptied): with everything unacknowledged, they go to the backlog.
    pub(crate) fn connection_lost(&mut self, new_requests_drained: usize) {
        let handed_qos0 = self
            .handed
            .iter()
            .filter(|seq| {
                self.entries
                    .get(seq)
                    .is_some_and(|e| e.message.qos == Qos::AtMostOnce)
            })
            .count();
        let drained = new_requests_drained.saturating_sub(handed_qos0);
        let mut lost: Vec<u64> = self.backlog.drain(..).collect();
        lost.extend(self.handed.drain(..));
        lost.extend(self.sent.drain().map(|(_, seq)| seq));
        lost.extend(self.parked.take().map(|(_, seq)| seq));
        for _ in 0..drained {
            match self.in_channel.pop_front() {
                Some(seq) => lost.push(seq),
                None => break,
            }
        }
        lost.sort_unstable();
        for &seq in &lost {
            if let Some(entry) = self.entries.get_mut(&seq) {
                entry.state = State::Backlog;
            }
        }
        self.backlog = lost.into();
    }

    /// The next message to replay ahead of new ones, if there is one and the window has room;
    /// the caller puts it into rumqttc's pending queue. Call after every report.
    pub(crate) fn next_replay(&mut self) -> Option<Replay<'_>> {
        if self.parked.is_some() {
            // Cannot happen (a backlog exists only after a disconnect, which clears the parked
            // publish), but the parked publish's packet id must never be handed out.
            return None;
        }
        let &seq = self.backlog.front()?;
        let qos = self.entries.get(&seq)?.message.qos;
        let pkid = if qos == Qos::AtLeastOnce {
            let unacked = self.sent.len() + self.handed.len();
            if unacked >= usize::from(self.window) {
                return None;
            }
            let kept = self
                .entries
                .get(&seq)
                .and_then(|e| e.pkid)
                .filter(|&p| !self.sent.contains_key(&p) && !self.is_handed_pkid(p));
            kept.or_else(|| self.free_pkid())?
        } else {
            0
        };
        self.backlog.pop_front();
        self.handed.push_back(seq);
        let entry = self.entries.get_mut(&seq)?;
        entry.state = State::Handed;
        if pkid != 0 {
            // A replaced id is held by another message (that is why it was replaced); that
            // message frees it.
            entry.pkid = Some(pkid);
            if let Some(slot) = self.used.get_mut(usize::from(pkid)) {
                *slot = true;
            }
        }
        Some(Replay {
            message: &entry.message,
            pkid,
            dup: entry.written,
        })
    }

    /// Completes a replay that cannot be sent (for example larger than the broker accepts).
    pub(crate) fn refuse_handed(&mut self, reason: &str) -> Option<(W, PublishError)> {
        let seq = self.handed.pop_back()?;
        let entry = self.entries.remove(&seq)?;
        if let Some(pkid) = entry.pkid {
            self.release(pkid);
        }
        let error = PublishError::Invalid {
            topic: entry.message.topic,
            reason: reason.to_owned(),
        };
        Some((entry.waiter, error))
    }

    fn is_handed_pkid(&self, pkid: u16) -> bool {
        self.handed
            .iter()
            .any(|seq| self.entry_pkid(*seq) == Some(pkid))
    }

    /// Marks a packet id free unless a message waiting for a replay keeps it.
    fn release(&mut self, pkid: u16) {
        let kept = self
            .backlog
            .iter()
            .any(|seq| self.entry_pkid(*seq) == Some(pkid));
        if !kept && let Some(slot) = self.used.get_mut(usize::from(pkid)) {
            *slot = false;
        }
    }

    fn free_pkid(&mut self) -> Option<u16> {
        for _ in 0..self.max_pkid {
            let pkid = self.cursor;
            self.cursor = if self.cursor >= self.max_pkid {
                1
            } else {
                self.cursor + 1
            };
            if !self.used[usize::from(pkid)] && !self.sent.contains_key(&pkid) {
                return Some(pkid);
            }
        }
        None
    }

    /// Takes every message out, oldest first (shutdown).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (Message, W)> + use<W> {
        self.in_channel.clear();
        self.backlog.clear();
        self.handed.clear();
        self.sent.clear();
        self.parked = None;
        self.used.fill(false);
        std::mem::take(&mut self.entries)
            .into_values()
            .map(|e| (e.message, e.waiter))
    }

    /// State of the message numbered `seq` (tests).
    #[cfg(test)]
    fn state_of(&self, seq: u64) -> Option<State> {
        self.entries.get(&seq).map(|e| e.state)
    }
}

#[cfg(test)]
#[path = "inflight_tests.rs"]
mod tests;
