//! Resilient Server-Sent Events client.
