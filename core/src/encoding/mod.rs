//! Tezos byte layouts. Every encoding the rollup reads or writes lives here and nowhere else.

pub mod address;
pub mod base58;
pub mod binary;
pub mod inbox;
pub mod micheline;
pub mod michelson;
pub mod outbox;
