//! TODO(commitment)
