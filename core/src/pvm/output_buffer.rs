//! TODO(output_buffer)
