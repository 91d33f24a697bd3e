//! Schema version and ordered migrations. Each migration runs in its own transaction together
//! with the version bump, so a crash mid-way leaves either the old or the new schema.

use redb::{Database, ReadableTable};

use super::tables::{self, META};
use crate::error::{Error, Result};

pub const SCHEMA_VERSION: u64 = 1;
const VERSION_KEY: &[u8] = b"schema_version";

type Migration = fn(&redb::WriteTransaction) -> Result<()>;

/// `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[Migration] = &[create_tables];

fn create_tables(tx: &redb::WriteTransaction) -> Result<()> {
    for t in tables::ALL {
        tx.open_table(*t)?;
    }
    Ok(())
}

pub fn run(db: &Database) -> Result<()> {
    debug_assert_eq!(MIGRATIONS.len() as u64, SCHEMA_VERSION);
    let mut version = current(db)?;
    if version > SCHEMA_VERSION {
        return Err(Error::Corrupt(format!(
            "the data was written by a newer Parley (schema {version}, this build knows {SCHEMA_VERSION}); upgrade Parley or restore a backup"
        )));
    }
    while version < SCHEMA_VERSION {
        let mut tx = db.begin_write()?;
        tx.set_two_phase_commit(true);
        MIGRATIONS[version as usize](&tx)?;
        version += 1;
        tx.open_table(META)?
            .insert(VERSION_KEY, version.to_be_bytes().as_slice())?;
        tx.commit()?;
        tracing::info!("store schema migrated to version {version}");
    }
    // Tables added to `ALL` without a migration still get created, so reads never fail on
    // a missing table.
    let tx = db.begin_write()?;
    create_tables(&tx)?;
    tx.commit()?;
    Ok(())
}

fn current(db: &Database) -> Result<u64> {
    let tx = db.begin_write()?;
    let v = {
        let t = tx.open_table(META)?;
        let v = t.get(VERSION_KEY)?.map(|g| g.value().to_vec());
        match v {
            Some(b) => super::codec::read_u64(&b, 0)?,
            None => 0,
        }
    };
    tx.abort()?;
    Ok(v)
}

pub fn version_of(tx: &redb::ReadTransaction) -> Result<u64> {
    let t = match tx.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    match t.get(VERSION_KEY)? {
        Some(g) => super::codec::read_u64(g.value(), 0),
        None => Ok(0),
    }
}
