//! TODO(micheline)
