//! Command line: thin functions over the library.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::accounts::{NewManager, random_token};
use crate::app::offline;
use crate::config::{Config, Overrides};
use crate::domain::manager::{Role, normalise_login};
use crate::error::{Error, Result};

#[derive(Parser, Debug)]
#[command(name = "parley", version, about = "Self-hosted omnichannel chat inbox")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// TOML config file (optional: without one, defaults and PARLEY_* variables apply).
    #[arg(long, global = true, env = "PARLEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (overrides server.data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve {
        /// HTTPS listen address, e.g. 0.0.0.0:8443.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Plain-HTTP redirect listener address, or "off".
        #[arg(long, value_name = "ADDR|off")]
        http_listen: Option<String>,
    },
    /// Write a starter config file and create the data directory.
    Init {
        /// Where to write the config.
        #[arg(default_value = "parley.toml")]
        file: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Manage manager accounts (stop the server first, or use Settings in the web UI).
    #[command(subcommand)]
    User(UserCommand),
    /// Check the config and print the effective settings with secrets redacted.
    CheckConfig,
    /// Write one file with the store, every attachment and the generated TLS files (works
    /// while the server runs).
    Backup { file: PathBuf },
    /// Restore a backup FILE into the data directory (stop the server first); what was there
    /// is kept aside.
    Restore { file: PathBuf },
    /// Rebuild the search indexes from the store (stop the server first).
    Reindex,
    /// Fill the data directory with realistic synthetic clients, chats and messages.
    Demo {
        #[arg(long, default_value_t = 1000)]
        contacts: u64,
        #[arg(long, default_value_t = 10_000)]
        messages: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a manager.
    Add {
        login: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "manager"], default_value = "manager")]
        role: String,
        /// Read the password from the first line of standard input (else one is generated).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a manager's password (ends their sessions).
    Passwd {
        login: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List managers.
    List,
    /// Disable a manager (ends their sessions).
    Disable { login: String },
    /// Enable a disabled manager.
    Enable { login: String },
}

fn load_config(g: &Global, overrides: Overrides) -> Result<Config> {
    Config::load(
        g.config.as_deref(),
        &Overrides {
            data_dir: g.data_dir.clone(),
            ..overrides
        },
    )
}

