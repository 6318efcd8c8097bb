//! TODO(output_proof)
