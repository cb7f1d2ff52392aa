//! The `blueberry` command: parses the CLI, loads config, runs one subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use blueberry::{
    app::Application,
    config::{Config, LogFormat},
    sim::SimArgs,
    telemetry,
};

/// Blueberry gives every GitLab merge request its own short-lived Kubernetes environment,
/// delivered through Argo CD.
#[derive(Parser)]
#[command(
    name = "blueberry",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Settings for `serve`, which runs when no subcommand is given.
    #[command(flatten)]
    serve: Config,

    /// Log format.
    #[arg(long, env = "BLUEBERRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Subcommand)]
// Parsed once at start-up; boxing the bigger variant buys nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run Blueberry: API, web UI, webhook receiver, workers and reaper (the default).
    Serve(Config),
    /// Run the simulated Kubernetes API for Argo CD Applications on its own.
    SimCluster(SimArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(config)) => serve(config).await,
        Some(Command::SimCluster(args)) => blueberry::sim::run_standalone(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    tracing::info!(url = %app.url(), "blueberry is listening");
    app.run_until(telemetry::shutdown_signal()).await
}
