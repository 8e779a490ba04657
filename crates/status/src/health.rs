//! **Runtime health** from stream states: connected is `Available`; reconnecting or failed is
//! `Unavailable` (`SseConnectorStreamError`); closed by a 204 is `Unavailable`
//! (`SseConnectorStreamClosed`); connecting keeps the health a part had ([`CONNECTING`]). An
//! endpoint's health is the worst of its streams'; an asset's is aggregated from its parts.

use std::collections::BTreeSet;

use model::plan::Operation;
use supervisor::StreamState;

use crate::aio::{HealthStatus, RuntimeHealth, reason};
use crate::assemble::StreamObservation;

/// The message of a part whose stream is connecting: health stays what it was (see
/// [`crate::stamps`]), or `Unknown` at first.
pub(crate) const CONNECTING: &str = "connecting";

/// A health without times (see [`crate::stamps`]).
pub(crate) fn health(
    status: HealthStatus,
    reason_code: Option<&str>,
    message: Option<String>,
    version: Option<u64>,
) -> RuntimeHealth {
    RuntimeHealth {
        status,
        reason_code: reason_code.map(str::to_owned),
        message,
        last_transition_time: String::new(),
        last_update_time: String::new(),
        version,
    }
}

/// The health a stream's state gives the parts reading it.
pub(crate) fn state_health(state: &StreamState, version: Option<u64>) -> RuntimeHealth {
    match state {
        StreamState::Connecting => health(
            HealthStatus::Unknown,
            None,
            Some(CONNECTING.into()),
            version,
        ),
        StreamState::Connected => health(HealthStatus::Available, None, None, version),
        StreamState::Backoff { reason, .. } | StreamState::Failed { reason, .. } => health(
            HealthStatus::Unavailable,
            Some(reason::STREAM_ERROR),
            Some(format!("SSE stream error: {reason}")),
            version,
        ),
        StreamState::Closed { reason } => health(
            HealthStatus::Unavailable,
            Some(reason::STREAM_CLOSED),
            Some(format!("SSE stream closed: {reason}")),
            version,
        ),
    }
}

/// An endpoint's health: the worst of its streams'; `Unknown` when no asset reads it.
pub(crate) fn endpoint_health(
    streams: &[(&Operation, &StreamObservation)],
    version: Option<u64>,
) -> RuntimeHealth {
    let mut seen = BTreeSet::new();
    let mut worst: Option<RuntimeHealth> = None;
    for (_, stream) in streams {
        if !seen.insert(&stream.url) {
            continue;
        }
        let h = state_health(&stream.state, version);
        let rank = |s: HealthStatus| match s {
            HealthStatus::Available => 0,
            HealthStatus::Unknown => 1,
            HealthStatus::Degraded => 2,
            HealthStatus::Unavailable => 3,
        };
        if worst
            .as_ref()
            .is_none_or(|w| rank(h.status) > rank(w.status))
        {
            worst = Some(h);
        }
    }
    worst.unwrap_or_else(|| {
        health(
            HealthStatus::Unknown,
            None,
            Some("no asset reads this endpoint".into()),
            version,
        )
    })
}

/// An asset's health from its parts' (see [`AssetHealth::status`](crate::report::AssetHealth::status)).
pub(crate) fn aggregate(parts: impl Iterator<Item = HealthStatus>) -> HealthStatus {
    let parts: Vec<HealthStatus> = parts.collect();
    let count = |s: HealthStatus| parts.iter().filter(|p| **p == s).count();
    let known = parts.len() - count(HealthStatus::Unknown);
    if known == 0 {
        HealthStatus::Unknown
    } else if count(HealthStatus::Unavailable) == parts.len() {
        HealthStatus::Unavailable
    } else if count(HealthStatus::Unavailable) + count(HealthStatus::Degraded) > 0 {
        HealthStatus::Degraded
    } else {
        HealthStatus::Available
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_health_aggregates_its_parts() {
        use HealthStatus::*;
        assert_eq!(aggregate([].into_iter()), Unknown);
        assert_eq!(aggregate([Unknown, Unknown].into_iter()), Unknown);
        assert_eq!(aggregate([Available, Unknown].into_iter()), Available);
        assert_eq!(aggregate([Available, Available].into_iter()), Available);
        assert_eq!(aggregate([Available, Degraded].into_iter()), Degraded);
        assert_eq!(aggregate([Available, Unavailable].into_iter()), Degraded);
        assert_eq!(
            aggregate([Unavailable, Unavailable].into_iter()),
            Unavailable
        );
    }
}
