//! TODO(binary)
