//! MQTT v5 publisher (placeholder, being written).
