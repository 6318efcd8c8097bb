//! TODO(base58)
