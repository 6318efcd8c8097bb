//! Shared helpers for Soru's cross-crate and end-to-end tests.
