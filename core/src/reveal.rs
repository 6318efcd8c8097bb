//! TODO(reveal)
