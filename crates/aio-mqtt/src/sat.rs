//! Kubernetes service-account-token (SAT) authentication, as AIO's broker expects it: every
//! CONNECT carries MQTT v5 enhanced authentication with the method [`K8S_SAT`] and the token
//! as authentication data. The token file is read at each connect, and [`SatWatch`] notices
//! when Kubernetes rotates it.
//!
//! # Why a rotation reconnects
//! MQTT v5 lets a client re-authenticate inside its session by sending an AUTH packet, and
//! AIO's broker accepts that. rumqttc 0.25 cannot send AUTH (its requests have no such
//! packet), so a rotated token is applied by reconnecting: the new token goes into the event
//! loop's options and the network connection is dropped; the next poll connects with it. The
//! session is resumed (clean start is off), and what was unacknowledged is sent again after
//! CONNACK, so no QoS 1 message is lost (one may arrive twice, as after any reconnect). The
//! kubelet rotates a projected token once 80 % of its lifetime has passed, so this happens
//! rarely (about hourly with the default lifetime), and well before the old token expires.
//!
//! # How the rotation is seen
//! The kubelet writes a projected volume atomically: the files go into a new timestamped
//! directory, then a `..data` symlink is swapped to point at it; `token` itself is a symlink
//! through `..data`. The file's own inode never changes, so [`SatWatch`] watches the directory
//! that holds the token and compares the content at each event there.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use notify::{RecursiveMode, Watcher as _};
use rumqttc::v5::{EventLoop, MqttOptions};
use tokio::sync::mpsc;

use crate::error::{MqttError, MqttErrorKind, MqttErrorSource};

/// The authentication method of a Kubernetes service account token.
pub const K8S_SAT: &str = "K8S-SAT";

/// Reads a token file: its bytes without trailing line breaks.
///
/// # Errors
/// [`MqttErrorKind::SatFile`] when the file cannot be read or is empty. The message names the
/// file, never the token.
pub fn read_token(path: &Path) -> Result<Bytes, MqttError> {
    let mut bytes = std::fs::read(path).map_err(|e| {
        MqttError::new(
            MqttErrorKind::SatFile,
            format!(
                "cannot read the service account token file {}: {e}",
                path.display()
            ),
        )
        .with_source(MqttErrorSource::Io(e))
    })?;
    while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err(MqttError::new(
            MqttErrorKind::SatFile,
            format!("the service account token file {} is empty", path.display()),
        ));
    }
    Ok(Bytes::from(bytes))
}

/// Puts `token` into the CONNECT properties of `options` under the method [`K8S_SAT`].
pub fn set_token(options: &mut MqttOptions, token: Bytes) {
    options.set_authentication_method(Some(K8S_SAT.to_owned()));
    options.set_authentication_data(Some(token));
}

/// The token file of one connection: read into the options before each connect
/// ([`apply`](Self::apply)), and watched for rotations ([`changed`](Self::changed)). Inactive
/// (never changes, applies nothing) when no token file is configured.
///
/// A polling loop `select!`s on [`changed`](Self::changed) next to its poll and, when it
/// resolves, calls [`reconnect`](Self::reconnect) (or its own equivalent).
pub struct SatWatch {
    path: Option<PathBuf>,
    /// The token of the last [`apply`](Self::apply): what the current connection used.
    applied: Option<Bytes>,
    /// One signal per burst of events in the token's directory.
    events: Option<mpsc::Receiver<()>>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl std::fmt::Debug for SatWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SatWatch")
            .field("path", &self.path)
            .field("watching", &self.events.is_some())
            .finish_non_exhaustive()
    }
}

impl SatWatch {
    /// Watches `sat_file` (usually [`MqttConfig::sat_file`](crate::MqttConfig::sat_file));
    /// `None` gives an inactive watch. When the directory cannot be watched (no inotify
    /// instance left, for example), logs a warning: the token is then still read at every
    /// connect, but a rotation alone does not reconnect.
    pub fn new(sat_file: Option<&Path>) -> Self {
        let Some(path) = sat_file else {
            return Self {
                path: None,
                applied: None,
                events: None,
                _watcher: None,
            };
        };
        let (events, watcher) = match watch(path) {
            Ok((events, watcher)) => (Some(events), Some(watcher)),
            Err(error) => {
                tracing::warn!(file = %path.display(), %error,
                    "cannot watch the service account token; a rotated token is used from the next reconnect");
                (None, None)
            }
        };
        Self {
            path: Some(path.to_path_buf()),
            applied: None,
            events,
            _watcher: watcher,
        }
    }

