//! The PVM state machine.

pub mod output_buffer;
