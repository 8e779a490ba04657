//! [`Tracker`] (pure) keeps the events of one stream in reading order with the number of
//! their deliveries still pending. The checkpoint moves to an event's last event id when that
//! event's deliveries, to every operation, have all succeeded (or were written to the
//! dead-letter file), and so have those of every event before it. A delivery that fails is
//! retried by the stream task and resolved only when it is done; a delivery that can never
//! complete (its destination shut down) stalls the checkpoint for good, so the event is read
//! again at the next start: an event is never skipped.

use std::collections::VecDeque;

use sse_client::SmolStr;

/// Identifies an event in a [`Tracker`]: its position in reading order.
pub type Seq = u64;

#[derive(Debug)]
struct Entry {
    seq: Seq,
    last_event_id: SmolStr,
    pending: usize,
    failed: bool,
}

/// The ordered window of events in flight on one stream, and the checkpoint behind it.
#[derive(Debug, Default)]
pub struct Tracker {
    queue: VecDeque<Entry>,
    next_seq: Seq,
    checkpoint: Option<SmolStr>,
    dirty: bool,
    stalled: bool,
}

impl Tracker {
    /// A tracker resuming from `checkpoint` (the persisted one, if any).
    pub fn new(checkpoint: Option<&str>) -> Self {
        Self {
            checkpoint: checkpoint.map(SmolStr::new),
            ..Self::default()
        }
    }

    /// Adds the next event read, with `deliveries` deliveries to wait for (0: nothing to
    /// deliver, it counts as done at once). Returns its [`Seq`].
    pub fn push(&mut self, last_event_id: &SmolStr, deliveries: usize) -> Seq {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push_back(Entry {
            seq,
            last_event_id: last_event_id.clone(),
            pending: deliveries,
            failed: false,
        });
        self.advance();
        seq
    }

    /// Records the outcome of one delivery of event `seq`. Returns `true` when this failure
    /// stalled the checkpoint (the first failure only).
    pub fn resolve(&mut self, seq: Seq, ok: bool) -> bool {
        let Some(front) = self.queue.front() else {
            return false;
        };
        let index = seq
            .checked_sub(front.seq)
            .and_then(|i| usize::try_from(i).ok());
        let Some(entry) = index.and_then(|i| self.queue.get_mut(i)) else {
            return false; // unknown or already done: nothing to do
        };
        entry.pending = entry.pending.saturating_sub(1);
        let newly_stalled = !ok && !self.stalled;
        if !ok {
            entry.failed = true;
            self.stalled = true;
        }
        self.advance();
        newly_stalled
    }

    /// Drops the done events at the front; moves the checkpoint past them unless stalled.
    fn advance(&mut self) {
        while let Some(front) = self.queue.front() {
            if front.pending > 0 {
                break;
            }
            if front.failed {
                self.stalled = true;
            }
            let done = self.queue.pop_front();
            if !self.stalled
                && let Some(done) = done
                && self.checkpoint.as_ref() != Some(&done.last_event_id)
            {
                self.checkpoint = Some(done.last_event_id);
                self.dirty = true;
            }
        }
    }

    /// Events read whose deliveries (or those of an event before them) are still pending:
    /// the window the in-flight limit bounds.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// The oldest event still in the window, if any.
    pub fn oldest(&self) -> Option<Seq> {
        self.queue.front().map(|entry| entry.seq)
    }

    /// The last event id every event up to which is delivered.
    pub fn checkpoint(&self) -> Option<&str> {
        self.checkpoint.as_deref()
    }

    /// Whether a failed delivery stopped the checkpoint.
    pub fn is_stalled(&self) -> bool {
        self.stalled
    }

    /// Whether the checkpoint moved since the last [`take_dirty`](Self::take_dirty).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The checkpoint to persist, once per change.
    pub fn take_dirty(&mut self) -> Option<SmolStr> {
        if std::mem::take(&mut self.dirty) {
            self.checkpoint.clone()
        } else {
            None
        }
    }

    /// Marks the checkpoint to be persisted again (its last write failed).
    pub fn mark_dirty(&mut self) {
        self.dirty = self.checkpoint.is_some();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SmolStr {
        SmolStr::new(s)
    }

    #[test]
    fn moves_only_when_every_delivery_and_all_before_are_done() {
        let mut t = Tracker::new(None);
        let a = t.push(&id("1"), 2);
        let b = t.push(&id("2"), 1);
        let c = t.push(&id("3"), 1);
        assert_eq!(t.in_flight(), 3);
        t.resolve(c, true);
        t.resolve(b, true);
        assert_eq!(t.checkpoint(), None, "event 1 still pending");
        t.resolve(a, true);
        assert_eq!(t.checkpoint(), None, "one of two deliveries of event 1");
        t.resolve(a, true);
        assert_eq!(t.checkpoint(), Some("3"), "everything done, out of order");
        assert_eq!(t.in_flight(), 0);
        assert_eq!(t.take_dirty().as_deref(), Some("3"));
        assert_eq!(t.take_dirty(), None, "once per change");
    }

    #[test]
    fn events_without_deliveries_pass_once_earlier_ones_are_done() {
        let mut t = Tracker::new(Some("0"));
        let a = t.push(&id("1"), 1);
        t.push(&id("2"), 0); // matched no operation
        assert_eq!(t.checkpoint(), Some("0"));
        t.resolve(a, true);
        assert_eq!(t.checkpoint(), Some("2"));
        t.push(&id("3"), 0);
        assert_eq!(t.checkpoint(), Some("3"), "nothing in front: at once");
    }

    #[test]
    fn a_failure_stalls_the_checkpoint_for_good() {
        let mut t = Tracker::new(Some("0"));
        let a = t.push(&id("1"), 1);
        let b = t.push(&id("2"), 2);
        let c = t.push(&id("3"), 1);
        t.resolve(a, true);
        assert_eq!(t.checkpoint(), Some("1"));
        assert!(t.resolve(b, false), "first failure reported");
        t.resolve(b, true);
        t.resolve(c, true);
        assert_eq!(t.checkpoint(), Some("1"), "never past the failed event");
        assert!(t.is_stalled());
        assert_eq!(t.in_flight(), 0, "done events still leave the window");
        let d = t.push(&id("4"), 1);
        assert!(
            !t.resolve(d, false),
            "later failures are not reported again"
        );
        assert_eq!(t.checkpoint(), Some("1"));
    }

    #[test]
    fn unchanged_ids_do_not_dirty_and_unknown_seqs_are_ignored() {
        let mut t = Tracker::new(Some("5"));
        t.push(&id("5"), 0); // an event that inherited the id
        assert!(!t.is_dirty());
        assert!(!t.resolve(42, false), "unknown seq");
        assert!(!t.is_stalled());
        t.push(&id(""), 0); // the server cleared the id
        assert_eq!(t.checkpoint(), Some(""));
        assert!(t.is_dirty());
        t.take_dirty();
        t.mark_dirty();
        assert_eq!(t.take_dirty().as_deref(), Some(""));
    }
}
