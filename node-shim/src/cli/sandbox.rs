//! `soru sandbox …`: the embedded Tezos L1 (see [`crate::sandbox`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::sandbox::node::{self, Config, Node};
use crate::sandbox::protocol::Constants;
use crate::sandbox::rpc;

/// The `sandbox` subcommands.
#[derive(Debug, Subcommand)]
pub(super) enum SandboxCommand {
    /// Create a sandbox: D/config.json, D/wallet.json (funded Ed25519 bootstrap accounts) and
    /// the database with the genesis block.
    Init(InitArgs),
    /// Serve the octez RPC and bake blocks.
    ///
    /// Prints `RPC listening on http://ADDR:PORT` once it serves. With Taquito:
    ///
    ///   const tezos = new TezosToolkit('http://127.0.0.1:18731');
    ///   tezos.setProvider({ signer: new InMemorySigner(wallet[0].secret_key) });
    ///   const op = await tezos.contract.smartRollupAddMessages({ message: ['68656c6c6f'] });
    ///   await op.confirmation();
    Run(RunArgs),
}

/// Arguments of `soru sandbox init`.
#[derive(Debug, Args)]
pub(super) struct InitArgs {
    /// The data directory to create.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// How many bootstrap accounts to fund.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=100))]
    accounts: u16,
    /// Blocks between commitments.
    #[arg(long, default_value_t = 5)]
    commitment_period: u32,
    /// Blocks before a commitment can be cemented.
    #[arg(long, default_value_t = 10)]
    challenge_window: u32,
}

/// Arguments of `soru sandbox run`.
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The data directory made by `soru sandbox init`.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Where to serve the RPC (port 0 picks a free port).
    #[arg(long, value_name = "ADDR:PORT")]
    rpc_addr: Option<String>,
    /// Seconds between blocks (fractions allowed).
    #[arg(long, value_name = "SECONDS", conflicts_with = "manual")]
    block_time: Option<f64>,
    /// Bake only on `POST /sandbox/bake`.
    #[arg(long)]
    manual: bool,
}

pub(super) fn run(command: &SandboxCommand) -> ExitCode {
    let result = match command {
        SandboxCommand::Init(a) => init(a),
        SandboxCommand::Run(a) => serve(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soru sandbox: {e}");
            ExitCode::from(2)
        }
    }
}

fn init(a: &InitArgs) -> Result<(), String> {
    let config = Config {
        rpc_addr: "127.0.0.1:18731".into(),
        block_time: 1.0,
        constants: Constants {
            smart_rollup_commitment_period_in_blocks: a.commitment_period.max(1),
            smart_rollup_challenge_window_in_blocks: a.challenge_window,
            ..Constants::default()
        },
    };
    let wallet = node::init(&a.data_dir, usize::from(a.accounts), &config, rpc::now())
        .map_err(|e| e.to_string())?;
    let _ = super::print_line(&format!(
        "sandbox created in {} with {} funded accounts (wallet.json); first: {}",
        a.data_dir.display(),
        wallet.len(),
        wallet[0].address
    ))?;
    Ok(())
}

fn serve(a: &RunArgs) -> Result<(), String> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let cfg_path = a.data_dir.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| {
        format!(
            "{}: {e} (run `soru sandbox init` first)",
            cfg_path.display()
        )
    })?;
    let config: Config =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", cfg_path.display()))?;
    let node = Node::open(&a.data_dir).map_err(|e| e.to_string())?;
    let block_time = if a.manual {
        None
    } else {
        let s = a.block_time.unwrap_or(config.block_time);
        if !(s.is_finite() && s >= 0.05) {
            return Err(format!("--block-time {s}: must be at least 0.05 seconds"));
        }
        Some(Duration::from_secs_f64(s))
    };
    let addr = a.rpc_addr.clone().unwrap_or(config.rpc_addr);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let (listener, bound) = rpc::bind(&addr).await?;
        let (heads, _) = tokio::sync::broadcast::channel(64);
        let shared = rpc::Shared {
            node: Arc::new(Mutex::new(node)),
            heads,
        };
        if let Some(every) = block_time {
            let s = shared.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let header = {
                        let mut n = s.node.lock().unwrap_or_else(|p| p.into_inner());
                        match n.bake(rpc::now()) {
                            Ok(b) => {
                                let b = b.clone();
                                Ok(n.header_json(&b))
                            }
                            Err(e) => Err(e),
                        }
                    };
                    match header {
                        Ok(h) => {
                            let _ = s.heads.send(h);
                        }
                        Err(e) => {
                            // The block was not written: stop rather than serve a state the
                            // database does not have.
                            tracing::error!("cannot write a block: {e}");
                            std::process::exit(3);
                        }
                    }
                }
            });
        }
        let app = rpc::router(shared);
        println!("RPC listening on http://{bound}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| format!("RPC server: {e}"))
    })
}
