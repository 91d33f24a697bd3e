//! Wiring: open the store, build the services, bind the listeners and run until told to stop.
//! `start` is the seam integration tests use to run the real server in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::Server;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::web::{LocalAddr, RemoteAddr};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::accounts::Accounts;
use crate::channels::outbox::Outbox;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::{self, AppState};
use crate::inbox::blobs::Blobs;
use crate::inbox::{Channels, Inbox};
use crate::realtime::Hub;
use crate::store::Store;
use crate::tls::{self, TlsMaterial};

/// How long open connections (WebSockets included) get to finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Connections with nothing read for this long are closed (slow or dead clients).
const IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// Accepted sockets get TCP_NODELAY (small API answers and WebSocket frames should not wait
/// for Nagle), and an accept error (EMFILE when out of descriptors) pauses briefly instead of
/// spinning, since poem's server loop retries at once.
struct NoDelay(TcpAcceptor);

impl Acceptor for NoDelay {
    type Io = tokio::net::TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        match self.0.accept().await {
            Ok((io, local, remote, scheme)) => {
                let _ = io.set_nodelay(true);
                Ok((io, local, remote, scheme))
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(e)
            }
        }
    }
}

pub struct Running {
    pub https_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    pub fingerprint: String,
    /// Set when this start created an admin (none was enabled): its login and one-time password.
    pub first_admin: Option<crate::accounts::FirstAdmin>,
    pub state: Arc<AppState>,
    /// Open and refused connection counts, shared by both listeners.
    pub connections: Arc<http::guard::ConnLimits>,
    tls_reload: mpsc::UnboundedSender<()>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

fn rustls_config(m: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>> {
    http::handshake::server_config(&m.cert_pem, &m.key_pem)
        .map_err(|e| Error::Tls(format!("{}: {e}", m.source)))
}

async fn bind<L: Listener>(l: L, addr: SocketAddr, what: &str) -> Result<L::Acceptor> {
    l.into_acceptor().await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => " (another program uses this port)",
            std::io::ErrorKind::PermissionDenied => {
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            }
            _ => "",
        };
        Error::Usage(format!("cannot listen for {what} on {addr}: {e}{hint}"))
    })
}

