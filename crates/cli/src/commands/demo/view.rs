//! The demo's live view: one line per message that reaches the broker.

use std::io::{self, IsTerminal, Write};

use aio_mqtt::Received;

/// Prints messages as `HH:MM:SS  topic  type  id  payload`.
#[derive(Debug)]
pub struct View {
    color: bool,
    shown: u64,
}

impl View {
    /// A view on standard output; colour only on a terminal.
    pub fn new() -> Self {
        Self {
            color: io::stdout().is_terminal(),
            shown: 0,
        }
    }

    /// Messages shown so far.
    pub fn shown(&self) -> u64 {
        self.shown
    }

    /// Prints one message.
    ///
    /// # Errors
    /// When standard output is closed.
    pub fn show(&mut self, message: &Received) -> io::Result<()> {
        self.shown += 1;
        let time = message
            .property("time")
            .and_then(|t| t.get(11..19))
            .unwrap_or("--:--:--");
        let kind = message.property("sse-event").unwrap_or("message");
        let id = message.property("sse-id").unwrap_or("-");
        // A device's bytes never reach the terminal as control sequences.
        let payload: String = String::from_utf8_lossy(&message.payload)
            .chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect();
        let (on, off) = if self.color {
            ("\x1b[36m", "\x1b[0m")
        } else {
            ("", "")
        };
        let mut out = io::stdout().lock();
        writeln!(
            out,
            "{time}  {on}{:<24}{off} {kind:<8} id {id:<5} {payload}",
            message.topic
        )?;
        out.flush()
    }
}