    /// Reads the token file into `options` for the next CONNECT; nothing when inactive.
    ///
    /// # Errors
    /// [`MqttErrorKind::SatFile`] when the file cannot be read or is empty.
    pub fn apply(&mut self, options: &mut MqttOptions) -> Result<(), MqttError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let token = read_token(path)?;
        set_token(options, token.clone());
        self.applied = Some(token);
        Ok(())
    }

    /// Resolves when the token file holds a token other than the last one applied; never
    /// when inactive.
    ///
    /// # Cancel safety
    /// Cancel safe: a change seen by a cancelled call is seen again by the next one.
    pub async fn changed(&mut self) {
        let Self {
            path: Some(path),
            applied,
            events: Some(events),
            ..
        } = self
        else {
            return std::future::pending().await;
        };
        loop {
            if events.recv().await.is_none() {
                return std::future::pending().await;
            }
            // A file edited in place may be read half-written; its next event reads it again.
            if let Ok(token) = read_token(path)
                && applied.as_ref() != Some(&token)
            {
                return;
            }
        }
    }

    /// After [`changed`](Self::changed): puts the new token into the event loop's options and
    /// drops its network connection, so that its next poll connects with the new token.
    /// rumqttc keeps every unacknowledged publish (and every request still in its channel)
    /// and sends them again after CONNACK when the broker resumed the session.
    ///
    /// # Errors
    /// [`MqttErrorKind::SatFile`] when the file cannot be read; the connection is then kept.
    pub fn reconnect(&mut self, eventloop: &mut EventLoop) -> Result<(), MqttError> {
        self.apply(&mut eventloop.options)?;
        tracing::info!("the service account token was rotated; reconnecting with the new one");
        eventloop.clean();
        Ok(())
    }
}

/// Starts watching the directory that holds `path`.
fn watch(path: &Path) -> notify::Result<(mpsc::Receiver<()>, notify::RecommendedWatcher)> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let (tx, rx) = mpsc::channel(1);
    let mut watcher = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
        // Full means a signal is already waiting: the reader re-reads the file anyway.
        let _ = tx.try_send(());
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    Ok((rx, watcher))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_loses_its_line_break_and_an_empty_one_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "eyJhbGciOi.x.y\n").expect("write");
        assert_eq!(read_token(&path).expect("read"), "eyJhbGciOi.x.y");
        std::fs::write(&path, "\r\n").expect("write");
        let empty = read_token(&path).expect_err("empty");
        assert_eq!(empty.kind(), MqttErrorKind::SatFile);
        assert!(empty.to_string().contains("token"), "{empty}");
        let missing = read_token(&dir.path().join("none")).expect_err("missing");
        assert!(missing.to_string().contains("none"), "{missing}");
    }

    #[tokio::test]
    async fn a_new_token_in_the_directory_is_noticed_and_an_unchanged_one_is_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "one").expect("write");
        let mut watch = SatWatch::new(Some(&path));
        let mut options = MqttOptions::new("id", "localhost", 1883);
        watch.apply(&mut options).expect("apply");
        assert_eq!(options.authentication_method().as_deref(), Some(K8S_SAT));
        assert_eq!(options.authentication_data().as_deref(), Some(&b"one"[..]));

        std::fs::write(dir.path().join("other"), "x").expect("write");
        let quiet =
            tokio::time::timeout(std::time::Duration::from_millis(300), watch.changed()).await;
        assert!(quiet.is_err(), "an unrelated file is not a rotation");

        std::fs::write(&path, "two\n").expect("write");
        tokio::time::timeout(std::time::Duration::from_secs(5), watch.changed())
            .await
            .expect("rotation noticed");
        watch.apply(&mut options).expect("apply");
        assert_eq!(options.authentication_data().as_deref(), Some(&b"two"[..]));
    }
}
