//! `portcullis keys` (API keys in the state store) and `portcullis hash-password`.
//!
//! Key commands open the config's state file directly, so they work while the gateway is
//! stopped; a running gateway holds the file, and its admin API (`/keys/...`) does the same
//! operations.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;
use portcullis_gateway::auth::api_key::{IssuedKey, KeyGrant};
use portcullis_gateway::config::load_file;
use portcullis_gateway::metrics::Metrics;
use portcullis_gateway::runtime::Runtime;
use portcullis_gateway::security_events::SecurityEvents;
use portcullis_gateway::services::Services;
use portcullis_gateway::state::key_store::{KeyRecord, KeyStore};

/// Key commands.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key; the full key is printed once and never stored.
    Create {
        #[command(flatten)]
        target: Target,
        /// Who the key is for.
        #[arg(long)]
        owner: String,
        /// Scope granted (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Role granted (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Lifetime, e.g. 90d (default: no expiry).
        #[arg(long)]
        expires_in: Option<humantime::Duration>,
        /// Do not store the key: print a `keys:` entry to paste into the config instead.
        #[arg(long)]
        declare: bool,
    },
    /// List a provider's stored keys.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Revoke a key: it fails from now on.
    Revoke {
        #[command(flatten)]
        target: Target,
        /// The key's prefix.
        prefix: String,
    },
    /// Issue a replacement; the old key stays valid for the overlap.
    Rotate {
        #[command(flatten)]
        target: Target,
        /// The key's prefix.
        prefix: String,
        /// How long the old key keeps working.
        #[arg(long, default_value = "24h")]
        overlap: humantime::Duration,
    },
}

/// Which provider's keys.
#[derive(clap::Args)]
pub struct Target {
    /// Config file (YAML).
    #[arg(short, long)]
    config: PathBuf,
    /// API name.
    #[arg(long)]
    api: String,
    /// Name of the `api_key` provider.
    #[arg(long)]
    provider: String,
}

/// Runs a key command.
pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            target,
            owner,
            scopes,
            roles,
            expires_in,
            declare,
        } => {
            let grant = KeyGrant {
                owner,
                scopes,
                roles,
                ttl: expires_in.map(Duration::from),
            };
            let rt = runtime(&target.config, !declare)?;
            let p = provider(&rt, &target)?;
            if declare {
                let issued = p.mint(&format!("{}/{}", target.api, target.provider), &grant);
                print_issued(&issued);
                println!("\nadd under the provider's `keys:`:");
                print_declared(&issued.record);
            } else {
                let issued = p.create(&grant)?;
                print_issued(&issued);
            }
        }
        KeysCommand::List { target } => {
            let rt = runtime(&target.config, true)?;
            let records = provider(&rt, &target)?.list()?;
            println!(
                "{:<14} {:<16} {:<9} {:<22} {:<22} last used",
                "prefix", "owner", "status", "created", "expires"
            );
            for r in records {
                println!(
                    "{:<14} {:<16} {:<9} {:<22} {:<22} {}",
                    r.prefix,
                    r.owner,
                    status(&r),
                    time(Some(r.created)),
                    time(r.expires),
                    time(r.last_used)
                );
            }
        }
        KeysCommand::Revoke { target, prefix } => {
            let rt = runtime(&target.config, true)?;
            provider(&rt, &target)?.revoke(&prefix)?;
            println!("key {prefix} revoked");
        }
        KeysCommand::Rotate {
            target,
            prefix,
            overlap,
        } => {
            let rt = runtime(&target.config, true)?;
            let (issued, old) = provider(&rt, &target)?.rotate(&prefix, overlap.into())?;
            print_issued(&issued);
            println!(
                "old key {} stays valid until {}",
                old.prefix,
                time(old.expires)
            );
        }
    }
    Ok(())
}

fn runtime(config: &Path, open_store: bool) -> anyhow::Result<Runtime> {
    let loaded = load_file(config)?;
    let store = match (&loaded.config.state.path, open_store) {
        (Some(p), true) => Some(Arc::new(KeyStore::open(&loaded.base_dir.join(p))?)),
        (None, true) => bail!(
            "{}: no `state.path`: keys can only be declared in the config (use --declare)",
            config.display()
        ),
        _ => None,
    };
    let services = match store {
        Some(store) => {
            let metrics = Arc::new(Metrics::new());
            let events = Arc::new(SecurityEvents::counted_only(metrics.clone()));
            Services::new(metrics, events, Some(store))
        }
        None => Services::for_check(),
    };
    Runtime::build(&loaded, &services).map_err(|findings| {
        let lines: Vec<String> = loaded
            .diagnose(&findings)
            .iter()
            .map(ToString::to_string)
            .collect();
        anyhow!("config refused:\n{}", lines.join("\n"))
    })
}

fn provider<'a>(
    rt: &'a Runtime,
    t: &Target,
) -> anyhow::Result<&'a portcullis_gateway::auth::api_key::ApiKeyProvider> {
    rt.api_key_provider(&t.api, &t.provider)
        .ok_or_else(|| anyhow!("API {:?} has no api_key provider {:?}", t.api, t.provider))
}

fn print_issued(issued: &IssuedKey) {
    println!("key:     {}", issued.key);
    println!("prefix:  {}", issued.record.prefix);
    println!("owner:   {}", issued.record.owner);
    println!("expires: {}", time(issued.record.expires));
    println!("This is the only time the key is shown: store it now.");
}

fn print_declared(r: &KeyRecord) {
    println!("  - prefix: {}", r.prefix);
    println!("    hash: {}", r.hash);
    println!("    owner: {:?}", r.owner);
    if !r.scopes.is_empty() {
        println!("    scopes: {:?}", r.scopes);
    }
    if !r.roles.is_empty() {
        println!("    roles: {:?}", r.roles);
    }
    if r.expires.is_some() {
        println!("    expires: {}", time(r.expires));
    }
}

fn status(r: &KeyRecord) -> &'static str {
    let now = portcullis_gateway::state::key_store::unix_now();
    match (r.revoked, r.expires) {
        (true, _) => "revoked",
        (_, Some(e)) if e <= now => "expired",
        _ if r.rotated_to.is_some() => "rotating",
        _ => "active",
    }
}

fn time(t: Option<u64>) -> String {
    match t {
        Some(secs) => {
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(secs))
                .to_string()
        }
        None => "-".into(),
    }
}

/// `portcullis hash-password`: reads one password from stdin, prints its argon2id hash.
pub fn hash_password() -> anyhow::Result<()> {
    eprintln!("password (read from stdin, one line):");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("empty password");
    }
    let hash = portcullis_gateway::auth::basic::hash_password(password).map_err(|e| anyhow!(e))?;
    println!("{hash}");
    Ok(())
}
