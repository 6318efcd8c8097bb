//! The PVM state machine.