pub fn init_logging(level: &str) {
    let filter = std::env::var("PARLEY_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| format!("{level},poem=warn,rustls=warn,redb=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Files Parley creates in the data directory hold hashes, keys and conversations: whatever
/// umask the service starts with, nothing it writes there (the search index included, whose
/// files tantivy creates) is readable by other users. `init` keeps the umask, since it writes
/// a config file an admin may share with a group.
fn private_umask() {
    use rustix::fs::Mode;
    rustix::process::umask(Mode::from_raw_mode(0o077));
}

pub async fn run(cli: Cli) -> Result<()> {
    if !matches!(cli.command, Command::Init { .. } | Command::CheckConfig) {
        private_umask();
    }
    match cli.command {
        Command::Serve {
            listen,
            http_listen,
        } => {
            let config = load_config(
                &cli.global,
                Overrides {
                    listen,
                    http_listen,
                    ..Default::default()
                },
            )?;
            init_logging(&config.log.level);
            crate::app::serve(config).await
        }
        Command::Init { file, force } => init(&cli.global, file, force),
        Command::CheckConfig => {
            let config = load_config(&cli.global, Overrides::default())?;
            print!("{}", config.redacted_toml());
            eprintln!(
                "config OK{}",
                cli.global
                    .config
                    .as_ref()
                    .map(|p| format!(": {}", p.display()))
                    .unwrap_or_else(|| " (no file: defaults and environment)".into())
            );
            Ok(())
        }
        Command::User(cmd) => {
            let config = load_config(&cli.global, Overrides::default())?;
            user(&config, cmd).await
        }
        Command::Backup { file } => {
            let config = load_config(&cli.global, Overrides::default())?;
            backup(&config, &file)
        }
        Command::Reindex => {
            let config = load_config(&cli.global, Overrides::default())?;
            reindex(&config).await
        }
        Command::Demo {
            contacts,
            messages,
            seed,
        } => {
            let config = load_config(&cli.global, Overrides::default())?;
            demo(&config, contacts, messages, seed).await
        }
        Command::Restore { file } => {
            let config = load_config(&cli.global, Overrides::default())?;
            restore(&config, &file)
        }
    }
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

fn backup(config: &Config, file: &std::path::Path) -> Result<()> {
    let started = std::time::Instant::now();
    let bar = Bar::new("backup", Unit::Bytes);
    let progress = |done: u64, total: u64| bar.show(done, total);
    let r = offline::backup(config, file, &progress)?;
    bar.done();
    println!(
        "backup written to {} ({}, mode 0600) in {:.2} s:",
        file.display(),
        mb(r.bytes),
        started.elapsed().as_secs_f64()
    );
    println!(
        "  store: {} tables, {} rows, {}",
        r.tables,
        r.rows,
        mb(r.store_bytes)
    );
    println!("  attachments: {} files, {}", r.blobs, mb(r.blob_bytes));
    if r.tls_files > 0 {
        println!(
            "  TLS: the generated certificate and key ({} files), so a restore elsewhere shows the same fingerprint",
            r.tls_files
        );
    } else {
        println!("  TLS: none generated in the data directory (configured files are not included)");
    }
    println!(
        "  It holds password, session and token hashes{}: keep it private.",
        if r.tls_files > 0 {
            " and the TLS key"
        } else {
            ""
        }
    );
    if !r.missing_blobs.is_empty() {
        eprintln!(
            "warning: {} attachment(s) the store refers to were already missing from {}/blobs and are not in the backup: {}",
            r.missing_blobs.len(),
            config.server.data_dir.display(),
            r.missing_blobs.join(", ")
        );
    }
    Ok(())
}

fn restore(config: &Config, file: &std::path::Path) -> Result<()> {
    let dir = &config.server.data_dir;
    let bar = Bar::new("restore", Unit::Bytes);
    let r = offline::restore(config, file, &|done, total| bar.show(done, total))?;
    bar.done();
    println!("restored {} into {}:", file.display(), dir.display());
    println!("  store: {}", mb(r.store_bytes));
    if r.store_only {
        println!("  attachments: none (a store-only backup from an older Parley)");
    } else {
        println!("  attachments: {} files, {}", r.blobs, mb(r.blob_bytes));
        println!("  TLS files: {}", r.tls_files);
    }
    match &r.kept {
        Some(k) => println!(
            "  the data that was there before is kept in {}",
            k.display()
        ),
        None => println!("  the data directory held no Parley data before"),
    }
    println!("  The search index is rebuilt in the background at the next start.");
    Ok(())
}

async fn reindex(config: &Config) -> Result<()> {
    let started = std::time::Instant::now();
    let contacts = std::sync::Arc::new(Bar::new("clients", Unit::Count));
    let messages = std::sync::Arc::new(Bar::new("messages", Unit::Count));
    let (c2, m2) = (contacts.clone(), messages.clone());
    let bar = move |what: &str, n: u64, total: u64| {
        if what == "contacts" {
            c2.show(n, total);
        } else {
            c2.done();
            m2.show(n, total);
        }
    };
    let (c, m) = offline::reindex(config, bar).await?;
    contacts.done();
    messages.done();
    println!(
        "reindexed {c} clients and {m} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn demo(config: &Config, contacts: u64, messages: u64, seed: u64) -> Result<()> {
    if contacts > 10_000_000 || messages > 100_000_000 {
        return Err(Error::Usage(
            "at most 10M contacts and 100M messages".into(),
        ));
    }
    let started = std::time::Instant::now();
    let bar = Bar::new("demo clients", Unit::Count);
    let r = offline::demo(config, contacts, messages, seed, &|done| {
        bar.show(done, contacts)
    })
    .await?;
    bar.done();
    println!(
        "demo data: {} clients, {} chats, {} messages in {:.1} s (seed {seed})",
        r.contacts,
        r.chats,
        r.messages,
        started.elapsed().as_secs_f64()
    );
    println!(
        "The chats use the channel ids of the (commented) examples in config.example.toml: {}.",
        crate::inbox::demo::CHANNELS
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

fn init(g: &Global, file: PathBuf, force: bool) -> Result<()> {
    if file.exists() && !force {
        return Err(Error::Usage(format!(
            "{} exists; pass --force to overwrite it",
            file.display()
        )));
    }
    crate::tls::write_atomic(&file, EXAMPLE_CONFIG.as_bytes(), 0o640)?;
    let config = load_config(
        &Global {
            config: Some(file.clone()),
            data_dir: g.data_dir.clone(),
        },
        Overrides::default(),
    )?;
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(&config.server.data_dir)
        .map_err(|e| {
            Error::io(
                format!("cannot create {}", config.server.data_dir.display()),
                e,
            )
        })?;
    println!(
        "wrote {}; data directory {}. Start with: parley serve --config {}",
        file.display(),
        config.server.data_dir.display(),
        file.display()
    );
    Ok(())
}

pub use crate::config::EXAMPLE_CONFIG;

fn read_password_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("cannot read the password from standard input", e))?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        return Err(Error::Usage("no password on standard input".into()));
    }
    Ok(pw)
}

async fn user(config: &Config, cmd: UserCommand) -> Result<()> {
    let accounts = offline::accounts(config)?;
    let find = async |login: &str| -> Result<crate::domain::manager::Manager> {
        let l = normalise_login(login).map_err(|m| Error::invalid("login", m))?;
        accounts
            .manager_by_login(l.clone())
            .await?
            .ok_or_else(|| Error::Usage(format!("no manager with login {l:?}")))
    };
    match cmd {
        UserCommand::Add {
            login,
            name,
            role,
            password_stdin,
        } => {
            let (password, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (random_token(12), true)
            };
            let role = Role::parse(&role).ok_or_else(|| Error::invalid("role", "unknown"))?;
            let m = accounts
                .create_manager(NewManager {
                    login,
                    name,
                    role,
                    password: password.clone(),
                })
                .await?;
            println!("created {} {:?} ({})", m.role.as_str(), m.login, m.name);
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Passwd {
            login,
            password_stdin,
        } => {
            let m = find(&login).await?;
            let (password, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (random_token(12), true)
            };
            accounts.set_password(m.id, password.clone()).await?;
            println!("password of {:?} changed; their sessions ended", m.login);
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            let all = accounts.managers().await?;
            println!(
                "{:<6} {:<24} {:<8} {:<9} NAME",
                "ID", "LOGIN", "ROLE", "STATE"
            );
            for m in all {
                println!(
                    "{:<6} {:<24} {:<8} {:<9} {}",
                    m.id,
                    m.login,
                    m.role.as_str(),
                    if m.disabled { "disabled" } else { "active" },
                    m.name
                );
            }
        }
        UserCommand::Disable { login } => {
            let m = find(&login).await?;
            accounts.set_disabled(m.id, true).await?;
            println!("disabled {:?}; their sessions ended", m.login);
        }
        UserCommand::Enable { login } => {
            let m = find(&login).await?;
            accounts.set_disabled(m.id, false).await?;
            println!("enabled {:?}", m.login);
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Unit {
    Count,
    Bytes,
}

/// Progress of a long command on stderr (stdout stays the summary): on a terminal a bar
/// redrawn in place with the rate and time left; otherwise (a log, a pipe) a plain line every
/// 10 % or 10 s. Nothing for work that is over in a moment.
struct Bar {
    what: &'static str,
    unit: Unit,
    tty: bool,
    started: std::time::Instant,
    /// (last percent shown, when a line or frame was last written, finished)
    shown: std::sync::Mutex<(u64, std::time::Instant, bool)>,
}

impl Bar {
    /// Below this much time a command needs no progress.
    const QUIET: std::time::Duration = std::time::Duration::from_millis(700);

    fn new(what: &'static str, unit: Unit) -> Bar {
        let now = std::time::Instant::now();
        Bar {
            what,
            unit,
            tty: std::io::stderr().is_terminal(),
            started: now,
            shown: std::sync::Mutex::new((0, now, false)),
        }
    }

    fn amount(&self, n: u64) -> String {
        match self.unit {
            Unit::Count => n.to_string(),
            Unit::Bytes => mb(n),
        }
    }

    fn show(&self, done: u64, total: u64) {
        let elapsed = self.started.elapsed();
        if elapsed < Self::QUIET && done < total {
            return;
        }
        let mut g = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        if g.2 {
            return;
        }
        let pct = (done * 100).checked_div(total).unwrap_or(100).min(100);
        let now = std::time::Instant::now();
        let due = if self.tty {
            now.duration_since(g.1) >= std::time::Duration::from_millis(100) || done >= total
        } else {
            pct >= g.0 + 10
                || (done >= total && g.0 < 100)
                || now.duration_since(g.1) >= std::time::Duration::from_secs(10)
        };
        if !due {
            return;
        }
        g.0 = pct;
        g.1 = now;
        let secs = elapsed.as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let left = if done > 0 && total > done {
            format!(", {:.0} s left", (total - done) as f64 / rate)
        } else {
            String::new()
        };
        let per_s = match self.unit {
            Unit::Count => format!("{rate:.0}/s"),
            Unit::Bytes => format!("{}/s", mb(rate as u64)),
        };
        let (d, t) = (self.amount(done), self.amount(total));
        if self.tty {
            let width = 30u64;
            let filled = (pct * width / 100) as usize;
            eprint!(
                "\r{} [{}{}] {pct:>3} % {d}/{t} ({per_s}{left})\x1b[K",
                self.what,
                "#".repeat(filled),
                " ".repeat(width as usize - filled)
            );
        } else {
            eprintln!("{}: {pct:>3} % ({d} of {t}, {per_s}{left})", self.what);
        }
    }

    /// End the bar's line (once), if anything was shown.
    fn done(&self) {
        let mut g = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        if !g.2 && self.tty && g.1 != self.started {
            eprintln!();
        }
        g.2 = true;
    }
}