pub async fn start(config: Config) -> Result<Running> {
    let config = Arc::new(config);
    let store = Store::open_with(&config.server.data_dir, config.memory.store_cache_bytes())?;
    let hub = Arc::new(Hub::default());
    let accounts = Arc::new(Accounts::new(store.clone(), &config.limits, hub.clone()));
    let first_admin = accounts.ensure_first_admin().await?;
    let material = tls::load(&config)?;

    let (stop, stop_rx) = watch::channel(false);
    let channels = Arc::new(Channels::from_config(&config));
    let mut inbox = Inbox::new(store.clone(), channels, hub.clone());
    inbox.business = match &config.business_hours {
        Some(c) => Some(Arc::new(crate::inbox::automation::Business::from_config(
            c,
        )?)),
        None => None,
    };
    inbox.templates = Arc::new(crate::inbox::templates::Templates::new(
        config
            .templates
            .iter()
            .map(|t| (t.name.clone(), t.text.clone()))
            .collect(),
    ));
    inbox.load_templates()?;
    inbox.sends_per_hour = config.automation.sends_per_client_per_hour.max(1);
    inbox.load_funnels()?;
    inbox.set_report_time_zone().await?;
    inbox.assistant_rules = crate::inbox::assistant::rules_from_config(&config);
    let assistants = {
        let list = config.assistants.clone();
        Arc::new(
            tokio::task::spawn_blocking(move || {
                crate::automation::assistant::Assistants::load(&list)
            })
            .await
            .map_err(|e| Error::Internal(format!("assistant start: {e}")))??,
        )
    };
    let http_client = crate::channels::http_client()?;
    // A missing or outdated index (after a restore) is rebuilt by the indexer task while the
    // server serves; `search.rebuilding()` says how far it is.
    let search = {
        let (dir, feed) = (
            store.dir().to_path_buf(),
            crate::inbox::indexing::source(store.clone()),
        );
        let buffer = config.memory.index_buffer_bytes();
        tokio::task::spawn_blocking(move || {
            crate::search::Search::open_deferred_with(&dir, feed, buffer)
        })
        .await
        .map_err(|e| Error::Internal(format!("search start: {e}")))??
    };
    let search = Arc::new(search);
    let blobs = Blobs::new(
        store.clone(),
        &config.server.data_dir,
        config.limits.max_upload_bytes as u64,
    );
    let ctx = crate::channels::Ctx {
        inbox: inbox.clone(),
        states: Arc::new(crate::channels::States::load(inbox.clone())),
        http: http_client.clone(),
        blobs: blobs.clone(),
        public_url: config.server.public_url.clone(),
        link_key: Arc::new(inbox.link_key().await?),
    };
    let state = Arc::new(AppState {
        config: config.clone(),
        accounts: accounts.clone(),
        inbox: inbox.clone(),
        blobs,
        channels: ctx.clone(),
        hub: hub.clone(),
        http: http_client.clone(),
        search: search.clone(),
        started: Instant::now(),
        widget: crate::channels::widget::Widget::default(),
        stop: stop_rx.clone(),
        bodies: http::body::BodyBudget::new(&config.limits),
        assistants: assistants.clone(),
    });

    // TLS settings flow through a watch so SIGHUP can swap the certificate for new
    // connections without a restart.
    let (cfg_tx, cfg_rx) = watch::channel(rustls_config(&material)?);
    let connections = connection_limits(&config);
    let https_addr = config.listen_addr()?;
    let acceptor = http::guard::Deadlines::new(
        http::handshake::TlsAcceptor::new(
            NoDelay(bind(TcpListener::bind(https_addr), https_addr, "HTTPS").await?),
            cfg_rx,
        ),
        connections.clone(),
    );
    let https_local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(https_addr);

    let mut tasks = Vec::new();
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    // Before the first request, so a job started now is never taken for one a restart cut.
    if let Err(e) = state.inbox.resume_jobs().await {
        tracing::error!("stored jobs could not be resumed: {e}");
    }
    let app = http::routes(state.clone());
    tasks.push(tokio::spawn(
        Server::new_with_acceptor(acceptor)
            .name("parley-https")
            .idle_timeout(IDLE_TIMEOUT)
            .run_with_graceful_shutdown(app, stopped(stop_rx.clone()), Some(SHUTDOWN_GRACE)),
    ));

    let http_addr = match config.http_listen_addr()? {
        Some(addr) => {
            let acc = bind(TcpListener::bind(addr), addr, "HTTP redirects").await?;
            let local = acc
                .local_addr()
                .first()
                .and_then(|a| a.as_socket_addr().copied())
                .unwrap_or(addr);
            let redirect =
                http::redirect_routes(https_local.port(), config.server.public_url.clone());
            tasks.push(tokio::spawn(
                Server::new_with_acceptor(http::guard::Deadlines::new(acc, connections.clone()))
                    .name("parley-http")
                    .idle_timeout(Duration::from_secs(10))
                    .run_with_graceful_shutdown(
                        redirect,
                        stopped(stop_rx.clone()),
                        Some(Duration::from_secs(1)),
                    ),
            ));
            Some(local)
        }
        None => None,
    };

    let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<()>();
    {
        let config = config.clone();
        let mut stop_rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = reload_rx.recv() => {
                        if r.is_none() { break; }
                        match tls::load(&config).and_then(|m| Ok((rustls_config(&m)?, m))) {
                            Ok((c, m)) => {
                                tracing::info!(fingerprint = %m.fingerprint, source = %m.source, "TLS certificate reloaded");
                                let _ = cfg_tx.send(c);
                            }
                            Err(e) => tracing::error!("TLS reload failed, keeping the current certificate: {e}"),
                        }
                    }
                    _ = stop_rx.changed() => break,
                }
            }
            Ok(())
        }));
    }

    {
        // Every committed inbox change emits an event; use them to wake the indexer soon.
        let wake = search.wake.clone();
        let mut events = hub.subscribe();
        let mut stop_rx2 = stop_rx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = events.recv() => match r {
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => wake.notify_one(),
                        Err(_) => break,
                    },
                    _ = stop_rx2.changed() => break,
                }
            }
        });
        let (search, stop_rx) = (search.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            search.run(stop_rx).await;
            Ok(())
        }));
    }

    {
        let live = state.widget.live.clone();
        let (events, typing) = (hub.subscribe(), hub.subscribe_typing());
        let stop_rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            live.run(events, typing, stop_rx).await;
            Ok(())
        }));
    }
    for t in crate::channels::start(&ctx, &stop_rx) {
        tasks.push(tokio::spawn(async move {
            let _ = t.await;
            Ok(())
        }));
    }
    {
        let states = ctx.states.clone();
        let stop_rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            states.run(stop_rx).await;
            Ok(())
        }));
    }
    {
        let outbox = Outbox::new(
            ctx.clone(),
            crate::channels::outbox::Policy::from_config(&config.delivery),
        );
        let stop_rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            outbox.run(stop_rx).await;
            Ok(())
        }));
    }
    {
        let (inbox, stop_rx) = (state.inbox.clone(), stop_rx.clone());
        let hooks = crate::automation::webhook::Webhooks::new(
            &config.automation.webhook_allow,
            config.automation.webhook_secret.as_deref(),
        );
        tasks.push(tokio::spawn(async move {
            crate::automation::run(inbox, hooks, stop_rx).await;
            Ok(())
        }));
    }
    {
        let (inbox, stop_rx) = (state.inbox.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            crate::automation::assignment::run(inbox, stop_rx).await;
            Ok(())
        }));
    }
    {
        let (inbox, stop_rx) = (state.inbox.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            crate::automation::assistant::run(inbox, assistants, stop_rx).await;
            Ok(())
        }));
    }
    {
        let (inbox, stop_rx) = (state.inbox.clone(), stop_rx.clone());
        let rates = config.automation.broadcast_per_second.clone();
        tasks.push(tokio::spawn(async move {
            crate::automation::broadcasts::run(inbox, rates, stop_rx).await;
            Ok(())
        }));
    }

    tasks.push(tokio::spawn({
        let sweep = crate::channels::widget::sweep(
            state.inbox.clone(),
            state.blobs.clone(),
            config.retention.clone(),
            stop_rx.clone(),
        );
        async move {
            sweep.await;
            Ok(())
        }
    }));

    {
        let (accounts, inbox) = (accounts.clone(), inbox.clone());
        let mut stop_rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = accounts.sweep().await {
                            tracing::warn!("session sweep failed: {e}");
                        }
                        if let Err(e) = inbox.prune_events().await {
                            tracing::warn!("event log pruning failed: {e}");
                        }
                    }
                    _ = stop_rx.changed() => break,
                }
            }
            Ok(())
        }));
    }

    Ok(Running {
        https_addr: https_local,
        http_addr,
        fingerprint: material.fingerprint,
        first_admin,
        state,
        connections,
        tls_reload: reload_tx,
        stop,
        tasks,
    })
}

