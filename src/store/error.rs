//! How redb's errors become the crate's: space and I/O trouble is worth a retry (503), a
//! second process on the file is a lock, the rest is internal. Kept here so no other part of
//! the crate names redb.

use crate::error::{Error, is_transient_io};

impl From<redb::Error> for Error {
    fn from(e: redb::Error) -> Self {
        storage_error(e.to_string(), &e)
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::from(redb::Error::from(e))
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

fn storage_error(msg: String, e: &redb::Error) -> Error {
    match e {
        redb::Error::Io(io) if is_transient_io(io) => Error::Unavailable(msg),
        // redb refuses every access after a failed write until the file is reopened, which
        // the store's writer does once space is back (store/writer.rs).
        redb::Error::PreviousIo | redb::Error::DatabaseClosed => Error::Unavailable(msg),
        redb::Error::DatabaseAlreadyOpen => Error::Locked(msg),
        redb::Error::Corrupted(_) => Error::Corrupt(msg),
        _ => Error::Internal(format!("storage: {msg}")),
    }
}
