//! TODO(address)
