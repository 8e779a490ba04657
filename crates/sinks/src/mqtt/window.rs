//! The in-flight window: at most `size` messages accepted and not yet completed, one permit
//! each, released when the message completes.
//!
//! Room is taken in batches of a sixteenth of the window: a publish takes one permit of a
//! batch and leaves the rest in a reserve that the next publishes draw from; when the reserve
//! is empty and less than a batch is free, the next publish waits until a batch is. Taking each permit as its acknowledgement frees it would
//! settle a saturated connection into one message per round trip (the "silly window
//! syndrome" of TCP): every PUBACK wakes a publish that sends one packet, with one write and
//! one wake-up per message on both ends. Batches keep writes and acknowledgements grouped.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// The window; see the module documentation.
#[derive(Debug)]
pub(crate) struct Window {
    semaphore: Arc<Semaphore>,
    /// Permits of the last batch not handed out yet.
    reserve: Mutex<Option<OwnedSemaphorePermit>>,
    /// Signalled when the reserve is refilled, for publishes waiting on a batch of their own.
    refilled: Notify,
    /// Permits per batch.
    batch: u32,
}

impl Window {
    /// A window of `size` permits.
    pub(crate) fn new(size: usize) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(size)),
            reserve: Mutex::new(None),
            refilled: Notify::new(),
            batch: u32::try_from(size / 16).unwrap_or(u32::MAX).max(1),
        }
    }

    /// Room for one message: `None` once the window is closed.
    ///
    /// # Cancel safety
    /// Cancel safe: a batch is either taken whole (and its rest reserved) or not at all.
    pub(crate) async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        if let Some(permit) = self.take_reserved() {
            return Some(permit);
        }
        match Arc::clone(&self.semaphore).try_acquire_many_owned(self.batch) {
            Ok(batch) => return Some(self.split(batch)),
            Err(TryAcquireError::Closed) => return None,
            Err(TryAcquireError::NoPermits) => {}
        }
        loop {
            let refilled = self.refilled.notified();
            tokio::pin!(refilled);
            refilled.as_mut().enable();
            if let Some(permit) = self.take_reserved() {
                return Some(permit);
            }
            tokio::select! {
                batch = Arc::clone(&self.semaphore).acquire_many_owned(self.batch) => {
                    return batch.ok().map(|batch| self.split(batch));
                }
                () = refilled => {}
            }
        }
    }

    /// Refuses every later request for room.
    pub(crate) fn close(&self) {
        self.semaphore.close();
        self.lock().take();
    }

    fn lock(&self) -> MutexGuard<'_, Option<OwnedSemaphorePermit>> {
        self.reserve.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_reserved(&self) -> Option<OwnedSemaphorePermit> {
        if self.semaphore.is_closed() {
            return None;
        }
        let mut reserve = self.lock();
        let permits = reserve.as_mut()?;
        if permits.num_permits() > 1 {
            permits.split(1)
        } else {
            reserve.take()
        }
    }

    /// One permit of `batch`; the rest goes to the reserve.
    fn split(&self, mut batch: OwnedSemaphorePermit) -> OwnedSemaphorePermit {
        match batch.split(1) {
            Some(one) => {
                if batch.num_permits() > 0 {
                    self.add_to_reserve(batch);
                }
                one
            }
            None => batch,
        }
    }

    fn add_to_reserve(&self, batch: OwnedSemaphorePermit) {
        let mut reserve = self.lock();
        match reserve.as_mut() {
            Some(permits) => permits.merge(batch),
            None => *reserve = Some(batch),
        }
        drop(reserve);
        self.refilled.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_full_window_refills_in_batches() {
        let window = Window::new(32);
        let mut held: Vec<OwnedSemaphorePermit> = Vec::new();
        for _ in 0..32 {
            held.push(window.permit().await.expect("room"));
        }
        // Full: one freed permit is not enough (batches are 2 of 32).
        held.pop();
        let waiting = tokio::time::timeout(Duration::from_millis(50), window.permit()).await;
        assert!(
            waiting.is_err(),
            "one free permit does not reopen a full window"
        );
        held.pop();
        let first = window.permit().await.expect("a batch is free");
        // The second permit of the batch waits in the reserve for the next publish.
        let second = tokio::time::timeout(Duration::from_millis(50), window.permit())
            .await
            .expect("from the reserve")
            .expect("room");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), window.permit())
                .await
                .is_err(),
            "the batch is used up"
        );
        drop((first, second));
        window.close();
        assert!(window.permit().await.is_none());
    }
}
