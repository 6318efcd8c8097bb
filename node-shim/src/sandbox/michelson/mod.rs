//! The Michelson subset the sandbox type-checks and runs: enough for rollup bridges (tickets,
//! transfers to rollups and accounts). Anything outside it is rejected at origination with an
//! error naming the instruction.
