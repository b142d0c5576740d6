//! The compiled-code cache: native code wasmtime compiled from a component, kept on disk
//! and run again only when its tag verifies (see [`compile_cached`]).

use super::{cache_dir, CacheUse};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Compiled code from the cache is native code that runs outside the WebAssembly sandbox,
/// so it is executed only when verified as what this binary compiled from these bytes: each
/// artifact has a tag, HMAC-SHA256 under a random key kept in the cache directory (mode
/// 0600), over the component's hash, the engine's compatibility hash and the artifact. The
/// directory must be the user's own and writable by nobody else; otherwise no cache is used.
/// A missing or wrong tag means the component is compiled again and the entry replaced.
/// docs/plugins.md ("The compiled-code cache") has the threat model.
pub(super) fn compile_cached(
    engine: &Engine,
    bytes: &[u8],
    sha256: &str,
) -> wasmtime::Result<(Component, CacheUse)> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let engine_hash = format!("{:016x}", h.finish());
    let Some(cache) = cache_dir().and_then(|d| CodeCache::open(&d).ok()) else {
        return Ok((Component::new(engine, bytes)?, CacheUse::Off));
    };
    let name = format!("{sha256}-{engine_hash}");
    let context = format!("bonusrun compiled code v1\n{sha256}\n{engine_hash}\n");
    let mut rejected = false;
    if let Some(artifact) = cache.read(&name, &context, &mut rejected) {
        // SAFETY: `artifact` carries a valid tag under this user's private key: it is the
        // output of `Component::serialize` by an engine with the same compatibility hash,
        // for exactly these component bytes.
        if let Ok(c) = unsafe { Component::deserialize(engine, &artifact) } {
            return Ok((c, CacheUse::Hit));
        }
        rejected = true;
    }
    let component = Component::new(engine, bytes)?;
    let stored = component
        .serialize()
        .ok()
        .is_some_and(|b| cache.write(&name, &context, &b).is_ok());
    Ok((
        component,
        match (rejected, stored) {
            (true, _) => CacheUse::Rejected,
            (false, true) => CacheUse::Miss,
            (false, false) => CacheUse::Off,
        },
    ))
}

/// The compiled-code cache directory and its key.
struct CodeCache {
    dir: PathBuf,
    key: [u8; 32],
}

type Tagger = hmac::Hmac<Sha256>;

impl CodeCache {
    /// Opens (creating them if needed) the directory and its key; fails when either is not
    /// private to this user.
    fn open(dir: &Path) -> std::io::Result<CodeCache> {
        create_private_dir(dir)?;
        check_private(dir, 0o022)?;
        let key_path = dir.join("key");
        if !key_path.exists() {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
            let tmp = dir.join(format!(".key.{}.tmp", std::process::id()));
            write_private(&tmp, &key)?;
            // A key another process wrote first wins; ours is dropped.
            if std::fs::hard_link(&tmp, &key_path).is_err() && !key_path.exists() {
                let _ = std::fs::remove_file(&tmp);
                return Err(std::io::Error::other("cannot store the cache key"));
            }
            let _ = std::fs::remove_file(&tmp);
        }
        check_private(&key_path, 0o077)?;
        let bytes = std::fs::read(&key_path)?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| std::io::Error::other("the cache key is not 32 bytes"))?;
        Ok(CodeCache {
            dir: dir.to_path_buf(),
            key,
        })
    }

    fn tag(&self, context: &str, artifact: &[u8]) -> Tagger {
        use hmac::Mac;
        let mut mac = Tagger::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(context.as_bytes());
        mac.update(artifact);
        mac
    }

    /// The artifact `name`, if its tag verifies; sets `rejected` when an entry exists but
    /// does not verify.
    fn read(&self, name: &str, context: &str, rejected: &mut bool) -> Option<Vec<u8>> {
        use hmac::Mac;
        let artifact = std::fs::read(self.dir.join(format!("{name}.cwasm"))).ok()?;
        let tag = std::fs::read(self.dir.join(format!("{name}.tag"))).unwrap_or_default();
        if self.tag(context, &artifact).verify_slice(&tag).is_ok() {
            Some(artifact)
        } else {
            *rejected = true;
            None
        }
    }

    /// Stores an artifact and its tag (each written aside and renamed into place).
    fn write(&self, name: &str, context: &str, artifact: &[u8]) -> std::io::Result<()> {
        use hmac::Mac;
        let tag = self.tag(context, artifact).finalize().into_bytes();
        for (ext, bytes) in [("cwasm", artifact), ("tag", &tag[..])] {
            let tmp = self
                .dir
                .join(format!(".{name}.{ext}.{}.tmp", std::process::id()));
            write_private(&tmp, bytes)?;
            std::fs::rename(&tmp, self.dir.join(format!("{name}.{ext}")))?;
        }
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// `path` must be owned by this user, not a link, and have none of the `forbidden` mode bits.
fn check_private(path: &Path, forbidden: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(path)?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.file_type().is_symlink() || meta.uid() != me || meta.mode() & forbidden != 0 {
            return Err(std::io::Error::other(format!(
                "{} is not private to this user",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, forbidden);
    Ok(())
}
