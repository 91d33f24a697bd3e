//! One crate error with stable codes. The HTTP layer maps a code to a status in one place
//! (`Error::status`), so clients can rely on `{code, message}` across versions.

use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    BadRequest(String),
    /// A body field that is present and well-formed but not acceptable.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("not signed in")]
    Unauthenticated,
    #[error("wrong login or password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    /// A client merged into another (A1): gone, but the caller learns where it went.
    #[error("contact {id} was merged into contact {into}")]
    Merged { id: u64, into: u64 },
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts, try again in {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unsupported(String),
    /// The data directory is used by another process.
    #[error("{0}")]
    Locked(String),
    /// Temporarily unable to store (disk full, I/O error): callers should retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Tls(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A service Parley calls (the AI assistant's endpoint) failed; the text says how.
    #[error("{0}")]
    Upstream(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A failed file operation. Disk full and the like become `Unavailable` here, so every
    /// write path (blobs, the index, TLS files) answers 503 + Retry-After instead of 500, and a
    /// webhook's platform retries instead of dropping the message.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        if is_transient_io(&source) {
            return Error::Unavailable(format!("{}: {source}", context.into()));
        }
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The stable machine-readable code sent to clients.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Usage(_) => "usage",
            Error::BadRequest(_) => "bad_request",
            Error::Invalid { .. } => "invalid_field",
            Error::Unauthenticated => "unauthenticated",
            Error::InvalidCredentials => "invalid_credentials",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Merged { .. } => "merged",
            Error::Conflict(_) => "conflict",
            Error::RateLimited(_) => "rate_limited",
            Error::TooLarge(_) => "payload_too_large",
            Error::Unsupported(_) => "unsupported_media_type",
            Error::Locked(_) => "locked",
            Error::Unavailable(_) => "unavailable",
            Error::Corrupt(_) => "corrupt",
            Error::Tls(_) => "tls",
            Error::Io { .. } => "io",
            Error::Upstream(_) => "upstream",
            Error::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) | Error::Usage(_) => 400,
            Error::Invalid { .. } => 422,
            Error::Unauthenticated | Error::InvalidCredentials => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) | Error::Merged { .. } => 404,
            Error::Conflict(_) => 409,
            Error::TooLarge(_) => 413,
            Error::Unsupported(_) => 415,
            Error::RateLimited(_) => 429,
            Error::Unavailable(_) | Error::Locked(_) => 503,
            Error::Upstream(_) => 502,
            Error::Config(_)
            | Error::Corrupt(_)
            | Error::Tls(_)
            | Error::Io { .. }
            | Error::Internal(_) => 500,
        }
    }

    /// Process exit code for the CLI: 2 for bad input, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) | Error::Invalid { .. } => 2,
            _ => 1,
        }
    }
}

/// Disk full and quota errors pass once space is freed; the caller should retry, not give up.
pub fn is_transient_io(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(28) /* ENOSPC */ | Some(122) /* EDQUOT */ | Some(5) /* EIO */
    )
}
