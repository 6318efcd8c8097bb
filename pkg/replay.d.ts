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

export interface WitnessOptions {
  /** The state the witness must start from, e.g. the predecessor commitment's (sets `matches`). */
  expectedPreStateHash?: string;
  /** The state the replay must end in, e.g. the commitment's (sets `matches`). */
  expectedStateHash?: string;
}

export interface WitnessLevel extends ReplayLevel {
  /** srib2... hash of the level's messages: the L1's shared inbox after the level must hold it. */
  inboxWitness: string;
}

export interface WitnessResult extends ReplayResult {
  levels: WitnessLevel[];
  /** srs1... hash of the witness's pre-state (the whole state, not just the part it carries). */
  preStateHash: string;
  /** Total ticks of the pre-state. */
  preTicks: bigint;
}

/**
 * Re-runs the levels of a replay witness (`soru replay --witness-out`, format in
 * `soru_core::witness`) on the part of the state it carries. Throws an Error naming the path
 * of any node the levels read that the witness leaves out, a bad preimage or malformed bytes.
 */
export function replayWitness(witness: Uint8Array, options?: WitnessOptions): WitnessResult;

export interface CheckInboxOptions {
  /** The fetch to use when `l1` is a URL (default: globalThis.fetch). */
  fetch?: (url: string) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;
}

export interface InboxLevel {
  level: number;
  /** srib2... hash of the level's messages, as the L1's shared inbox holds it. */
  inboxWitness: string;
}

/**
 * Checks that a replay witness's inbox is the L1's: for each witnessed level, its messages must
 * hash to the level witness of the L1's shared inbox after that level
 * (`/chains/main/blocks/<level>/context/smart_rollups/all/inbox`). `l1` is an L1 node URL (one
 * request per level) or those answers. Rejects with an Error naming the first level whose
 * messages differ, a missing or malformed inbox, or the URL and HTTP status of a failed request.
 */
export function checkWitnessInbox(
  witness: Uint8Array,
  l1: string | ReadonlyArray<unknown>,
  options?: CheckInboxOptions,
): Promise<InboxLevel[]>;
