//! AIO message headers (placeholder, being written).
