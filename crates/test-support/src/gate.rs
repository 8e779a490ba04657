//! [`Gate`]: holds scripted servers back until the test is ready (for example until its MQTT
//! subscriber is connected), without guessing a delay.

use tokio::sync::watch;

/// A one-way gate: closed when made, open for good after [`open`](Gate::open). Clones share
/// the same gate.
#[derive(Debug, Clone)]
pub struct Gate {
    open: watch::Sender<bool>,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Self {
            open: watch::Sender::new(false),
        }
    }

    /// Opens the gate: every waiter, now and later, passes.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Whether the gate is open.
    pub fn is_open(&self) -> bool {
        *self.open.borrow()
    }

    /// Waits until the gate is open.
    pub async fn passed(&self) {
        let mut open = self.open.subscribe();
        // The sender lives in `self`, so this only ends when the gate opens.
        let _ = open.wait_for(|open| *open).await;
    }
}
