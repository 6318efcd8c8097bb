//! The `soru-node` command line, in octez's words:
//!
//! ```text
//! soru-node init <mode> config for <sr1> with operators <tz1>... --data-dir D [--rpc-addr A] [--endpoint URL]
//! soru-node run --data-dir D [--rpc-addr A] [--endpoint URL]
//! soru-node snapshot export [FILE] --data-dir D [--dest DIR] [--level head|finalized|cemented|L] [--uncompressed] [--no-check]
//! soru-node snapshot import FILE --data-dir D [--endpoint URL] [--no-check] [--force]
//! soru-node snapshot info FILE
//! soru-node dump durable storage into FILE --data-dir D [--block head|head~N|L|HASH]
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use clap::{Parser, Subcommand};

use super::config::{HistoryMode, Mode, NodeConfig, Purpose, DEFAULT_ENDPOINT, DEFAULT_RPC_ADDR};
use super::follower::{Follower, Shared};
use super::l1::HttpLayer1;
use super::operator::{Operator, Wallet};
use super::rpc::{router, Ctx};
use super::snapshot;
use super::store::Store;

/// soru-node: the Soru smart rollup node (octez-smart-rollup-node's commands and RPC).
#[derive(Debug, Parser)]
#[command(name = "soru-node", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write <data-dir>/config.json: `init <mode> config for <sr1> with operators <tz1>...`
    /// (modes: observer, accuser, bailout, batcher, maintenance, operator, custom).
    Init {
        /// `<mode> config for <sr1> [with operators <tz1> | <purpose>:<tz1> ...]`.
        #[arg(num_args = 1.., required = true, allow_hyphen_values = false)]
        words: Vec<String>,
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Where the RPC server listens (port 0: a free port).
        #[arg(long, default_value = DEFAULT_RPC_ADDR)]
        rpc_addr: SocketAddr,
        /// The L1 node (`soru sandbox run` or octez-node).
        #[arg(long, default_value = DEFAULT_ENDPOINT)]
        endpoint: String,
        /// `archive` keeps every state, `full` the states from the last cemented commitment on.
        #[arg(long, default_value = "full")]
        history_mode: String,
        /// Overwrite an existing config.json.
        #[arg(long)]
        force: bool,
    },
    /// Follow the L1, run the PVM, serve the RPC.
    Run {
        /// The node's data directory (holding config.json).
        #[arg(long)]
        data_dir: PathBuf,
        /// Override the configured RPC address.
        #[arg(long)]
        rpc_addr: Option<SocketAddr>,
        /// Override the configured L1 endpoint.
        #[arg(long)]
        endpoint: Option<String>,
        /// Operator keys, in `soru sandbox`'s wallet.json format (default:
        /// `<data-dir>/wallet.json` when it exists).
        #[arg(long)]
        wallet: Option<PathBuf>,
        /// Fetch missing preimages from `URL/<hash hex>` (hash-checked, cached in
        /// `<data-dir>/wasm_2_0_0`); overrides config.json's `pre-images-endpoint`.
        #[arg(long)]
        pre_images_endpoint: Option<String>,
    },
    /// `dump durable storage into FILE`: a level's durable storage as an installer config
    /// (`set` instructions), for `soru debug --installer-config` (the node must be stopped).
    Dump {
        /// `durable storage into FILE` (or `durable storage --output FILE`).
        #[arg(num_args = 1.., required = true)]
        words: Vec<String>,
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The level: head, head~N, a level or an L1 block hash.
        #[arg(long, default_value = "head")]
        block: String,
        /// The file to write (instead of `into FILE`).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Snapshots of the node's data (octez's format): export, import, info.
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SnapshotCommand {
    /// Export a snapshot of the (stopped) node: to FILE, or to
    /// `snapshot-<address>-<level>.<history mode>` in --dest.
    Export {
        /// The snapshot file to write.
        file: Option<PathBuf>,
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Directory in which to export the snapshot (defaults to the current directory).
        #[arg(long)]
        dest: Option<PathBuf>,
        /// The level to export the L2 chain up to: head, finalized, cemented or a level.
        #[arg(long, default_value = "head")]
        level: String,
        /// Produce an uncompressed snapshot.
        #[arg(long)]
        uncompressed: bool,
        /// Don't check the integrity of the snapshot written.
        #[arg(long)]
        no_check: bool,
    },
    /// Import a snapshot into a data directory, after octez's checks.
    Import {
        /// The snapshot file.
        file: PathBuf,
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The L1 to check the snapshot's commitments against (default: config.json's).
        #[arg(long)]
        endpoint: Option<String>,
        /// Don't check the integrity of the snapshot (only the rollup, history mode and head).
        #[arg(long)]
        no_check: bool,
        /// Replace the data of an already populated data directory.
        #[arg(long)]
        force: bool,
    },
    /// Display information about a snapshot file.
    Info {
        /// The snapshot file.
        file: PathBuf,
    },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init {
            words,
            data_dir,
            rpc_addr,
            endpoint,
            history_mode,
            force,
        } => init(&words, &data_dir, rpc_addr, endpoint, &history_mode, force),
        Command::Run {
            data_dir,
            rpc_addr,
            endpoint,
            wallet,
            pre_images_endpoint,
        } => run(&data_dir, rpc_addr, endpoint, wallet, pre_images_endpoint),
        Command::Snapshot { command } => snapshot(command),
        Command::Dump {
            words,
            data_dir,
            block,
            output,
        } => dump(&words, &data_dir, &block, output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soru-node: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dump(
    words: &[String],
    data_dir: &Path,
    block: &str,
    output: Option<PathBuf>,
) -> Result<(), String> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let file = match (words.as_slice(), output) {
        (["durable", "storage", "into", file], None) => PathBuf::from(file),
        (["durable", "storage"], Some(file)) => file,
        _ => {
            return Err(format!(
                "dump {}: expected `dump durable storage into FILE` (or `--output FILE`)",
                words.join(" ")
            ))
        }
    };
    let n = super::dump::dump_durable_storage(data_dir, block, &file)?;
    println!("Dumped WASM PVM state to {} ({n} values)", file.display());
    Ok(())
}

fn snapshot(command: SnapshotCommand) -> Result<(), String> {
    match command {
        SnapshotCommand::Export {
            file,
            data_dir,
            dest,
            level,
            uncompressed,
            no_check,
        } => {
            let level = snapshot::ExportLevel::parse(&level).ok_or_else(|| {
                format!("--level `{level}`: expected head, finalized, cemented or a level")
            })?;
            let written = snapshot::export(
                &data_dir,
                file.as_deref(),
                dest.as_deref(),
                level,
                !uncompressed,
                no_check,
            )
            .map_err(|e| e.to_string())?;
            println!("Snapshot exported to {}", written.display());
        }
        SnapshotCommand::Import {
            file,
            data_dir,
            endpoint,
            no_check,
            force,
        } => {
            let endpoint =
                endpoint.or_else(|| NodeConfig::load(&data_dir).ok().map(|c| c.endpoint));
            if endpoint.is_none() && !no_check {
                eprintln!(
                    "soru-node: no --endpoint and no config.json: the commitments are not checked against an L1"
                );
            }
            let done = snapshot::import(&file, &data_dir, endpoint.as_deref(), no_check, force)
                .map_err(|e| e.to_string())?;
            if !no_check {
                println!(
                    "Checked {} levels and {} state trees",
                    done.levels, done.states
                );
            }
            println!("Snapshot successfully imported");
            if !data_dir.join(super::config::CONFIG_FILE).exists() {
                println!(
                    "Configure the node with: soru-node init <mode> config for {} with operators ... --data-dir {}",
                    done.header.address.to_b58check(),
                    data_dir.display()
                );
            }
        }
        SnapshotCommand::Info { file } => {
            let (header, compressed) = snapshot::info(&file).map_err(|e| e.to_string())?;
            print!("{}", snapshot::info_text(&header, compressed));
        }
    }
    Ok(())
}

fn init(
    words: &[String],
    dir: &Path,
    rpc_addr: SocketAddr,
    endpoint: String,
    history_mode: &str,
    force: bool,
) -> Result<(), String> {
    let mut config =
        NodeConfig::from_init_words(words, rpc_addr, endpoint).map_err(|e| e.to_string())?;
    config.history_mode = HistoryMode::parse(history_mode)
        .ok_or_else(|| format!("--history-mode `{history_mode}`: expected archive or full"))?;
    let path = dir.join(super::config::CONFIG_FILE);
    if path.exists() && !force {
        return Err(format!(
            "{} exists; pass --force to overwrite it",
            path.display()
        ));
    }
    config.save(dir).map_err(|e| e.to_string())?;
    println!(
        "Smart rollup node configuration written in {}",
        path.display()
    );
    Ok(())
}

fn run(
    dir: &Path,
    rpc_addr: Option<SocketAddr>,
    endpoint: Option<String>,
    wallet: Option<PathBuf>,
    pre_images_endpoint: Option<String>,
) -> Result<(), String> {
    crate::logging::init();
    let mut config = NodeConfig::load(dir).map_err(|e| e.to_string())?;
    if let Some(a) = rpc_addr {
        config.rpc_addr = a;
    }
    if let Some(e) = endpoint {
        config.endpoint = e;
    }
    for purpose in config.purposes() {
        if !matches!(
            purpose,
            Purpose::Operating | Purpose::Cementing | Purpose::Batching | Purpose::ExecutingOutbox
        ) {
            tracing::warn!("purpose {purpose}: not implemented yet; this node does not do it");
        }
    }
    let wallet_path = wallet.unwrap_or_else(|| dir.join("wallet.json"));
    let operating: std::collections::BTreeMap<_, _> = config
        .operators
        .iter()
        .filter(|(p, _)| {
            matches!(
                p,
                Purpose::Operating
                    | Purpose::Cementing
                    | Purpose::Batching
                    | Purpose::ExecutingOutbox
            )
        })
        .map(|(p, k)| (*p, *k))
        .collect();
    let operator = if operating.is_empty() || matches!(config.mode, Mode::Accuser) {
        None
    } else {
        let wallet = Wallet::load(&wallet_path)?;
        Some(Operator::new(
            config.rollup,
            &operating,
            &wallet,
            &config.execute_outbox_messages_filter,
        )?)
    };
    if matches!(config.mode, Mode::Accuser | Mode::Bailout) {
        tracing::warn!(
            "mode {}: refutation games are not implemented yet; the node follows the chain only",
            config.mode
        );
    }
    let store = Arc::new(Store::open(dir).map_err(|e| e.to_string())?);
    let shared = Arc::new(RwLock::new(Shared::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let batcher = operator.as_ref().and_then(Operator::batcher);
    let follower = Follower {
        rollup: config.rollup,
        l1: Box::new(HttpLayer1::new(&config.endpoint)),
        store: store.clone(),
        shared: shared.clone(),
        preimages: dir.join("wasm_2_0_0"),
        preimages_endpoint: pre_images_endpoint.or(config.pre_images_endpoint.clone()),
        gc: config.history_mode == HistoryMode::Full,
        stop: stop.clone(),
        operator,
    };
    let stop_when_done = stop.clone();
    let follower = std::thread::Builder::new()
        .name("follower".into())
        .spawn(move || {
            let result = follower.run();
            if let Err(e) = &result {
                tracing::error!("{e}");
            }
            stop_when_done.store(true, Ordering::Relaxed);
            result
        })
        .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let ctx = Arc::new(Ctx::new(
        config.clone(),
        dir.to_path_buf(),
        store,
        shared,
        batcher,
        stop.clone(),
    ));
    let stop_signal = stop.clone();
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.rpc_addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.rpc_addr))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("RPC listening on http://{addr}");
        let app = router(ctx).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                loop {
                    tokio::select! {
                        // Streams (monitor_blocks) end once `stop` is set.
                        _ = tokio::signal::ctrl_c() => { stop_signal.store(true, Ordering::Relaxed); break }
                        _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                            if follower_done(&stop_signal) { break; }
                        }
                    }
                }
            })
            .await
            .map_err(|e| e.to_string())
    });
    stop.store(true, Ordering::Relaxed);
    let followed = follower
        .join()
        .map_err(|_| "the follower thread panicked".to_string())?;
    served?;
    followed.map_err(|e| e.to_string())
}

fn follower_done(stop: &AtomicBool) -> bool {
    stop.load(Ordering::Relaxed)
}
