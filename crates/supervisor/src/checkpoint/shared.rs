//! [`SharedCheckpoints`]: each stream's checkpoint in AIO's state store, where the replica
//! that takes a device endpoint over reads it, guarded by a lease and fencing tokens so
//! that a replica that lost the endpoint can never move it backwards or overwrite the new
//! owner's.
//!
//! # Keys
//! Per stream, `{base}` = `sse-connector/checkpoints/{device}_{endpoint}/{hash}`, where
//! `{device}_{endpoint}` is the device endpoint the stream reads (the first in name order
//! when several share one stream) and `{hash}` the 16 hex digits that also name its file
//! (FNV-1a 64 of the stream's identity: URL, credential and trust file paths; replicas of one
//! template mount them at the same paths):
//! - `{base}`: the checkpoint, JSON `{"stream":…,"lastEventId":"42","owner":"…"}`
//!   (`lastEventId` absent: the stream had none yet); written with `__ft`.
//! - `{base}/lock`: the lease, holding the owner's id (the connector's session id), with a
//!   `PX` expiry.
//!
//! # Protocol
//! 1. **Acquire** ([`SharedCheckpoints::acquire`]): `SET lock holder NEX PX lease` every
//!    [`LeaseTiming::poll`] until it applies: while another replica holds the lease, it is
//!    still saving its checkpoint (or it died, and the lease expires). The version the store
//!    gave that SET (its reply's `__ts`, an HLC timestamp of the store) is the fencing token:
//!    newer than any earlier holder's.
//! 2. **Claim**: `GET` the checkpoint, then `SET` the same bytes (or, when there is none,
//!    the persistent-volume file's checkpoint) `NEX` with `__ft` = token; `:-1` means a write
//!    came in between: read again. Once the claim applied, the store refuses every write
//!    with an older token, so the previous owner can neither move the checkpoint back nor
//!    overwrite it; and the claimed value is the one the stream resumes from.
//! 3. **Keep**: every [`LeaseTiming::interval`] the keeper task renews the lease (the same
//!    `SET NEX PX`) and writes the checkpoint if it moved (fenced). The stream hands it only
//!    checkpoints whose events the destinations acknowledged, so the store never gets ahead
//!    of the deliveries. A renewal that does not apply, a write refused for an older token,
//!    or no renewal for a whole lease, means the lease is lost: the stream stops reading,
//!    drains, and acquires again.
//! 4. **Release** ([`Owner::release`]): the final checkpoint, then `VDEL lock holder`; the
//!    next owner's acquire applies at its next poll.
//!
//! When the store does not answer while a stream acquires, the stream runs on its file
//! checkpoint alone (logged); the file is written in every case.

use std::sync::Arc;
use std::time::Duration;

use model::plan::{DeviceIdentity, StreamSpec};
use serde::{Deserialize, Serialize};
use sse_client::SmolStr;
use statestore::{
    Error as StoreError, ErrorKind, HlcTimestamp, ServiceError, SetCondition, SetOptions,
    StateStoreClient,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::store::identity;
use crate::state_file::fnv1a64;

/// The prefix of every key.
pub const KEY_PREFIX: &str = "sse-connector/checkpoints/";

/// How long a request to the store may take before the store counts as not answering.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a lease lasts, how often it is renewed and the checkpoint written, and how often
/// a replica waiting for it asks again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// The lease's `PX`: how long a replica that died keeps the endpoint.
    pub lease: Duration,
    /// How often the owner renews the lease and writes a moved checkpoint.
    pub interval: Duration,
    /// How often a replica waiting for the lease asks for it.
    pub poll: Duration,
}

impl Default for LeaseTiming {
    /// A 10 s lease, renewed (and the checkpoint written) every 2 s, asked for every 250 ms.
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(10),
            interval: Duration::from_secs(2),
            poll: Duration::from_millis(250),
        }
    }
}

/// Checkpoints in the state store (see the module documentation); cheap to clone.
#[derive(Debug, Clone)]
pub struct SharedCheckpoints {
    client: StateStoreClient,
    holder: Arc<str>,
    timing: LeaseTiming,
}

