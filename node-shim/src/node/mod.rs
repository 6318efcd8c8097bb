//! `soru-node`: the rollup node. It follows an L1 (a `soru sandbox` or an octez node, through
//! octez's RPC), rebuilds every level's inbox, runs the PVM, stores the results in an embedded
//! database and serves octez's smart-rollup-node RPC.
//!
//! | module | concept |
//! |---|---|
//! | [`config`] | modes, purposes, `config.json` (`soru-node init`) |
//! | [`l1`] | the L1 client, behind the [`l1::Layer1`] trait |
//! | [`inbox`] | a level's inbox messages from an L1 block (pure) |
//! | [`follower`] | the thread that follows the L1 and runs the PVM |
//! | [`operator`] | wallet, injector, publishing and cementing commitments, batches |
//! | [`outbox`] | executed outbox messages and the pending lists (`/local/outbox/pending`) |
//! | [`outbox_filter`] | which outbox messages the `executing_outbox` purpose executes |
//! | [`batcher`] | the batcher's queue of L2 messages and their statuses (pure) |
//! | [`store`] | the redb database |
//! | [`dump`] | `dump durable storage`: a level's durable storage as an installer config |
//! | [`snapshot`] | octez snapshots: export, import with octez's checks, info |
//! | [`simulate`] | `POST /global/block/<id>/simulate`: the PVM on a copy of a state, bounded |
//! | [`rpc`] | the octez RPC server |
//! | [`cli`] | the `soru-node` command line |
//!
//! It rebuilds octez's shared Merkleized inbox from the L1's at the origination level on, serves
//! it (`/global/block/<id>/inbox`) and publishes a commitment only once its inbox at the
//! commitment's level equals the L1's ([`operator`]).
//!
//! What it does not do yet (each says so when asked): recovering bonds, refutation (accuser and
//! bailout modes follow the chain only).

pub mod batcher;
pub mod cli;
pub mod config;
pub mod dump;
pub mod follower;
pub mod inbox;
pub mod l1;
pub mod operator;
pub mod outbox;
pub mod outbox_filter;
pub mod rpc;
pub mod simulate;
pub mod snapshot;
pub mod store;
