//! The `portcullis` command line: wires subcommands to the library crates, nothing more.

#![forbid(unsafe_code)]

mod admin_client;
mod bans;
mod demo;
mod keys;
mod quotas;
mod waf;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portcullis_gateway::config::validate;
use portcullis_gateway::config::{load_file, Config, Severity};
use portcullis_gateway::Gateway;

/// jemalloc instead of glibc's malloc: under load, glibc's small-chunk caches overflow and every
/// large allocation (TLS records, read buffers) first consolidates them, which cost 11% of the
/// CPU of a request through the WAF (see docs/architecture.md, "The allocator").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Portcullis: a security-first API gateway.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Config file (YAML).
        #[arg(short, long)]
        config: PathBuf,
        /// Worker threads (default: one per CPU the process may run on).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Validate a config like `nginx -t`: exit 0 with a summary, or 1 with every error.
    Check {
        /// Config file (YAML).
        #[arg(short, long)]
        config: PathBuf,
        /// Output: `text` (summary and inventory table) or `json` (the same, for tools).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Config tooling.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Run the demo: the demo API with the gateway in front of it, and a guided tour.
    Demo(demo::DemoArgs),
    /// Manage API keys in the state store.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Hash a password (read from stdin) for a `basic` provider.
    HashPassword,
    /// List, add and lift bans on a running gateway (through its admin API).
    Bans {
        #[command(subcommand)]
        command: bans::BansCommand,
    },
    /// List and reset quota counters on a running gateway (through its admin API).
    Quotas {
        #[command(subcommand)]
        command: quotas::QuotasCommand,
    },
    /// SecLang rule sets (OWASP CRS): check that they load.
    Waf {
        #[command(subcommand)]
        command: waf::WafCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the JSON Schema of the config file (for editors).
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config, format } => check(&config, format),
        Command::Config {
            command: ConfigCommand::Schema,
        } => {
            let schema = schemars::schema_for!(Config);
            match serde_json::to_string_pretty(&schema) {
                Ok(s) => {
                    println!("{s}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve { config, workers } => run_async(workers, serve(config)),
        Command::Demo(args) => run_async(None, demo::run(args)),
        Command::Keys { command } => report(keys::run(command)),
        Command::HashPassword => report(keys::hash_password()),
        Command::Bans { command } => report(bans::run(command)),
        Command::Quotas { command } => report(quotas::run(command)),
        Command::Waf { command } => report(waf::run(command)),
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .try_init();
}

fn run_async(
    workers: Option<usize>,
    fut: impl std::future::Future<Output = anyhow::Result<()>>,
) -> ExitCode {
    init_logging();
    // One worker: a current-thread runtime (no work-stealing bookkeeping), like one nginx worker.
    let mut builder = match workers {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    if let Some(n) = workers.filter(|n| *n > 1) {
        builder.worker_threads(n);
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// How `check` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// For tools.
    Json,
}

fn check(path: &Path, format: Format) -> ExitCode {
    let loaded = match load_file(path) {
        Ok(l) => l,
        Err(e) => {
            if format == Format::Json {
                let errors: Vec<String> = e.diagnostics.iter().map(ToString::to_string).collect();
                println!("{}", serde_json::json!({"ok": false, "errors": errors}));
            }
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let report = validate::check(&loaded);
    let diagnostics = loaded.diagnose(&report.findings);
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if format == Format::Json {
        let text = |sev: Severity| -> Vec<String> {
            diagnostics
                .iter()
                .filter(|d| d.severity == sev)
                .map(ToString::to_string)
                .collect()
        };
        let out = serde_json::json!({
            "ok": errors.is_empty(),
            "errors": text(Severity::Error),
            "warnings": text(Severity::Warning),
            "summary": report.summary.as_ref().map(|s| serde_json::json!({
                "apis": s.apis, "routes": s.routes, "upstreams": s.upstreams,
            })),
            "inventory": report.inventory,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return if errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if !errors.is_empty() {
        for d in &errors {
            eprintln!("{d}");
        }
        eprintln!(
            "{}: {} error(s); config refused",
            path.display(),
            errors.len()
        );
        return ExitCode::FAILURE;
    }
    let cfg = &loaded.config;
    println!("{}: config OK", path.display());
    for l in &cfg.listeners {
        let kind = match (&l.tls, &l.redirect_https) {
            (Some(_), _) => "https".to_owned(),
            (_, Some(r)) => format!("redirect to https port {}", r.port),
            _ => "http (plain)".to_owned(),
        };
        println!("  listener {:<10} {:<22} {kind}", l.name, l.bind);
    }
    if let Some(a) = &cfg.admin {
        println!("  admin               {:<22} token required", a.bind);
    }
    if let Some(s) = &report.summary {
        println!(
            "  {} API(s), {} route(s), {} upstream(s)",
            s.apis, s.routes, s.upstreams
        );
    }
    let warnings: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    if !warnings.is_empty() {
        println!("  {} warning(s):", warnings.len());
        for w in warnings {
            println!("  {w}");
        }
    }
    println!("\nAPI inventory:");
    print!(
        "{}",
        portcullis_gateway::inventory::table(&report.inventory)
    );
    ExitCode::SUCCESS
}

async fn serve(config: PathBuf) -> anyhow::Result<()> {
    let loaded = load_file(&config)?;
    let gateway = Gateway::start(loaded, true).await?;
    tracing::info!(config = %config.display(), "portcullis started");
    wait_for_stop().await;
    gateway.shutdown().await;
    tracing::info!("portcullis stopped");
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn wait_for_stop() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