/// The checkpoint value.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    stream: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_event_id: Option<String>,
    owner: String,
}

/// The keys of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamKeys {
    /// The checkpoint's key.
    pub(crate) checkpoint: String,
    lock: String,
    identity: String,
}

/// Where an [`acquire`](SharedCheckpoints::acquire) ended.
pub(crate) enum Acquired {
    /// This replica owns the stream; it resumes from `checkpoint`.
    Owned {
        checkpoint: Option<String>,
        owner: Owner,
    },
    /// The store did not answer: the stream runs on its file checkpoint.
    Unavailable,
    /// The stream was stopped while waiting.
    Stopped,
}

impl SharedCheckpoints {
    /// Checkpoints kept through `client`, leases held as `holder` (unique per replica: the
    /// connector's session id), with the default [`LeaseTiming`]. Requests wait 3 s for
    /// their answer.
    pub fn new(client: &StateStoreClient, holder: impl Into<Arc<str>>) -> Self {
        Self {
            client: client.with_timeout(REQUEST_TIMEOUT),
            holder: holder.into(),
            timing: LeaseTiming::default(),
        }
    }

    /// With other lease timings.
    pub fn with_timing(mut self, timing: LeaseTiming) -> Self {
        self.timing = timing;
        self
    }

    /// The lease holder's id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The keys of `stream`, read from `device`'s endpoint.
    pub(crate) fn keys(device: &DeviceIdentity, stream: &StreamSpec) -> StreamKeys {
        let identity = identity(stream);
        let checkpoint = format!(
            "{KEY_PREFIX}{}_{}/{:016x}",
            device.name,
            device.endpoint,
            fnv1a64(&identity)
        );
        StreamKeys {
            lock: format!("{checkpoint}/lock"),
            checkpoint,
            identity,
        }
    }

    /// Waits for the lease of `keys`, claims the checkpoint (see the module documentation)
    /// and starts the keeper. `file` is the persistent volume's checkpoint, the start when
    /// the store has none.
    ///
    /// # Cancel safety
    /// Returns [`Acquired::Stopped`] when `stop` is cancelled while waiting; dropping the
    /// future may leave a lease behind that expires.
    pub(crate) async fn acquire(
        &self,
        keys: &StreamKeys,
        file: Option<String>,
        stop: &CancellationToken,
    ) -> Acquired {
        let mut waiting = false;
        loop {
            let token = match self.lease_of(&keys.lock).await {
                Ok(Some(token)) => token,
                Ok(None) => {
                    if !waiting {
                        waiting = true;
                        let holder = self.client.get(keys.lock.clone()).await.ok().flatten();
                        tracing::info!(key = %keys.lock, holder = ?holder.as_deref().map(String::from_utf8_lossy),
                            "waiting for the checkpoint lease of another replica");
                    }
                    tokio::select! {
                        () = stop.cancelled() => return Acquired::Stopped,
                        () = tokio::time::sleep(self.timing.poll) => continue,
                    }
                }
                Err(error) => return self.unavailable(keys, &error),
            };
            match self.claim(keys, &token, file.as_deref()).await {
                Ok(Some(checkpoint)) => {
                    tracing::debug!(key = %keys.checkpoint, ?checkpoint, "checkpoint lease acquired");
                    let owner = Owner::start(self.clone(), keys.clone(), token, checkpoint.clone());
                    return Acquired::Owned { checkpoint, owner };
                }
                // A newer holder fenced the key: the lease was lost meanwhile; wait again.
                Ok(None) => {
                    tokio::select! {
                        () = stop.cancelled() => return Acquired::Stopped,
                        () = tokio::time::sleep(self.timing.poll) => {}
                    }
                }
                Err(error) => return self.unavailable(keys, &error),
            }
        }
    }

    fn unavailable(&self, keys: &StreamKeys, error: &StoreError) -> Acquired {
        tracing::warn!(key = %keys.checkpoint, %error, reason = error.reason_code(),
            "the state store does not answer: the stream resumes from its file checkpoint, without a lease");
        Acquired::Unavailable
    }

