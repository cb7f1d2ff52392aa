//! The `blueberry` command: parses the CLI, loads config, runs one subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use std::sync::Arc;

use blueberry::{
    app::Application,
    clock::SystemClock,
    config::{Config, LogFormat, StoreKind},
    domain::auth::{LOGIN_CODE_MINUTES, Role},
    service::{sessions::SessionService, tokens::TokenService},
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

    /// Log format: `json` lines, or `text` for people. Default: text when the log (standard
    /// error) is a terminal, json otherwise (containers, files).
    #[arg(long, env = "BLUEBERRY_LOG_FORMAT", value_enum, global = true)]
    log_format: Option<LogFormat>,
}

#[derive(Subcommand)]
// Parsed once at start-up; boxing the bigger variant buys nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run Blueberry: API, web UI, webhook receiver, workers and reaper (the default).
    Serve(Config),
    /// Run the simulated Kubernetes API for Argo CD Applications on its own.
    SimCluster(SimArgs),
    /// Environments on a Blueberry server, over its API (for people and CI jobs). Exit codes:
    /// 0 done, 1 the environment failed, 2 timed out, 3 bad input, credentials or server.
    Env(blueberry::client::EnvArgs),
    /// Check an API token against a server and save both for `blueberry env` (readable by you
    /// only). The token comes from --token, BLUEBERRY_TOKEN or one line of standard input.
    Login(blueberry::client::LoginArgs),
    /// Forget what `blueberry login` saved.
    Logout,
    /// Manage API tokens from the command line (operators).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Exit 0 when a Blueberry answers /healthz: the container image's HEALTHCHECK (it has no
    /// shell or curl).
    Healthcheck {
        /// The server to ask.
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint a token on the configured store and print its secret once.
    Create {
        /// A name to recognise it by.
        #[arg(long)]
        name: String,
        /// viewer, developer or admin.
        #[arg(long, value_enum)]
        role: Role,
        /// Hours until it expires (never, when absent).
        #[arg(long)]
        expires_in_hours: Option<i64>,
        /// Also print a one-time login link for a browser (single use, valid 15 minutes).
        #[arg(long)]
        login_link: bool,
        /// The address people reach Blueberry at, for the login link.
        #[arg(
            long,
            env = "BLUEBERRY_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        public_url: String,
        /// Folder of the embedded database (`--store sqlite`).
        #[arg(long, env = "BLUEBERRY_DATA_DIR", default_value = ".blueberry")]
        data_dir: std::path::PathBuf,
        /// Where metadata lives.
        #[arg(long, env = "BLUEBERRY_STORE", value_enum, default_value_t = StoreKind::Sqlite)]
        store: StoreKind,
        /// Google Cloud project (`--store firestore`).
        #[arg(long, env = "BLUEBERRY_GCP_PROJECT")]
        gcp_project: Option<String>,
        /// Firestore database id.
        #[arg(
            long,
            env = "BLUEBERRY_FIRESTORE_DATABASE",
            default_value = "(default)"
        )]
        firestore_database: String,
        /// host:port of the Firestore emulator.
        #[arg(long, env = "FIRESTORE_EMULATOR_HOST")]
        firestore_emulator_host: Option<String>,
    },
}

#[cfg(feature = "dhat-heap")]
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[cfg(not(feature = "dhat-heap"))]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process. mimalloc asks the kernel for huge pages
/// on its arena, where one live allocation then keeps a whole 2 MB page resident: at 10,000
/// environments that was 86 MB of the 216 MB resident (README, Performance). This is what
/// `MIMALLOC_ALLOW_THP=0` does, set in code because mimalloc reads its options before `main`.
fn no_transparent_huge_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's memory map; it takes no
    // pointers.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    no_transparent_huge_pages();
    // Heap profile of the whole run, written to dhat-heap.json when main returns.
    #[cfg(feature = "dhat-heap")]
    let _profiler = dhat::Profiler::new_heap();
    let cli = Cli::parse();
    let log_format = telemetry::init(cli.log_format);
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(config)) => serve(config).await,
        Some(Command::SimCluster(args)) => blueberry::sim::run_standalone(args).await,
        Some(Command::Healthcheck { url }) => healthcheck(&url).await,
        Some(Command::Env(args)) => return blueberry::client::run(args).await.exit(),
        Some(Command::Login(args)) => return blueberry::client::login(args).await.exit(),
        Some(Command::Logout) => return blueberry::client::logout().exit(),
        Some(Command::Token(TokenCommand::Create {
            name,
            role,
            expires_in_hours,
            login_link,
            public_url,
            data_dir,
            store,
            gcp_project,
            firestore_database,
            firestore_emulator_host,
        })) => {
            let config = Config {
                data_dir,
                store,
                gcp_project,
                firestore_database,
                firestore_emulator_host,
                ..Config::default()
            };
            let link = login_link.then_some(public_url);
            create_token(config, &name, role, expires_in_hours, link).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Once: a log line for machines, or a plain line for people.
        Err(e) if matches!(log_format, LogFormat::Json) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn create_token(
    config: Config,
    name: &str,
    role: Role,
    expires_in_hours: Option<i64>,
    login_link: Option<String>,
) -> anyhow::Result<()> {
    let stores = blueberry::app::open_store(&config).await?;
    let clock = Arc::new(SystemClock);
    let tokens = TokenService::new(stores.metadata.clone(), clock.clone());
    let (token, secret) = tokens
        .create_as_operator(name, role, expires_in_hours)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!(
        "created {} token `{}` ({}); its secret is shown once:",
        token.role, token.name, token.id
    );
    println!("{secret}");
    if let Some(url) = login_link {
        let sessions = SessionService::new(stores.sessions, stores.metadata, tokens, clock);
        let code = sessions
            .login_code(&token.id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        eprintln!("log in once in a browser (single use, valid {LOGIN_CODE_MINUTES} minutes) at:");
        println!("{}/login?code={code}", url.trim_end_matches('/'));
    }
    Ok(())
}

async fn healthcheck(url: &str) -> anyhow::Result<()> {
    let status = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()?
        .get(url)
        .send()
        .await?
        .status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    tracing::info!(url = %app.url(), "blueberry is listening");
    app.run_until(telemetry::shutdown_signal()).await
}
