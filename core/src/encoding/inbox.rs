//! TODO(inbox)
