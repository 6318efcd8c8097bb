//! TODO(inputs)
