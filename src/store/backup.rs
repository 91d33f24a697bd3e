//! Consistent backups while the server runs, and restore. A live redb file is not a backup
//! (pages change under a plain copy), so the backup copies every table inside one read
//! transaction, which is a point-in-time snapshot, into a fresh database file.

use std::path::{Path, PathBuf};

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableHandle,
};

use super::{DB_FILE, Store, lock_dir, migrate};
use crate::error::{Error, Result};

pub struct BackupReport {
    pub tables: usize,
    pub rows: u64,
    pub bytes: u64,
}

/// Back up the store in `data_dir` to `out`, whether or not a server has it open.
pub fn backup_dir(data_dir: &Path, out: &Path) -> Result<BackupReport> {
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        return Err(Error::Usage(format!(
            "no Parley data in {}",
            data_dir.display()
        )));
    }
    // The server opens the file in SingleWriter mode, which lets this process read alongside.
    let ro = Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
        .open_read_only(&path);
    match ro {
        Ok(db) => {
            let tx = db.begin_read()?;
            copy_snapshot(&tx, out)
        }
        // A file that needs recovery cannot be read read-only: open it properly (which repairs
        // it), but only when no server holds it.
        Err(_) => {
            let store = Store::open(data_dir)?;
            let tx = store.database()?.begin_read()?;
            copy_snapshot(&tx, out)
        }
    }
}

/// Back up an open store (used by the server itself and by tests).
pub fn backup_store(store: &Store, out: &Path) -> Result<BackupReport> {
    let db = store.database()?;
    let tx = db.begin_read()?;
    copy_snapshot(&tx, out)
}

fn tmp_name(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(format!(".tmp-{}", std::process::id()));
    PathBuf::from(s)
}

fn copy_snapshot(src: &ReadTransaction, out: &Path) -> Result<BackupReport> {
    let tmp = tmp_name(out);
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let dst = Database::create(&tmp)?;
        let mut w = dst.begin_write()?;
        w.set_two_phase_commit(true);
        let mut report = BackupReport {
            tables: 0,
            rows: 0,
            bytes: 0,
        };
        for handle in src.list_tables()? {
            let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(handle.name());
            let from = src.open_table(def)?;
            let mut to = w.open_table(def)?;
            for e in from.iter()? {
                let (k, v) = e?;
                to.insert(k.value(), v.value())?;
                report.rows += 1;
            }
            report.tables += 1;
        }
        w.commit()?;
        drop(dst);
        let f = std::fs::File::open(&tmp).map_err(|e| Error::io("reopen backup", e))?;
        f.sync_all().map_err(|e| Error::io("sync backup", e))?;
        report.bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(report)
    })();
    match result {
        Ok(r) => {
            std::fs::rename(&tmp, out)
                .map_err(|e| Error::io(format!("cannot write {}", out.display()), e))?;
            Ok(r)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Replace the store in `data_dir` with the backup `file`. The server must be stopped. The
/// previous database is kept next to it, and derived data (the search index) is removed so
/// it is rebuilt from the restored store.
pub fn restore_dir(data_dir: &Path, file: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| Error::io(format!("cannot create {}", data_dir.display()), e))?;
    let _lock = lock_dir(data_dir)?;
    // Check the backup is a Parley store this build can read before touching anything.
    {
        let db = Database::builder().open_read_only(file).map_err(|e| {
            Error::Usage(format!(
                "{} is not a readable Parley backup: {e}",
                file.display()
            ))
        })?;
        let tx = db.begin_read()?;
        let v = migrate::version_of(&tx)?;
        if v == 0 || v > migrate::SCHEMA_VERSION {
            return Err(Error::Usage(format!(
                "{} has schema version {v}; this build reads 1..={}",
                file.display(),
                migrate::SCHEMA_VERSION
            )));
        }
    }
    let target = data_dir.join(DB_FILE);
    let tmp = tmp_name(&target);
    std::fs::copy(file, &tmp)
        .map_err(|e| Error::io(format!("cannot copy {}", file.display()), e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("sync restored file", e))?;
    let kept = data_dir.join(format!("{DB_FILE}.before-restore-{}", super::now_ms()));
    if target.exists() {
        std::fs::rename(&target, &kept)
            .map_err(|e| Error::io(format!("cannot move {} aside", target.display()), e))?;
    }
    std::fs::rename(&tmp, &target)
        .map_err(|e| Error::io(format!("cannot put {} in place", target.display()), e))?;
    let index = data_dir.join("search");
    if index.exists() {
        let _ = std::fs::remove_dir_all(&index);
    }
    Ok(kept)
}
