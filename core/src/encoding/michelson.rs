//! TODO(michelson)
