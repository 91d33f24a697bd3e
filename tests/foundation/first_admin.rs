//! Issue 13 item 2: a data directory whose only accounts are managers (added with `parley user
//! add … --role manager` before the first `serve`) still gets an admin at start, with its
//! one-time password in the start banner — through the real binary.

use std::time::Duration;

use serde_json::json;

use crate::support::process::{self, Logs, Serve};
use crate::support::session::sign_in;
use crate::support::{client, parley, text};

/// `parley serve` on `data`, started once its banner (with any first-admin password) is read.
fn start(data: &str) -> process::Server {
    Serve::new(process::BIN, data).logs(Logs::Banner).spawn()
}

/// The login and password the banner printed, if any.
fn credentials(s: &process::Server) -> Option<(String, String)> {
    Some((s.banner_field("login:")?, s.banner_field("password:")?))
}

/// SIGTERM and wait for the exit.
fn stop(mut s: process::Server) {
    s.stop_blocking(Duration::from_secs(60));
}

/// Sign in as `login` and try to add a manager (admin only): the status says whether the
/// account can manage managers.
async fn add_manager_as(url: &str, login: &str, password: &str, new: &str) -> u16 {
    let http = client();
    let session = sign_in(&http, url, login, password).await;
    let r = http
        .post(format!("{url}/api/v1/managers"))
        .header("x-csrf-token", session.csrf)
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

    let s = start(d);
    let (login, password) =
        credentials(&s).unwrap_or_else(|| panic!("no admin password printed: {}", s.banner));
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
    stop(s);

    // With an enabled admin now present, the next start creates nobody and prints no password.
    let s = start(d);
    assert!(credentials(&s).is_none(), "{}", s.banner);
    stop(s);

    // Disabling that last admin is refused, so the banner never has to repeat itself.
    let o = parley(&["user", "disable", "admin2", "--data-dir", d], None);
    assert!(!o.status.success());
    assert!(text(&o).contains("last enabled admin"), "{}", text(&o));
}