    /// `SET lock holder NEX PX lease`: the fencing token when it applied, `None` when
    /// another replica holds it.
    async fn lease_of(&self, lock: &str) -> Result<Option<HlcTimestamp>, StoreError> {
        let options = SetOptions {
            condition: SetCondition::NotExistsOrEqual,
            expires: Some(self.timing.lease),
            fencing_token: None,
        };
        self.client
            .set_versioned(lock.to_owned(), self.holder.as_bytes().to_vec(), options)
            .await
    }

    /// Claims the checkpoint with `token`: the checkpoint to resume from, or `None` when a
    /// newer token protects the key.
    async fn claim(
        &self,
        keys: &StreamKeys,
        token: &HlcTimestamp,
        file: Option<&str>,
    ) -> Result<Option<Option<String>>, StoreError> {
        loop {
            let current = self.client.get(keys.checkpoint.clone()).await?;
            let (value, checkpoint, condition) = match current.as_deref().map(decode) {
                Some(Some(stored)) if stored.stream == keys.identity => (
                    current.clone().unwrap_or_default().to_vec(),
                    stored.last_event_id,
                    SetCondition::NotExistsOrEqual,
                ),
                Some(_) => {
                    tracing::warn!(key = %keys.checkpoint, "the stored checkpoint is not this stream's: replaced");
                    let start = file.map(str::to_owned);
                    (
                        self.encode(keys, start.as_deref()),
                        start,
                        SetCondition::Always,
                    )
                }
                None => {
                    let start = file.map(str::to_owned);
                    (
                        self.encode(keys, start.as_deref()),
                        start,
                        SetCondition::NotExistsOrEqual,
                    )
                }
            };
            let options = SetOptions {
                condition,
                expires: None,
                fencing_token: Some(token.clone()),
            };
            match self
                .client
                .set(keys.checkpoint.clone(), value, options)
                .await
            {
                Ok(true) => return Ok(Some(checkpoint)),
                Ok(false) => continue,
                Err(error) if is_fenced_out(&error) => return Ok(None),
                Err(error) => return Err(error),
            }
        }
    }

    /// Writes `checkpoint` with `token`.
    async fn write(
        &self,
        keys: &StreamKeys,
        token: &HlcTimestamp,
        checkpoint: &str,
    ) -> Result<(), StoreError> {
        let options = SetOptions {
            fencing_token: Some(token.clone()),
            ..SetOptions::default()
        };
        self.client
            .set(
                keys.checkpoint.clone(),
                self.encode(keys, Some(checkpoint)),
                options,
            )
            .await
            .map(|_| ())
    }

    fn encode(&self, keys: &StreamKeys, checkpoint: Option<&str>) -> Vec<u8> {
        let stored = Stored {
            stream: keys.identity.clone(),
            last_event_id: checkpoint.map(str::to_owned),
            owner: self.holder.to_string(),
        };
        // A struct of strings always serializes.
        serde_json::to_vec(&stored).unwrap_or_default()
    }
}

/// The checkpoint stored at a key; `None` when it is not one.
fn decode(bytes: &[u8]) -> Option<Stored> {
    serde_json::from_slice(bytes).ok()
}

/// Whether the store refused a write because a newer owner's token protects the key.
fn is_fenced_out(error: &StoreError) -> bool {
    error.kind() == ErrorKind::Service(ServiceError::FencingTokenLowerVersion)
}

/// The lease of one stream, held by this replica: its keeper renews it and writes the
/// checkpoints the stream hands over. Dropped without [`release`](Self::release), its keeper
/// still writes the last checkpoint handed over and releases the lease, in the background.
pub(crate) struct Owner {
    checkpoints: watch::Sender<Option<SmolStr>>,
    release: DropGuard,
    lost: CancellationToken,
    keeper: JoinHandle<()>,
}

impl Owner {
    fn start(
        shared: SharedCheckpoints,
        keys: StreamKeys,
        token: HlcTimestamp,
        claimed: Option<String>,
    ) -> Self {
        let claimed = claimed.map(SmolStr::new);
        let (checkpoints, updates) = watch::channel(claimed.clone());
        let release = CancellationToken::new();
        let lost = CancellationToken::new();
        let keeper = Keeper {
            shared,
            keys,
            token,
            updates,
            written: claimed,
            release: release.clone(),
            lost: lost.clone(),
        };
        Self {
            checkpoints,
            release: release.drop_guard(),
            lost,
            keeper: tokio::spawn(keeper.run()),
        }
    }