impl Running {
    /// Re-read the certificate (what SIGHUP does).
    pub fn reload_tls(&self) {
        let _ = self.tls_reload.send(());
    }

    /// Stop accepting, let open requests finish (bounded by the grace period), close.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        for t in self.tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("server ended with an error: {e}"),
                Err(e) => tracing::warn!("server task failed: {e}"),
            }
        }
        Ok(())
    }
}

/// `parley serve`: start, print what an admin needs, and run until SIGTERM/SIGINT.
pub async fn serve(config: Config) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let sig = |k: SignalKind| {
        signal(k).map_err(|e| Error::Internal(format!("cannot install a signal handler: {e}")))
    };
    let (mut term, mut int, mut hup) = (
        sig(SignalKind::terminate())?,
        sig(SignalKind::interrupt())?,
        sig(SignalKind::hangup())?,
    );
    let data_dir = config.server.data_dir.clone();
    let public_url = config.server.public_url.clone();
    let running = start(config).await?;
    println!("Parley {} is running", env!("CARGO_PKG_VERSION"));
    println!("  data directory: {}", data_dir.display());
    println!("  HTTPS: https://{}", running.https_addr);
    if let Some(a) = running.http_addr {
        println!("  HTTP (redirects to HTTPS): http://{a}");
    }
    if let Some(u) = &public_url {
        println!("  public URL: {u}");
    }
    println!(
        "  TLS certificate SHA-256 fingerprint: {}",
        running.fingerprint
    );
    if let Some(a) = &running.first_admin {
        println!();
        if a.existing_managers == 0 {
            println!("  First admin created. Sign in with:");
        } else {
            // Only managers were added with `parley user add` before the first start:
            // without this nobody could manage managers or channels.
            println!("  No enabled admin found, so one was created. Sign in with:");
        }
        println!("    login:    {}", a.login);
        println!("    password: {}", a.password);
        println!("  This password is shown once. Change it under Settings after signing in.");
        println!();
    }
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => running.reload_tls(),
        }
    }
    tracing::info!("stopping");
    running.stop().await
}

