//! Managers, passwords, sessions, API tokens and sign-in limits: the service the HTTP layer
//! calls for anything about who may sign in and as whom.

pub mod password;
pub mod ratelimit;

use crate::store::prelude::*;
use std::time::Duration;

use std::sync::Arc;

use crate::config::LimitsConfig;
use crate::domain::inbox::{ApiToken, TokenScope};
use crate::domain::manager::{self, Manager, Role};
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::realtime::Hub;
use crate::store::sessions::{self, Session};
use crate::store::{self, Store};
use password::Hasher;
use ratelimit::FailureLimiter;

/// Prefix that makes a leaked Parley token easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "pt_";

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
    /// The bearer API token's id and scope; None for sessions.
    pub token: Option<(u64, TokenScope)>,
    pub csrf: Option<String>,
}

impl Identity {
    /// The manager this request acts for.
    pub fn actor(&self) -> crate::domain::manager::ManagerId {
        crate::domain::manager::ManagerId(self.manager.id)
    }
}

impl Identity {
    /// Whether this caller may use admin powers: an admin signed in, or an admin's token
    /// made with the admin scope.
    pub fn is_admin(&self) -> bool {
        self.manager.role == Role::Admin
            && self
                .token
                .is_none_or(|(_, scope)| scope == TokenScope::Admin)
    }
}

pub use crate::domain::manager::Revoked;

pub struct Accounts {
    store: Store,
    hasher: Hasher,
    by_login: FailureLimiter,
    by_ip: FailureLimiter,
    session_ttl: Duration,
    /// Where revocations go out (live connections of ended sessions close).
    hub: Arc<Hub>,
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

/// What an admin changes about a manager; `None` leaves a field as it is. Each field is
/// checked as it is applied, in this order, as the API has always done.
#[derive(Default)]
pub struct ManagerChanges {
    pub name: Option<String>,
    /// "admin" or "manager"; anything else is refused (after the manager is found).
    pub role: Option<String>,
    pub password: Option<String>,
    pub disabled: Option<bool>,
}

/// Avatars are shown small; a larger file is refused rather than served to every browser.
pub const MAX_AVATAR_BYTES: u64 = 2 * 1024 * 1024;

/// A role as the API spells it.
pub fn parse_role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| Error::invalid("role", "must be \"admin\" or \"manager\""))
}

impl Accounts {
    pub fn new(store: Store, limits: &LimitsConfig, hub: Arc<Hub>) -> Accounts {
        let refill = Duration::from_secs(limits.login_refill_secs.max(1));
        Accounts {
            store,
            hasher: Hasher::default(),
            by_login: FailureLimiter::new(limits.login_burst, refill),
            // An office behind one NAT address shares this bucket, so it is wider.
            by_ip: FailureLimiter::new(limits.login_burst.saturating_mul(4), refill / 4),
            session_ttl: Duration::from_secs(limits.session_hours.max(1) * 3600),
            hub,
        }
    }

