//! Keeping a rule pack inside its directory: a pack never makes bonusrun read a file outside
//! it, whether through an absolute path, `..`, or a symbolic link (to a file or a folder).
//! Links that stay inside the pack are allowed.

use std::path::{Path, PathBuf};

/// The real path of `path`, which must lie inside `root` once every link is resolved.
/// A path that does not exist comes back as it is (reading it then reports it missing).
pub fn inside(root: &Path, path: &Path) -> Result<PathBuf, String> {
    let real_root = root
        .canonicalize()
        .map_err(|e| format!("cannot resolve the pack directory {}: {e}", root.display()))?;
    let real = match path.canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling link is refused too: it may point anywhere once created.
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(outside(path, None));
            }
            return Ok(path.to_path_buf());
        }
        Err(e) => return Err(format!("cannot resolve {}: {e}", path.display())),
    };
    if real.starts_with(&real_root) {
        Ok(real)
    } else {
        Err(outside(path, Some(&real)))
    }
}

/// Reads a regular file; a directory, device or pipe (which may never end) is refused.
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    // Checked before opening: opening a pipe would wait for a writer.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a directory, device or pipe)",
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn outside(path: &Path, real: Option<&Path>) -> String {
    format!(
        "{} leads outside the pack{}; a pack may read only its own files (copy the file into the pack instead of linking it)",
        path.display(),
        real.map(|r| format!(" (to {})", r.display()))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_out_of_the_root_are_refused() {
        let dir = std::env::temp_dir().join(format!("bonusrun-confine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("pack/sub")).unwrap();
        std::fs::write(dir.join("secret.txt"), "x").unwrap();
        std::fs::write(dir.join("pack/sub/own.txt"), "y").unwrap();
        let pack = dir.join("pack");
        std::os::unix::fs::symlink(dir.join("secret.txt"), pack.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(&dir, pack.join("up")).unwrap();
        std::os::unix::fs::symlink(pack.join("sub/own.txt"), pack.join("own.txt")).unwrap();
        assert!(inside(&pack, &pack.join("sub/own.txt")).is_ok());
        assert!(inside(&pack, &pack.join("own.txt")).is_ok());
        assert!(inside(&pack, &pack.join("missing.txt")).is_ok());
        let err = inside(&pack, &pack.join("link.txt")).unwrap_err();
        assert!(err.contains("leads outside the pack"), "{err}");
        assert!(inside(&pack, &pack.join("up/secret.txt")).is_err());
        assert!(inside(&pack, &pack.join("sub/../../secret.txt")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
