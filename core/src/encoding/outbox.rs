//! TODO(outbox)
