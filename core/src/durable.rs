//! TODO(durable)
