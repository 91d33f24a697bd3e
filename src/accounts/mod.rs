//! Managers, passwords, sessions and sign-in limits.

pub mod password;
pub mod ratelimit;

use crate::store::prelude::*;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::config::LimitsConfig;
use crate::domain::manager::{self, Manager, Role};
use crate::error::{Error, Result};
use crate::store::sessions::{self, Session};
use crate::store::{self, Store};
use password::Hasher;
use ratelimit::FailureLimiter;

/// `bytes` random bytes as lowercase hex.
pub fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // The OS RNG failing means the machine cannot do anything secure; stop rather than
    // hand out guessable tokens.
    getrandom::fill(&mut b).unwrap_or_else(|e| panic!("OS random number generator failed: {e}"));
    hex::encode(b)
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// Constant-time comparison for secrets.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// A signed-in request's identity.
#[derive(Clone, Debug)]
pub struct Identity {
    pub manager: Manager,
    /// SHA-256 of the session token; None for bearer API tokens.
    pub session_hash: Option<Vec<u8>>,
    /// SHA-256 of the bearer API token; None for sessions.
    pub token_hash: Option<Vec<u8>>,
    pub csrf: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Revoked {
    /// Every session of this manager ended (password change, disabled).
    Manager(u64),
    /// One session ended (sign-out).
    Session(Vec<u8>),
    /// One API token was deleted (by its SHA-256).
    Token(Vec<u8>),
}

pub struct Accounts {
    store: Store,
    hasher: Hasher,
    by_login: FailureLimiter,
    by_ip: FailureLimiter,
    session_ttl: Duration,
    revoked: broadcast::Sender<Revoked>,
}

/// The admin `ensure_first_admin` created: shown once in the start banner.
pub struct FirstAdmin {
    pub login: String,
    pub password: String,
    /// Managers that existed without an enabled admin (0 on a fresh data directory).
    pub existing_managers: usize,
}

pub struct NewManager {
    pub login: String,
    pub name: String,
    pub role: Role,
    pub password: String,
}

impl Accounts {
    pub fn new(store: Store, limits: &LimitsConfig) -> Accounts {
        let refill = Duration::from_secs(limits.login_refill_secs.max(1));
        Accounts {
            store,
            hasher: Hasher::default(),
            by_login: FailureLimiter::new(limits.login_burst, refill),
            // An office behind one NAT address shares this bucket, so it is wider.
            by_ip: FailureLimiter::new(limits.login_burst.saturating_mul(4), refill / 4),
            session_ttl: Duration::from_secs(limits.session_hours.max(1) * 3600),
            revoked: broadcast::channel(256).0,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Revocations, for closing live connections of ended sessions.
    pub fn subscribe_revocations(&self) -> broadcast::Receiver<Revoked> {
        self.revoked.subscribe()
    }

    /// Check a login and password; on success create a session and return its token.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        ip: &str,
    ) -> Result<(String, Session, Manager)> {
        let login_key = login.trim().to_lowercase();
        let wait = [
            self.by_login.blocked(&format!("l:{login_key}")),
            self.by_ip.blocked(&format!("i:{ip}")),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(w) = wait {
            return Err(Error::RateLimited(w));
        }
        let found = match manager::normalise_login(login) {
            Ok(l) => self.store.read(|r| r.manager_by_login(&l))?,
            Err(_) => None,
        };
        let phc = found
            .as_ref()
            .map(|m| m.password_hash.clone())
            .unwrap_or_else(|| password::dummy_hash().to_string());
        let ok = self.hasher.verify(password.to_string(), phc).await?;
        let manager = match found {
            Some(m) if ok && !m.disabled => m,
            _ => {
                self.by_login.fail(&format!("l:{login_key}"));
                self.by_ip.fail(&format!("i:{ip}"));
                tracing::warn!(login = %login_key, ip, "failed sign-in");
                return Err(Error::InvalidCredentials);
            }
        };
        let token = random_token(32);
        let hash = sha256(token.as_bytes());
        let now = store::now_ms();
        let session = Session {
            manager_id: manager.id,
            csrf: random_token(32),
            created_ms: now,
            expires_ms: now + self.session_ttl.as_millis() as i64,
            ip: ip.to_string(),
        };
        let s = session.clone();
        self.store
            .write(move |w| sessions::create(w, &hash, &s))
            .await?;
        tracing::info!(login = %manager.login, ip, "signed in");
        Ok((token, session, manager))
    }

    /// The identity behind a session token, if the session is live and the manager enabled.
    pub fn authenticate(&self, token: &str) -> Result<Option<Identity>> {
        if token.len() != 64 {
            return Ok(None);
        }
        let hash = sha256(token.as_bytes());
        self.store.read(|r| {
            let Some(s) = sessions::get(r, &hash)? else {
                return Ok(None);
            };
            if s.expires_ms <= store::now_ms() {
                return Ok(None);
            }
            match r.manager(s.manager_id)? {
                Some(m) if !m.disabled => Ok(Some(Identity {
                    manager: m,
                    session_hash: Some(hash),
                    token_hash: None,
                    csrf: Some(s.csrf),
                })),
                _ => Ok(None),
            }
        })
    }

    /// The identity behind an API token: the (enabled) admin who created it.
    pub fn authenticate_token(&self, token: &str) -> Result<Option<Identity>> {
        if token.len() > 128 {
            return Ok(None);
        }
        let hash = sha256(token.as_bytes());
        self.store.read(|r| {
            let Some(t) = store::inbox::api_token_by_hash(r, &hash)? else {
                return Ok(None);
            };
            match r.manager(t.created_by)? {
                Some(m) if !m.disabled => Ok(Some(Identity {
                    manager: m,
                    session_hash: None,
                    token_hash: Some(hash),
                    csrf: None,
                })),
                _ => Ok(None),
            }
        })
    }

    /// Whether a session (by hash) is still live; None for bearer identities.
    pub fn authenticate_hash(&self, hash: Option<&[u8]>) -> Result<Option<()>> {
        let Some(hash) = hash else {
            return Ok(Some(()));
        };
        self.store.read(|r| {
            let Some(s) = sessions::get(r, hash)? else {
                return Ok(None);
            };
            Ok((s.expires_ms > store::now_ms()).then_some(()))
        })
    }

    /// When a session identity's session ends (None for bearer identities or no session).
    pub fn session_expiry(&self, id: &Identity) -> Result<Option<i64>> {
        let Some(hash) = &id.session_hash else {
            return Ok(None);
        };
        self.store
            .read(|r| Ok(sessions::get(r, hash)?.map(|s| s.expires_ms)))
    }

    /// Whether a live connection's identity still holds: its session or API token exists,
    /// unexpired, and its manager is enabled.
    pub fn still_valid(&self, id: &Identity) -> Result<bool> {
        let manager_ok = |r: &store::R| Ok(r.manager(id.manager.id)?.is_some_and(|m| !m.disabled));
        if let Some(h) = &id.token_hash {
            return self
                .store
                .read(|r| Ok(store::inbox::api_token_by_hash(r, h)?.is_some() && manager_ok(r)?));
        }
        Ok(self
            .authenticate_hash(id.session_hash.as_deref())?
            .is_some()
            && self.store.read(manager_ok)?)
    }

    /// Delete an API token; connections it opened end. False when there was no such token.
    pub async fn delete_token(&self, id: u64) -> Result<bool> {
        let hash = self
            .store
            .write(move |w| store::inbox::delete_api_token(w, id))
            .await?;
        match hash {
            Some(h) => {
                let _ = self.revoked.send(Revoked::Token(h));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub async fn logout(&self, session_hash: Vec<u8>) -> Result<()> {
        let h = session_hash.clone();
        self.store.write(move |w| sessions::delete(w, &h)).await?;
        let _ = self.revoked.send(Revoked::Session(session_hash));
        Ok(())
    }

    pub async fn create_manager(&self, n: NewManager) -> Result<Manager> {
        let login = manager::normalise_login(&n.login).map_err(|m| Error::invalid("login", m))?;
        let name = manager::validate_name(&n.name).map_err(|m| Error::invalid("name", m))?;
        manager::validate_password(&n.password).map_err(|m| Error::invalid("password", m))?;
        let password_hash = self.hasher.hash(n.password).await?;
        let m = Manager {
            id: 0,
            login,
            name,
            role: n.role,
            disabled: false,
            password_hash,
            created_ms: store::now_ms(),
            avatar: None,
        };
        self.store
            .write(move |w| store::managers::create(w, m.clone()))
            .await
    }

    /// Change any field of a manager through `f`; revokes their sessions when `revoke`.
    async fn change(
        &self,
        id: u64,
        revoke: bool,
        f: impl Fn(&mut Manager) + Send + 'static,
    ) -> Result<Manager> {
        let m = self
            .store
            .write(move |w| {
                let mut m = w
                    .manager(id)?
                    .ok_or_else(|| Error::NotFound(format!("manager {id}")))?;
                f(&mut m);
                store::managers::update(w, &m)?;
                if revoke {
                    sessions::delete_for_manager(w, id)?;
                }
                Ok(m)
            })
            .await?;
        if revoke {
            let _ = self.revoked.send(Revoked::Manager(id));
        }
        Ok(m)
    }

    pub async fn set_password(&self, id: u64, password: String) -> Result<Manager> {
        manager::validate_password(&password).map_err(|m| Error::invalid("password", m))?;
        let phc = self.hasher.hash(password).await?;
        self.change(id, true, move |m| m.password_hash = phc.clone())
            .await
    }

    pub async fn set_disabled(&self, id: u64, disabled: bool) -> Result<Manager> {
        if disabled {
            self.ensure_other_admin(id)?;
        }
        self.change(id, disabled, move |m| m.disabled = disabled)
            .await
    }

    pub async fn set_role(&self, id: u64, role: Role) -> Result<Manager> {
        if role != Role::Admin {
            self.ensure_other_admin(id)?;
        }
        self.change(id, false, move |m| m.role = role).await
    }

    pub async fn set_name(&self, id: u64, name: &str) -> Result<Manager> {
        let name = manager::validate_name(name).map_err(|m| Error::invalid("name", m))?;
        self.change(id, false, move |m| m.name = name.clone()).await
    }

    /// Set or clear the manager's avatar (the SHA-256 of a stored image blob).
    pub async fn set_avatar(&self, id: u64, avatar: Option<String>) -> Result<Manager> {
        self.change(id, false, move |m| m.avatar.clone_from(&avatar))
            .await
    }

    /// Refuse to remove the last enabled admin: nobody could manage the server afterwards.
    fn ensure_other_admin(&self, id: u64) -> Result<()> {
        let others = self.store.read(|r| {
            Ok(r.managers()?
                .iter()
                .filter(|m| m.id != id && m.role == Role::Admin && !m.disabled)
                .count())
        })?;
        if others == 0 {
            return Err(Error::Conflict(
                "this is the last enabled admin; make another admin first".into(),
            ));
        }
        Ok(())
    }

    /// On an empty store, create `admin` with a random password and return that password.
    /// At start, make sure somebody can manage managers and channels: with no enabled admin
    /// (a fresh data directory, or only managers added with `parley user add … --role
    /// manager` before the first start), create one — login `admin`, or `admin2`, `admin3`…
    /// when taken — and return its login and one-time password for the start banner.
    pub async fn ensure_first_admin(&self) -> Result<Option<FirstAdmin>> {
        let managers = self.store.read(|r| r.managers())?;
        if managers
            .iter()
            .any(|m| m.role == Role::Admin && !m.disabled)
        {
            return Ok(None);
        }
        let taken = |l: &str| managers.iter().any(|m| m.login == l);
        let mut login = "admin".to_string();
        let mut n = 1;
        while taken(&login) {
            n += 1;
            login = format!("admin{n}");
        }
        let password = random_token(12);
        self.create_manager(NewManager {
            login: login.clone(),
            name: "Administrator".into(),
            role: Role::Admin,
            password: password.clone(),
        })
        .await?;
        Ok(Some(FirstAdmin {
            login,
            password,
            existing_managers: managers.len(),
        }))
    }

    pub async fn sweep(&self) -> Result<usize> {
        let now = store::now_ms();
        self.store
            .write(move |w| sessions::sweep_expired(w, now))
            .await
    }
}