/// Descriptors kept free for the store, the index, attachments and outbound requests.
const FD_RESERVE: u64 = 512;

/// The connection caps from the config, lowered to what the open-file limit allows (after
/// raising the soft limit to the hard one: distributions often start services at 1024).
fn connection_limits(config: &Config) -> Arc<http::guard::ConnLimits> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if let (Some(cur), hard) = (lim.current, lim.maximum)
        && hard.is_none_or(|h| h > cur)
    {
        // Without a hard limit, stay at a figure the kernel accepts (nr_open defaults to 2^20).
        let want = hard.unwrap_or(1 << 20);
        let raised = rustix::process::Rlimit {
            current: Some(want),
            maximum: hard,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => lim.current = Some(want),
            Err(e) => tracing::warn!("cannot raise the open-file limit from {cur}: {e}"),
        }
    }
    let mut max = config.limits.max_connections;
    if let Some(cur) = lim.current {
        let fit = usize::try_from(cur.saturating_sub(FD_RESERVE).max(64)).unwrap_or(usize::MAX);
        if fit < max {
            tracing::warn!(
                "limits.max_connections = {max} does not fit the open-file limit of {cur}; \
                 using {fit} (raise LimitNOFILE / ulimit -n)"
            );
            max = fit;
        }
    }
    let per_address = if config.server.trust_proxy {
        0
    } else {
        config.limits.max_connections_per_address
    };
    http::guard::ConnLimits::new(max, per_address)
}

/// The commands that work on a stopped server's data directory. The wiring opens the store
/// for them as it does for `serve`; the command line only parses and prints.
pub mod offline {
    use std::path::Path;

    use crate::accounts::Accounts;
    use crate::config::Config;
    use crate::error::{Error, Result};
    use crate::store::Store;
    use crate::store::backup::{self, BackupReport, RestoreReport};

    fn open(config: &Config) -> Result<Store> {
        Store::open_with(&config.server.data_dir, config.memory.store_cache_bytes()).map_err(|e| {
            match e {
                Error::Locked(m) => Error::Locked(format!(
                    "{m}. Manage users in the web UI (Settings → Managers) while the server runs."
                )),
                other => other,
            }
        })
    }

    /// Managers and tokens, as `parley user …` changes them.
    pub fn accounts(config: &Config) -> Result<Accounts> {
        Ok(Accounts::new(
            open(config)?,
            &config.limits,
            Default::default(),
        ))
    }

    /// One file with the store, every attachment and the generated TLS files.
    pub fn backup(
        config: &Config,
        file: &Path,
        progress: backup::Progress,
    ) -> Result<BackupReport> {
        backup::backup_dir(&config.server.data_dir, file, progress)
    }

    /// Replace the data directory's contents by a backup's, keeping what was there.
    pub fn restore(
        config: &Config,
        file: &Path,
        progress: backup::Progress,
    ) -> Result<RestoreReport> {
        backup::restore_dir(&config.server.data_dir, file, progress)
    }

    /// Rebuild both search indexes from the store: (clients, messages) indexed.
    pub async fn reindex(
        config: &Config,
        bar: impl Fn(&str, u64, u64) + Send + Sync + 'static,
    ) -> Result<(u64, u64)> {
        let store = open(config)?;
        let (dir, feed) = (
            store.dir().to_path_buf(),
            crate::inbox::indexing::source(store.clone()),
        );
        tokio::task::spawn_blocking(move || -> Result<(u64, u64)> {
            // Opened without its own rebuild: the one below is shown once, not twice.
            let search = crate::search::Search::open_deferred(&dir, feed)?;
            search.rebuild(&bar)?;
            Ok(search.stats())
        })
        .await
        .map_err(|e| Error::Internal(format!("reindex: {e}")))?
    }

    /// Generated clients, chats and messages for trying the product out.
    pub async fn demo(
        config: &Config,
        contacts: u64,
        messages: u64,
        seed: u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<crate::inbox::demo::Report> {
        let store = open(config)?;
        crate::inbox::demo::generate(&store, contacts, messages, seed, progress).await
    }
}
