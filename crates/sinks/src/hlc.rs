//! Hybrid logical clock (placeholder, being written).
