//! Every redb table, named `<key>_<value>`. All tables map bytes to bytes (keys from
//! `codec::Key`, values from `codec::encode`), which lets backup copy any table generically
//! and keeps type names out of the file format.

use redb::TableDefinition;

pub type Table = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// Schema version, id sequences and other single values.
pub const META: Table = TableDefinition::new("meta");
pub const MANAGERS: Table = TableDefinition::new("managerid_manager");
pub const MANAGER_LOGINS: Table = TableDefinition::new("login_managerid");
/// Key: SHA-256 of the session token (the token itself is never stored).
pub const SESSIONS: Table = TableDefinition::new("sessionhash_session");
/// Key: manager id ++ session hash, for revoking every session of a manager.
pub const MANAGER_SESSIONS: Table = TableDefinition::new("managerid_sessionhash");
/// Key: SHA-256 of the API token.
pub const API_TOKENS: Table = TableDefinition::new("tokenhash_apitoken");

/// Tables that must exist after start-up, so read transactions never meet a missing table.
pub const ALL: &[Table] = &[
    META,
    MANAGERS,
    MANAGER_LOGINS,
    SESSIONS,
    MANAGER_SESSIONS,
    API_TOKENS,
];