    /// Check a login and password; on success create a session and return its token.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        ip: &str,
    ) -> Result<(String, Session, Manager)> {
        let login_key = login.trim().to_lowercase();
        let (by_login, by_ip) = (format!("l:{login_key}"), format!("i:{ip}"));
        // Spend an attempt before the check, so guesses sent at once cannot all pass a
        // "not blocked yet" test together; a correct password gets it back.
        self.spend_attempt(&by_login, &by_ip)?;
        let found = match manager::normalise_login(login) {
            Ok(l) => self.store.query(move |r| r.manager_by_login(&l)).await?,
            Err(_) => None,
        };
        // An unknown login is checked against a dummy hash, so it takes as long as a known one.
        let phc = found.as_ref().map(|m| m.password_hash.clone());
        let ok = match self.hasher.verify(password.to_string(), phc).await {
            Ok(ok) => ok,
            Err(e) => {
                // Not a wrong password: the check never ran.
                self.refund_attempt(&by_login, &by_ip);
                return Err(e);
            }
        };
        let manager = match found {
            Some(m) if ok && !m.disabled => m,
            _ => {
                tracing::warn!(login = %login_key, ip, "failed sign-in");
                return Err(Error::InvalidCredentials);
            }
        };
        self.refund_attempt(&by_login, &by_ip);
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

    fn spend_attempt(&self, by_login: &str, by_ip: &str) -> Result<()> {
        if let Err(w) = self.by_login.take(by_login) {
            return Err(Error::RateLimited(w));
        }
        if let Err(w) = self.by_ip.take(by_ip) {
            self.by_login.refund(by_login);
            return Err(Error::RateLimited(w));
        }
        Ok(())
    }

    fn refund_attempt(&self, by_login: &str, by_ip: &str) {
        self.by_login.refund(by_login);
        self.by_ip.refund(by_ip);
    }

    /// Check a signed-in manager's current password (to change it), limited like sign-ins:
    /// a stolen session must not become an unlimited password oracle.
    pub async fn check_password(
        &self,
        manager: &Manager,
        password: &str,
        ip: &str,
    ) -> Result<bool> {
        let (by_login, by_ip) = (format!("p:{}", manager.id), format!("i:{ip}"));
        self.spend_attempt(&by_login, &by_ip)?;
        let ok = match self
            .hasher
            .verify(password.to_string(), Some(manager.password_hash.clone()))
            .await
        {
            Ok(ok) => ok,
            Err(e) => {
                self.refund_attempt(&by_login, &by_ip);
                return Err(e);
            }
        };
        if ok {
            self.refund_attempt(&by_login, &by_ip);
        } else {
            tracing::warn!(login = %manager.login, ip, "wrong current password");
        }
        Ok(ok)
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
                    token: None,
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
                    token: Some((t.id, t.scope)),
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

    /// Make an API token for `by` (an admin), named `name`, with `scope` ("integration", the
    /// default, or "admin"). Only the token is returned; the store keeps its SHA-256. A token
    /// made with a token gets no more power than that one, and ends with it.
    pub async fn create_token(
        &self,
        by: &Identity,
        name: &str,
        scope: Option<&str>,
    ) -> Result<(String, ApiToken)> {
        if !by.is_admin() {
            return Err(Error::Forbidden("this needs the admin role".into()));
        }
        let name = normalise::text(name, 100);
        if name.is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        let scope = match scope {
            None => TokenScope::Integration,
            Some(s) => TokenScope::parse(s).ok_or_else(|| {
                Error::invalid(
                    "scope",
                    format!("{s:?} must be \"integration\" or \"admin\""),
                )
            })?,
        };
        let token = format!("{TOKEN_PREFIX}{}", random_token(32));
        let hash = sha256(token.as_bytes());
        let creator = by.manager.id;
        let parent = by.token.map(|(id, _)| id);
        let t = self
            .store
            .write(move |w| {
                // The parent may have been deleted since this request was authenticated; a
                // child of a deleted token would outlive it.
                if let Some(p) = parent
                    && !store::inbox::api_tokens(w)?.iter().any(|t| t.id == p)
                {
                    return Err(Error::Unauthenticated);
                }
                let t = ApiToken {
                    id: w.next_id("api_token")?,
                    name: name.clone(),
                    created_by: creator,
                    created_ms: store::now_ms(),
                    scope,
                    parent,
                };
                store::inbox::put_api_token(w, &hash, &t)?;
                Ok(t)
            })
            .await?;
        Ok((token, t))
    }

    /// Every API token (without its secret, which is not kept).
    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        self.store.query(store::inbox::api_tokens).await
    }

    /// Delete an API token and every token made with it; connections they opened end. False
    /// when there was no such token.
    pub async fn delete_token(&self, id: u64) -> Result<bool> {
        let hashes = self
            .store
            .write(move |w| store::inbox::delete_api_token(w, id))
            .await?;
        let found = !hashes.is_empty();
        for h in hashes {
            self.hub.revoke(Revoked::Token(h));
        }
        Ok(found)
    }

    pub async fn logout(&self, session_hash: Vec<u8>) -> Result<()> {
        let h = session_hash.clone();
        self.store.write(move |w| sessions::delete(w, &h)).await?;
        self.hub.revoke(Revoked::Session(session_hash));
        Ok(())
    }

    /// Every manager, disabled ones included.
    pub async fn managers(&self) -> Result<Vec<Manager>> {
        self.store.query(|r| r.managers()).await
    }

    /// The manager signing in as `login` (already normalised), disabled or not.
    pub async fn manager_by_login(&self, login: String) -> Result<Option<Manager>> {
        self.store.query(move |r| r.manager_by_login(&login)).await
    }

    pub async fn manager(&self, id: u64) -> Result<Option<Manager>> {
        self.store.query(move |r| r.manager(id)).await
    }

    /// Apply an admin's `changes` to manager `id`: NotFound for an unknown manager, else the
    /// manager as it is afterwards. Fields are applied one at a time, so a refused field
    /// (the last admin's role) leaves those before it applied.
    pub async fn update_manager(&self, id: u64, changes: ManagerChanges) -> Result<Manager> {
        let Some(current) = self.manager(id).await? else {
            return Err(Error::NotFound(format!("manager {id}")));
        };
        let role = changes.role.as_deref().map(parse_role).transpose()?;
        let mut m = current;
        if let Some(name) = changes.name {
            m = self.set_name(id, &name).await?;
        }
        if let Some(role) = role {
            m = self.set_role(id, role).await?;
        }
        if let Some(pw) = changes.password {
            m = self.set_password(id, pw).await?;
        }
        if let Some(d) = changes.disabled {
            m = self.set_disabled(id, d).await?;
        }
        Ok(m)
    }

    /// A manager's own profile: display name and avatar (the digest of an uploaded JPEG,
    /// PNG, WebP or GIF of at most `MAX_AVATAR_BYTES`, or `Some(None)` to remove it).
    /// Returns `me` unchanged when nothing is asked.
    pub async fn update_profile(
        &self,
        me: &Manager,
        name: Option<&str>,
        avatar: Option<Option<String>>,
    ) -> Result<Manager> {
        let who = me.id;
        let mut m = me.clone();
        if let Some(name) = name {
            m = self.set_name(who, name).await?;
        }
        if let Some(avatar) = avatar {
            if let Some(sha) = &avatar {
                let s = sha.clone();
                let blob = self
                    .store
                    .query(move |r| r.blob(&s))
                    .await?
                    .ok_or_else(|| Error::invalid("avatar", format!("no uploaded file {sha:?}")))?;
                if !matches!(
                    blob.mime.as_str(),
                    "image/jpeg" | "image/png" | "image/webp" | "image/gif"
                ) {
                    return Err(Error::invalid(
                        "avatar",
                        format!("must be a JPEG, PNG, WebP or GIF image, not {}", blob.mime),
                    ));
                }
                if blob.size > MAX_AVATAR_BYTES {
                    return Err(Error::invalid(
                        "avatar",
                        format!("must be at most {MAX_AVATAR_BYTES} bytes"),
                    ));
                }
            }
            m = self.set_avatar(who, avatar).await?;
        }
        Ok(m)
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
            self.hub.revoke(Revoked::Manager(id));
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
            self.ensure_other_admin(id).await?;
        }
        self.change(id, disabled, move |m| m.disabled = disabled)
            .await
    }

    pub async fn set_role(&self, id: u64, role: Role) -> Result<Manager> {
        if role != Role::Admin {
            self.ensure_other_admin(id).await?;
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
    async fn ensure_other_admin(&self, id: u64) -> Result<()> {
        let others = self
            .managers()
            .await?
            .iter()
            .filter(|m| m.id != id && m.role == Role::Admin && !m.disabled)
            .count();
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
        let managers = self.managers().await?;
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
