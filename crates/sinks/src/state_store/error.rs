//! How the state store destination fails: whatever kept a SET from being confirmed becomes
//! [`PublishError::KeyValue`], retryable (a timeout, a lost request, an error reply), except a
//! client that has shut down, which is [`PublishError::Closed`].

use crate::error::PublishError;

/// A SET of `key` the state store did not confirm, with the client's error as the reason.
pub(crate) fn not_set(key: String, error: &statestore::Error) -> PublishError {
    PublishError::KeyValue {
        key,
        reason: error.to_string(),
    }
}

/// A SET of `key` the store answered without applying it: an unconditional SET never gets
/// this answer, so a store that gives it is not behaving as AIO's does.
pub(crate) fn not_applied(key: String) -> PublishError {
    PublishError::KeyValue {
        key,
        reason: "SET: the store did not apply the value".to_owned(),
    }
}
