//! Managers: staff accounts, unique by login.

use super::tables::{MANAGER_LOGINS, MANAGERS};
use super::{Key, Read, Record, W, codec};
use crate::domain::manager::Manager;
use crate::error::{Error, Result};

impl Record for Manager {
    const NAME: &'static str = "manager";
}

fn id_key(id: u64) -> [u8; 8] {
    codec::u64_key(id)
}

fn login_key(login: &str) -> Vec<u8> {
    Key::new().str(login).build()
}

/// Insert a new manager; `m.id` is assigned here. The login must already be normalised.
pub fn create(w: &W, mut m: Manager) -> Result<Manager> {
    if w.exists(MANAGER_LOGINS, &login_key(&m.login))? {
        return Err(Error::Conflict(format!("login {:?} is taken", m.login)));
    }
    m.id = w.next_id("manager")?;
    w.put(MANAGERS, &id_key(m.id), &m)?;
    w.put_raw(MANAGER_LOGINS, &login_key(&m.login), &id_key(m.id))?;
    Ok(m)
}

/// Store changed fields of an existing manager (the login never changes).
pub fn update(w: &W, m: &Manager) -> Result<()> {
    if !w.exists(MANAGERS, &id_key(m.id))? {
        return Err(Error::NotFound(format!("manager {}", m.id)));
    }
    w.put(MANAGERS, &id_key(m.id), m)
}

/// Manager lookups on any snapshot or the write transaction.
pub trait ManagerReads: Read {
    fn manager(&self, id: u64) -> Result<Option<Manager>> {
        self.get(MANAGERS, &id_key(id))
    }

    fn manager_by_login(&self, login: &str) -> Result<Option<Manager>> {
        match self.get_raw(MANAGER_LOGINS, &login_key(login))? {
            Some(b) => self.manager(codec::read_u64(&b, 0)?),
            None => Ok(None),
        }
    }

    fn managers(&self) -> Result<Vec<Manager>> {
        self.values(MANAGERS, &[], false, usize::MAX)
    }
}

impl<T: Read> ManagerReads for T {}
