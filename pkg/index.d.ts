// Hand-written types of the soru-verifier npm package (no `any`): the proof/commitment entry.
// 64-bit counts (ticks, ticket amounts) are bigint; levels and indexes are numbers.

/** A Micheline expression in octez's JSON form. */
export type Micheline =
  | { int: string }
  | { string: string }
  | { bytes: string }
  | { prim: string; args?: Micheline[]; annots?: string[] }
  | Micheline[];

/** One call of an untyped batch (`entrypoint` omitted when it is `default`). */
export interface TransactionJson {
  destination: string;
  entrypoint?: string;
  parameters: Micheline;
}

/** One call of a typed batch: the parameter comes with its Michelson type. */
export interface TypedTransactionJson extends TransactionJson {
  parameters_ty: Micheline;
}

/**
 * An outbox message exactly as the octez rollup node prints it in
 * `/global/block/<id>/outbox/<level>/messages`.
 */
export type OutboxMessageJson =
  | { kind: 'untyped'; transactions: TransactionJson[] }
  | { kind: 'typed'; transactions: TypedTransactionJson[] }
  | { kind: 'whitelist_update'; whitelist?: string[] }
  | { kind: 'canonical_rollup_signal'; payload: string | { invalid_utf8_string: number[] } };

/** A ticket a transaction moves. */
export interface Ticket {
  /** Index of the transaction in its batch. */
  transaction: number;
  /** The KT1... contract that created the ticket. */
  ticketer: string;
  contents: Micheline;
  amount: bigint;
  /** True when the parameter's type located it (typed batch), false when its shape did. */
  typed: boolean;
}

/** What a valid outbox proof proves. */
export interface VerifiedOutboxProof {
  outboxLevel: number;
  messageIndex: number;
  /** The message bytes (`Sc_rollup_outbox_message_repr`). */
  message: Uint8Array;
  /** The decoded message, or null when the proven bytes do not decode (see decodeError). */
  decoded: OutboxMessageJson | null;
  decodeError?: string;
  tickets: Ticket[];
  /** The srs1... state hash the proof was checked against. */
  stateHash: string;
  /** The proof envelope: obj2 (protocols 018+) or obj3 (016-017). */
  layout: 'obj2' | 'obj3';
}

/** A commitment in octez's RPC JSON form (`number_of_ticks` as bigint or decimal string). */
export interface Commitment {
  compressed_state: string;
  inbox_level: number;
  predecessor: string;
  number_of_ticks: bigint | string;
}

export type ChainCheck =
  | { valid: true; hashes: string[]; ticks: bigint }
  | { valid: false; index: number | null; error: string };

/**
 * Verifies an octez output proof (bytes or hex) against the state hash of a cemented
 * commitment (`srs1...` or 64 hex digits). Throws an Error saying what is wrong.
 */
export function verifyOutboxProof(proof: Uint8Array | string, stateHash: string): VerifiedOutboxProof;

/** Decodes outbox message bytes (or hex) into octez's JSON form, with its tickets. */
export function decodeOutboxMessage(message: Uint8Array | string): {
  decoded: OutboxMessageJson;
  tickets: Ticket[];
};

/** The src1... hash of a commitment (object or its 76-byte encoding). */
export function commitmentHash(commitment: Commitment | Uint8Array): string;

/** The 76-byte binary encoding of a commitment. */
export function encodeCommitment(commitment: Commitment | Uint8Array): Uint8Array;

/**
 * Checks that each commitment names the hash of the one before it and sits
 * `commitmentPeriod` levels after it; says which link breaks and why.
 */
export function checkCommitmentChain(
  commitments: ReadonlyArray<Commitment | Uint8Array>,
  commitmentPeriod: number,
): ChainCheck;

/** Hex text (whitespace anywhere, optional 0x) to bytes. */
export function hexToBytes(hex: string): Uint8Array;

export interface FetchOutboxProofOptions {
  /** Block of the rollup node (default `head`). */
  block?: string;
  /** A fetch implementation (default `globalThis.fetch`). */
  fetch?: (url: string, init?: { signal?: AbortSignal }) => Promise<{
    ok: boolean;
    status: number;
    text(): Promise<string>;
  }>;
  signal?: AbortSignal;
}

/**
 * Fetches `{commitment, proof}` from a rollup node:
 * `GET <nodeUrl>/global/block/head/helpers/proofs/outbox/<level>/messages?index=<i>`.
 * Check the proof against the commitment's state hash from an L1 node you trust.
 */
export function fetchOutboxProof(
  nodeUrl: string,
  outboxLevel: number,
  messageIndex: number,
  options?: FetchOutboxProofOptions,
): Promise<{ commitment: string; proof: Uint8Array }>;

export type {
  ReplayInputs,
  ReplayOptions,
  ReplayResult,
  ReplayLevel,
  WitnessOptions,
  WitnessResult,
  WitnessLevel,
  CheckInboxOptions,
  InboxLevel,
} from './replay.js';

/** Replays levels with the PVM (loads the replay module, with wasmi, on first use). */
export function replay(
  kernel: Uint8Array,
  inputs: import('./replay.js').ReplayInputs,
  options?: import('./replay.js').ReplayOptions,
): Promise<import('./replay.js').ReplayResult>;

/** Replays a replay witness with the PVM (loads the replay module, with wasmi, on first use). */
export function replayWitness(
  witness: Uint8Array,
  options?: import('./replay.js').WitnessOptions,
): Promise<import('./replay.js').WitnessResult>;

/**
 * Checks a replay witness's inbox against the L1's shared inbox after each level (an L1 node URL
 * or its `all/inbox` answers); loads the replay module (wasmi) on first use.
 */
export function checkWitnessInbox(
  witness: Uint8Array,
  l1: string | ReadonlyArray<unknown>,
  options?: import('./replay.js').CheckInboxOptions,
): Promise<import('./replay.js').InboxLevel[]>;