    /// Hands over a checkpoint whose events are all delivered; the keeper writes the latest
    /// at its next tick.
    pub(crate) fn save(&self, checkpoint: &SmolStr) {
        self.checkpoints.send_if_modified(|current| {
            if current.as_ref() == Some(checkpoint) {
                false
            } else {
                *current = Some(checkpoint.clone());
                true
            }
        });
    }

    /// Cancelled when the lease is lost.
    pub(crate) fn lost(&self) -> &CancellationToken {
        &self.lost
    }

    /// Writes `checkpoint` (the stream's last, all delivered) and gives the lease up; returns
    /// once both are done (or failed: the lease then expires).
    pub(crate) async fn release(self, checkpoint: Option<&str>) {
        if let Some(checkpoint) = checkpoint {
            self.save(&SmolStr::new(checkpoint));
        }
        let Self {
            release, keeper, ..
        } = self;
        drop(release);
        if let Err(error) = keeper.await {
            tracing::warn!(%error, "the checkpoint keeper did not finish");
        }
    }
}

/// The task that renews a lease and writes the checkpoint.
struct Keeper {
    shared: SharedCheckpoints,
    keys: StreamKeys,
    token: HlcTimestamp,
    updates: watch::Receiver<Option<SmolStr>>,
    /// What the store holds, as far as this owner knows.
    written: Option<SmolStr>,
    release: CancellationToken,
    lost: CancellationToken,
}

impl Keeper {
    async fn run(mut self) {
        let timing = self.shared.timing;
        let mut tick = tokio::time::interval_at(Instant::now() + timing.interval, timing.interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut renewed = Instant::now();
        loop {
            tokio::select! {
                biased;
                () = self.release.cancelled() => break,
                _ = tick.tick() => {}
            }
            match self.shared.lease_of(&self.keys.lock).await {
                Ok(Some(_)) => renewed = Instant::now(),
                Ok(None) => {
                    self.lose("another replica holds the lease");
                    return;
                }
                Err(error) if renewed.elapsed() >= timing.lease => {
                    tracing::warn!(key = %self.keys.lock, %error, "the lease could not be renewed");
                    self.lose("not renewed within the lease");
                    return;
                }
                Err(error) => {
                    tracing::warn!(key = %self.keys.lock, %error, "the lease could not be renewed; trying again");
                }
            }
            if !self.write().await {
                self.lose("a newer owner's fencing token protects the checkpoint");
                return;
            }
        }
        if self.write().await {
            match self
                .shared
                .client
                .vdel(
                    self.keys.lock.clone(),
                    self.shared.holder.as_bytes().to_vec(),
                    None,
                )
                .await
            {
                Ok(_) => {
                    tracing::debug!(key = %self.keys.lock, checkpoint = ?self.written, "checkpoint lease released")
                }
                Err(error) => {
                    tracing::warn!(key = %self.keys.lock, %error, "the lease could not be released; it expires")
                }
            }
        }
    }

    /// Writes the latest checkpoint if it moved. `false` when a newer owner fenced the key.
    async fn write(&mut self) -> bool {
        let latest = self.updates.borrow_and_update().clone();
        let Some(latest) = latest.filter(|l| self.written.as_ref() != Some(l)) else {
            return true;
        };
        match self.shared.write(&self.keys, &self.token, &latest).await {
            Ok(()) => {
                self.written = Some(latest);
                true
            }
            Err(error) if is_fenced_out(&error) => false,
            Err(error) => {
                tracing::warn!(key = %self.keys.checkpoint, %error, "checkpoint not written to the state store; trying again");
                true
            }
        }
    }

    fn lose(&self, why: &str) {
        tracing::warn!(key = %self.keys.lock, why, "checkpoint lease lost: the stream stops and waits for it again");
        self.lost.cancel();
    }
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
