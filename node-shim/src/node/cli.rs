//! The `soru-node` command line, in octez's words:
//!
//! ```text
//! soru-node init <mode> config for <sr1> with operators <tz1>... --data-dir D [--rpc-addr A] [--endpoint URL]
//! soru-node run --data-dir D [--rpc-addr A] [--endpoint URL]
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
        } => run(&data_dir, rpc_addr, endpoint, wallet),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soru-node: {e}");
            ExitCode::FAILURE
        }
    }
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
        if !matches!(purpose, Purpose::Operating | Purpose::Cementing) {
            tracing::warn!("purpose {purpose}: not implemented yet; this node does not do it");
        }
    }
    let wallet_path = wallet.unwrap_or_else(|| dir.join("wallet.json"));
    let operating: std::collections::BTreeMap<_, _> = config
        .operators
        .iter()
        .filter(|(p, _)| matches!(p, Purpose::Operating | Purpose::Cementing))
        .map(|(p, k)| (*p, *k))
        .collect();
    let operator = if operating.is_empty() || matches!(config.mode, Mode::Accuser) {
        None
    } else {
        let wallet = Wallet::load(&wallet_path)?;
        Some(Operator::new(config.rollup, &operating, &wallet)?)
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
    let follower = Follower {
        rollup: config.rollup,
        l1: Box::new(HttpLayer1::new(&config.endpoint)),
        store: store.clone(),
        shared: shared.clone(),
        preimages: dir.join("wasm_2_0_0"),
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
    let ctx = Arc::new(Ctx {
        config: config.clone(),
        store,
        shared,
    });
    let stop_signal = stop.clone();
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.rpc_addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.rpc_addr))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("RPC listening on http://{addr}");
        let app = router(ctx);
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                loop {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => break,
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
