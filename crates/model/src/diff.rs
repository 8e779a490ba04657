//! The difference between two plans: what the runtime must start, restart and stop.

use std::collections::BTreeSet;

use crate::plan::{OperationId, Plan};

/// Operations added, changed (any resolved field differs, including a secret or trust file's
/// version) and removed, going from one plan to the next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanDiff {
    /// In the new plan only.
    pub added: BTreeSet<OperationId>,
    /// In both, different.
    pub changed: BTreeSet<OperationId>,
    /// In the old plan only.
    pub removed: BTreeSet<OperationId>,
}

impl PlanDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// What changed from `old` to `new`.
pub fn diff(old: &Plan, new: &Plan) -> PlanDiff {
    let mut d = PlanDiff::default();
    for (id, op) in &new.operations {
        match old.operations.get(id) {
            None => {
                d.added.insert(id.clone());
            }
            Some(previous) if previous != op => {
                d.changed.insert(id.clone());
            }
            Some(_) => {}
        }
    }
    d.removed = old
        .operations
        .keys()
        .filter(|id| !new.operations.contains_key(*id))
        .cloned()
        .collect();
    d
}
