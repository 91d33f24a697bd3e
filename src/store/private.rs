//! Data-directory permissions. The store holds password, session and token hashes and the key
//! that signs public file links; attachments and the index hold conversations. New files are
//! created 0600 (directories 0700) whatever the umask, and installs from before that are
//! tightened at start.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Remove group and other access from `path`, if it has any; returns whether it had.
fn tighten_one(path: &Path) -> Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(format!("cannot check {}", path.display()), e)),
    };
    // A symlink's own mode means nothing, and following it could chmod files elsewhere.
    if meta.file_type().is_symlink() {
        return Ok(false);
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700)).map_err(|e| {
        Error::io(
            format!("cannot make {} private (chmod go-rwx)", path.display()),
            e,
        )
    })?;
    Ok(true)
}

fn tighten_tree(path: &Path) -> Result<()> {
    tighten_one(path)?;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        let rd = std::fs::read_dir(path)
            .map_err(|e| Error::io(format!("cannot list {}", path.display()), e))?;
        for e in rd.flatten() {
            tighten_tree(&e.path())?;
        }
    }
    Ok(())
}

/// Make the data directory and what Parley keeps in it private. The attachment and index
/// trees are walked only when their top directory is still open to others (an install from
/// before this check), so a normal start stays cheap with many files. A directory this user
/// may write but not chmod (owned by root, say) is reported, not fatal.
pub fn tighten(dir: &Path) {
    if let Err(e) = tighten_all(dir) {
        tracing::warn!("{e}: other users may be able to read Parley's data");
    }
}

fn tighten_all(dir: &Path) -> Result<()> {
    let opened = tighten_one(dir)?;
    for f in [super::DB_FILE, super::LOCK_FILE] {
        tighten_one(&dir.join(f))?;
    }
    // The TLS directory is small: always check all of it (the key above all).
    tighten_tree(&dir.join("tls"))?;
    for tree in ["blobs", "search"] {
        let p = dir.join(tree);
        // Tighten the contents before the top directory, so an interrupted run is resumed.
        let open = std::fs::symlink_metadata(&p)
            .is_ok_and(|m| !m.file_type().is_symlink() && m.permissions().mode() & 0o077 != 0);
        if open {
            if let Ok(rd) = std::fs::read_dir(&p) {
                for e in rd.flatten() {
                    tighten_tree(&e.path())?;
                }
            }
            tighten_one(&p)?;
        }
    }
    if opened {
        tracing::info!(
            "data directory {}: removed group and other access (it holds password hashes, keys and conversations)",
            dir.display()
        );
    }
    Ok(())
}
