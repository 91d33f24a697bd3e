//! Issue 13 item 2: a data directory whose only accounts are managers (added with `parley user
//! add … --role manager` before the first `serve`) still gets an admin at start, with its
//! one-time password in the start banner — through the real binary.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

use crate::support::{client, parley, text};

/// A `parley serve` child and the lines it printed up to its banner's end.
struct Served {
    child: Child,
    banner: String,
}

impl Served {
    fn start(data: &str) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
            .args([
                "serve",
                "--data-dir",
                data,
                "--listen",
                "127.0.0.1:0",
                "--http-listen",
                "off",
            ])
            .env_remove("PARLEY_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The banner ends with the fingerprint line, or with "shown once" when an admin was
        // created; wait a little after the fingerprint for the password block.
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
        Served { child, banner }
    }

    fn url(&self) -> String {
        let line = self
            .banner
            .lines()
            .find_map(|l| l.trim().strip_prefix("HTTPS: "))
            .unwrap_or_else(|| panic!("no HTTPS address in: {}", self.banner));
        line.to_string()
    }

    /// The login and password the banner printed, if any.
    fn credentials(&self) -> Option<(String, String)> {
        let field = |name: &str| {
            self.banner
                .lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
        };
        Some((field("login:")?, field("password:")?))
    }

    /// SIGTERM and wait for the exit (what dropping does).
    fn stop(self) {}
}

// A failed assertion must not leave the server running.
impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Sign in as `login` and try to add a manager (admin only): the status says whether the
/// account can manage managers.
async fn add_manager_as(url: &str, login: &str, password: &str, new: &str) -> u16 {
    let http = client();
    let r = http
        .post(format!("{url}/api/v1/session"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "sign-in as {login}");
    let session: serde_json::Value = r.json().await.unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{url}/api/v1/managers"))
        .header("x-csrf-token", csrf)
        .json(&json!({"login": new, "name": new, "role": "manager", "password": "another long password"}))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

fn add_user(data: &str, login: &str, role: &str) {
    let o = parley(
        &[
            "user",
            "add",
            login,
            "--name",
            login,
            "--role",
            role,
            "--password-stdin",
            "--data-dir",
            data,
        ],
        Some("a very long password\n"),
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[tokio::test]
async fn a_manager_added_before_the_first_start_still_gets_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // The manager happens to have taken the login "admin".
    add_user(d, "admin", "manager");
    add_user(d, "mgr", "manager");

    let s = Served::start(d);
    let (login, password) = s
        .credentials()
        .unwrap_or_else(|| panic!("no admin password printed: {}", s.banner));
    assert_eq!(login, "admin2", "the taken login is skipped: {}", s.banner);
    assert!(s.banner.contains("No enabled admin"), "{}", s.banner);
    let url = s.url();
    assert_eq!(
        add_manager_as(&url, &login, &password, "olga").await,
        201,
        "the created account is an admin: it can add managers"
    );
    // The managers stay managers: adding managers is refused to them.
    assert_eq!(
        add_manager_as(&url, "mgr", "a very long password", "ivan").await,
        403
    );
    s.stop();

    // With an enabled admin now present, the next start creates nobody and prints no password.
    let s = Served::start(d);
    assert!(s.credentials().is_none(), "{}", s.banner);
    s.stop();

    // Disabling that last admin is refused, so the banner never has to repeat itself.
    let o = parley(&["user", "disable", "admin2", "--data-dir", d], None);
    assert!(!o.status.success());
    assert!(text(&o).contains("last enabled admin"), "{}", text(&o));
}
