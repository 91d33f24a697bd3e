//! The real `parley` binary as a child process, as a user runs it: `serve` on a data
//! directory with a config file, ready when HTTPS `/healthz` answers 200, the CLI (`user add`
//! for the first admin), clean (SIGTERM) and hard (SIGKILL) stops, and memory read from
//! /proc. Shared by tests and benches (`#[path]`, next to `tls.rs` and `raw.rs`), so it uses
//! only crates both can see. Linux only, like the server.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// The binary cargo built for this test or bench target.
pub const BIN: &str = env!("CARGO_BIN_EXE_parley");

/// `PARLEY_BIN` when set (a bench measuring another build, e.g. the static release binary),
/// else [`BIN`].
pub fn bin_from_env() -> PathBuf {
    std::env::var_os("PARLEY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(BIN))
}

/// A loopback port free right now; a restart on the same data can listen on it again.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Run a CLI command to its end, `stdin` written and closed. The caller's PARLEY_CONFIG is
/// dropped so that only the arguments configure the command.
pub fn run(bin: impl AsRef<Path>, args: &[&str], stdin: Option<&str>) -> Output {
    let bin = bin.as_ref();
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("PARLEY_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    if let Some(s) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(s.as_bytes())
            .expect("write the command's stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait for the command")
}

/// What a command printed, stdout then stderr (for assertion messages).
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Add an admin with `parley user add` while no server runs on `data`. The display name is
/// the login capitalised ("boss" → "Boss").
pub fn add_admin(
    bin: impl AsRef<Path>,
    data: &Path,
    config: Option<&Path>,
    login: &str,
    password: &str,
) {
    let mut name = login.to_string();
    if let Some(first) = name.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let data = data.to_str().expect("a UTF-8 data path");
    let mut args = vec![
        "user",
        "add",
        login,
        "--name",
        &name,
        "--role",
        "admin",
        "--password-stdin",
        "--data-dir",
        data,
    ];
    if let Some(c) = config {
        args.extend(["--config", c.to_str().expect("a UTF-8 config path")]);
    }
    let o = run(bin, &args, Some(&format!("{password}\n")));
    assert!(o.status.success(), "parley user add: {}", output_text(&o));
}

/// Where a served process's output goes.
pub enum Logs {
    /// Nowhere.
    Discard,
    /// stdout and stderr appended to this file, so restarts add to one log.
    File(PathBuf),
    /// stdout read up to the end of the start banner (address, fingerprint, a first admin's
    /// one-time password) into [`Server::banner`], then drained; stderr discarded.
    Banner,
}

/// How to start `parley serve`: HTTPS on 127.0.0.1 only (the plain listener off).
pub struct Serve {
    bin: PathBuf,
    data: PathBuf,
    config: Option<PathBuf>,
    port: u16,
    logs: Logs,
    /// Variables to set (`Some`) or remove (`None`).
    env: Vec<(String, Option<String>)>,
}

impl Serve {
    /// On any free port, its address read from the banner, unless [`Serve::port`] is set.
    pub fn new(bin: impl Into<PathBuf>, data: impl Into<PathBuf>) -> Serve {
        Serve {
            bin: bin.into(),
            data: data.into(),
            config: None,
            port: 0,
            logs: Logs::Banner,
            // Only the arguments name the config file.
            env: vec![("PARLEY_CONFIG".into(), None)],
        }
    }

    pub fn config(mut self, path: impl Into<PathBuf>) -> Serve {
        self.config = Some(path.into());
        self
    }

    /// A fixed port: the address is known before the banner, and restarts keep it.
    pub fn port(mut self, port: u16) -> Serve {
        self.port = port;
        self
    }

    pub fn logs(mut self, logs: Logs) -> Serve {
        self.logs = logs;
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Serve {
        self.env.push((name.into(), Some(value.into())));
        self
    }

    pub fn env_remove(mut self, name: &str) -> Serve {
        self.env.push((name.into(), None));
        self
    }

    /// Start the process. With [`Logs::Banner`] this blocks until the banner is printed.
    pub fn spawn(&self) -> Server {
        let started = Instant::now();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve").arg("--data-dir").arg(&self.data);
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.args([
            "--listen",
            &format!("127.0.0.1:{}", self.port),
            "--http-listen",
            "off",
        ])
        .stdin(Stdio::null());
        for (name, value) in &self.env {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        let log = match &self.logs {
            Logs::Discard => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
                None
            }
            Logs::File(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap_or_else(|e| panic!("open the log {}: {e}", path.display()));
                let f2 = f.try_clone().expect("clone the log's handle");
                cmd.stdout(f).stderr(f2);
                Some(path.clone())
            }
            Logs::Banner => {
                cmd.stdout(Stdio::piped()).stderr(Stdio::null());
                None
            }
        };
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} serve: {e}", self.bin.display()));
        let banner = match self.logs {
            Logs::Banner => read_banner(&mut child),
            _ => String::new(),
        };
        let addr = if self.port != 0 {
            SocketAddr::from(([127, 0, 0, 1], self.port))
        } else {
            banner
                .lines()
                .find_map(|l| l.trim().strip_prefix("HTTPS: https://"))
                .and_then(|a| a.trim().parse().ok())
                .unwrap_or_else(|| panic!("no HTTPS address in the banner: {banner}"))
        };
        Server {
            child: Some(child),
            addr,
            banner,
            log,
            started,
        }
    }
}

/// The start banner: up to "shown once" (a first admin's password), or a moment after the
/// fingerprint line when no password follows. A thread keeps draining stdout afterwards, so
/// the server never blocks on a full pipe.
fn read_banner(child: &mut Child) -> String {
    let out = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut banner = String::new();
    let mut wait = Duration::from_secs(60);
    while let Ok(line) = rx.recv_timeout(wait) {
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("shown once") {
            break;
        }
        if line.contains("fingerprint") {
            wait = Duration::from_millis(1500);
        }
    }
    banner
}

/// A running `parley serve`; SIGKILLed when dropped, so a failed assertion leaves nothing
/// running.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// The start banner, with [`Logs::Banner`].
    pub banner: String,
    log: Option<PathBuf>,
    started: Instant,
}

impl Server {
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The process id, 0 once stopped.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The value after `name` on the banner line starting with it ("password:", "login:").
    pub fn banner_field(&self, name: &str) -> Option<String> {
        self.banner
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
    }

    /// The last `n` lines of the log, with [`Logs::File`].
    pub fn log_tail(&self, n: usize) -> String {
        let Some(path) = &self.log else {
            return "(no log kept)".into();
        };
        let t = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = t.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Ok while the process runs; otherwise how it ended, with the log's tail.
    pub fn alive(&mut self) -> Result<(), String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => Ok(()),
            other => Err(format!(
                "the server is not running ({other:?}):\n{}",
                self.log_tail(30)
            )),
        }
    }

    /// Wait until `/healthz` answers 200 over HTTPS, failing as soon as the process ends.
    /// Returns the time since the spawn: the cold start to the first HTTPS 200.
    pub async fn ready(&mut self, within: Duration) -> Result<Duration, String> {
        let deadline = Instant::now() + within;
        let c = super::tls::connector();
        let probe = super::raw::get("/healthz", "");
        loop {
            self.alive()?;
            let answer = tokio::time::timeout(Duration::from_secs(5), async {
                let mut s = super::tls::connect(&c, self.addr).await?;
                super::raw::exchange(&mut s, &probe, b"").await
            })
            .await;
            if let Ok(Ok((200, _))) = answer {
                return Ok(self.started.elapsed());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "/healthz did not answer 200 within {within:?}:\n{}",
                    self.log_tail(30)
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// SIGKILL, as a crash or the OOM killer would; returns once the process is reaped.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        }
    }

    /// SIGTERM, as systemd stops it, and wait for the exit status; panics (with the log's
    /// tail) when the process is still there after `within`.
    pub async fn stop(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        self.terminate();
        loop {
            if let Some(st) = self.exited(deadline, within) {
                return st;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// [`Server::stop`] for code outside a runtime.
    pub fn stop_blocking(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        self.terminate();
        loop {
            if let Some(st) = self.exited(deadline, within) {
                return st;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn terminate(&self) {
        let child = self.child.as_ref().expect("the server was started");
        let _ = kill_process(Pid::from_child(child), Signal::TERM);
    }

    /// The exit status once the process is gone; past `deadline`, kill it and panic.
    fn exited(&mut self, deadline: Instant, within: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut().expect("the server was started");
        match child.try_wait() {
            Ok(Some(st)) => {
                self.child = None;
                return Some(st);
            }
            Ok(None) => {}
            Err(e) => panic!("wait for the server: {e}"),
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            self.child = None;
            panic!(
                "the server did not exit within {within:?} of SIGTERM:\n{}",
                self.log_tail(30)
            );
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Resident memory of process `pid` in KiB, from /proc (0 once it is gone).
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Samples a process's RSS every `every` on its own thread until dropped; the peak is what
/// "RSS under load" reports.
pub struct RssPeak {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RssPeak {
    pub fn watch(pid: u32, every: Duration) -> RssPeak {
        let (peak, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kb(pid), Ordering::Relaxed);
                std::thread::sleep(every);
            }
        });
        RssPeak { peak, stop }
    }

    pub fn peak_kb(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    pub fn peak_mb(&self) -> f64 {
        self.peak_kb() as f64 / 1024.0
    }
}

impl Drop for RssPeak {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
