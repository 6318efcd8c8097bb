// Hand-written types of `soru-verifier/replay` (the second, lazily loaded entry with the PVM).

/**
 * The inbox: the octez wasm debugger's inputs JSON text, or for each level the serialized
 * inbox messages the kernel reads between `Info_per_level` and `End_of_level`.
 */
export type ReplayInputs = string | ReadonlyArray<ReadonlyArray<Uint8Array>>;

export interface ReplayOptions {
  /** The first inbox level (default 0, as the octez debugger). */
  firstLevel?: number;
  /** The rollup's sr1... address (default: the zero address). */
  rollupAddress?: string;
  /** A state hash to compare with the final one (sets `matches`). */
  expectedStateHash?: string;
}

export interface ReplayLevel {
  level: number;
  /** srs1... state hash at the end of the level. */
  stateHash: string;
  /** Total ticks since origination at the end of the level. */
  ticks: bigint;
  /** The outbox messages written during the level. */
  outbox: Uint8Array[];
  /** `waiting_for_input`, `stuck`, ... */
  status: string;
}

export interface ReplayResult {
  stateHash: string;
  ticks: bigint;
  levels: ReplayLevel[];
  /** Present when `expectedStateHash` was given. */
  matches?: boolean;
}

/** Runs a kernel (.wasm bytes) from origination on an inbox. Throws an Error on bad input. */
export function replay(
  kernel: Uint8Array,
  inputs: ReplayInputs,
  options?: ReplayOptions,
): ReplayResult;
