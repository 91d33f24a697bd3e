use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Manager,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "manager" => Some(Role::Manager),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manager {
    pub id: u64,
    pub login: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    /// PHC string (argon2id); never leaves the server.
    pub password_hash: String,
    pub created_ms: i64,
    /// SHA-256 of the avatar blob, when one was uploaded.
    pub avatar: Option<String>,
}

impl Manager {
    /// Where browsers load the avatar from (blobs are served to signed-in managers).
    pub fn avatar_url(&self) -> Option<String> {
        self.avatar
            .as_ref()
            .map(|sha| format!("/api/v1/blobs/{sha}"))
    }
}

/// Logins are compared case-insensitively and may only hold characters that are safe in
/// URLs, logs and mentions.
pub fn normalise_login(login: &str) -> Result<String, String> {
    let l = login.trim().to_lowercase();
    if l.is_empty() || l.len() > 64 {
        return Err("must be 1 to 64 characters".into());
    }
    if !l
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
    {
        return Err("may contain only letters, digits, '.', '-', '_' and '@'".into());
    }
    Ok(l)
}

pub fn validate_name(name: &str) -> Result<String, String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err("must be 1 to 100 characters".into());
    }
    if n.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(n.to_string())
}

pub const MIN_PASSWORD_CHARS: usize = 10;

pub fn validate_password(pw: &str) -> Result<(), String> {
    let n = pw.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if pw.len() > 1024 {
        return Err("must be at most 1024 bytes".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_and_passwords() {
        assert_eq!(normalise_login(" Anna.K ").unwrap(), "anna.k");
        assert!(normalise_login("a b").is_err());
        assert!(normalise_login("").is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough pw").is_ok());
        assert!(validate_name("Анна\u{0007}").is_err());
        assert_eq!(validate_name("  Анна  ").unwrap(), "Анна");
    }
}

/// Access that ended, so live connections made with it close.
#[derive(Clone, Debug)]
pub enum Revoked {
    /// Every session of this manager ended (password change, disabled).
    Manager(u64),
    /// One session ended (sign-out).
    Session(Vec<u8>),
    /// One API token was deleted (by its SHA-256).
    Token(Vec<u8>),
}

/// The manager a use case acts for. Its own type where a call also takes a client's, a
/// chat's or a filter's id, so the two cannot be swapped unnoticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ManagerId(pub u64);

impl std::fmt::Display for ManagerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "manager {}", self.0)
    }
}
