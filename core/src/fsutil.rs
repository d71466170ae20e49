//! File writing used everywhere: atomic replacement inside an opened folder
//! (cap-std `Dir`), and walking a path without following symbolic links.

use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsExt as _, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, DirBuilder, OpenOptions};

/// A refusal for safety reasons (a symbolic link where none may be), as
/// opposed to a plain I/O failure.
fn refused(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, message)
}

/// Open a folder the host itself names (the `--root`, the state folder).
/// Ambient authority is used here and only here.
pub fn open_ambient(path: &Path) -> io::Result<Dir> {
    Dir::open_ambient_dir(path, ambient_authority())
}

/// Create (mode 0700) and open a private folder of the host's.
pub fn open_private(path: &Path) -> io::Result<Dir> {
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    open_ambient(path)
}

/// Descend from `base` through `components`, one folder at a time, refusing
/// any symbolic link on the way (even one that stays inside), and creating
/// missing folders (mode 0755) when `create` is set. `Ok(None)` when a folder
/// is missing and `create` is not set.
pub fn descend_nofollow<'a>(
    base: &Dir,
    components: impl IntoIterator<Item = &'a str>,
    create: bool,
) -> io::Result<Option<Dir>> {
    let mut dir = base.try_clone()?;
    for component in components {
        match dir.symlink_metadata(component) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(refused(format!(
                    "`{component}` is a symbolic link; refusing to follow it"
                )));
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(io::Error::other(format!("`{component}` is not a folder")))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                let mut builder = DirBuilder::new();
                cap_std::fs::DirBuilderExt::mode(&mut builder, 0o755);
                dir.create_dir_with(component, &builder)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        // Checked above; open without following in case it changed since.
        dir = dir.open_dir_nofollow(component)?;
    }
    Ok(Some(dir))
}

/// How a replaced file's permissions are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0600, whatever was there before: the host's own state.
    Private,
    /// A config file holding a secret. With `readers`, root's and that
    /// group's (the service's own), 0640. Without, keep the owner and group
    /// of the file being replaced (a daemon's group may need to read it) but
    /// never let others read it; a new file is 0600.
    Secret { readers: Option<u32> },
    /// Keep the mode and owner of the file being replaced; new files get this mode.
    KeepOr(u32),
    /// A copy of another file: its mode and owner, whatever was there.
    CopyOf { mode: u32, uid: u32, gid: u32 },
}

/// Replace `dir/name` atomically: write a temporary file beside it, fsync it,
/// rename it over the old one, fsync the folder. A symbolic link or a folder
/// at `name` is refused, never followed or replaced.
pub fn write_atomic(dir: &Dir, name: &str, contents: &[u8], mode: Mode) -> io::Result<()> {
    let existing = match dir.symlink_metadata(name) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(refused(format!("`{name}` is a symbolic link; refusing to replace it")));
        }
        Ok(meta) if !meta.is_file() => {
            return Err(io::Error::other(format!("`{name}` exists and is not a regular file")))
        }
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let (perm, owner) = match (mode, &existing) {
        (Mode::Secret { readers: Some(gid) }, _) => (0o640, Some((0, gid))),
        (Mode::Private, _) | (Mode::Secret { readers: None }, None) => (0o600, None),
        (Mode::Secret { readers: None }, Some(meta)) => {
            use cap_std::fs::MetadataExt;
            (meta.mode() & 0o750, Some((meta.uid(), meta.gid())))
        }
        (Mode::KeepOr(_), Some(meta)) => {
            use cap_std::fs::MetadataExt;
            (meta.mode() & 0o7777, Some((meta.uid(), meta.gid())))
        }
        (Mode::KeepOr(default), None) => (default, None),
        (Mode::CopyOf { mode, uid, gid }, _) => (mode, Some((uid, gid))),
    };

    let mut random = [0u8; 6];
    getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    let tmp = format!(".{name}.{}.tmp", hex::encode(random));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true).follow(FollowSymlinks::No);
    cap_std::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let file = dir.open_with(&tmp, &options)?;
        let mut file = file.into_std();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        file.set_permissions(std::fs::Permissions::from_mode(perm))?;
        file.write_all(contents)?;
        file.sync_all()?;
        dir.rename(&tmp, dir, name)?;
        // Best effort: a folder that cannot be synced still has the file.
        let _ = dir.open(".").map(|d| d.into_std()).and_then(|d| d.sync_all());
        Ok(())
    })();
    if result.is_err() {
        let _ = dir.remove_file(&tmp);
    }
    result
}

/// Read `dir/name` (at most `limit` bytes) without following a symbolic link.
/// `Ok(None)` when it does not exist.
pub fn read_nofollow(dir: &Dir, name: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut options = OpenOptions::new();
    // Non-blocking: opening a FIFO someone planted must not wait for a writer.
    options.read(true).follow(FollowSymlinks::No).custom_flags(libc::O_NONBLOCK);
    let file = match dir.open_with(name, &options) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(refused(format!("`{name}` is a symbolic link; refusing to follow it")))
        }
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!("`{name}` is not a regular file")));
    }
    let mut bytes = Vec::new();
    file.into_std().take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::other(format!("`{name}` is larger than {limit} bytes")));
    }
    Ok(Some(bytes))
}

/// Copy a file or a folder tree, keeping modes and owners; an existing target
/// is replaced file by file. No symbolic link is followed on either side, at
/// any depth (a link in the source is not copied; one in the target is
/// refused), and nothing but regular files and folders is opened (a FIFO
/// would block, a device is not data): both sides may be folders a service's
/// own user writes while root copies (its data, bind-mounted from Persistent
/// Storage), and a link swapped in meanwhile must not lead root elsewhere.
pub fn copy_tree_nofollow(from: &Path, to: &Path) -> io::Result<()> {
    let (from_parent, from_name) = split(from)?;
    let (to_parent, to_name) = split(to)?;
    std::fs::create_dir_all(to_parent)?;
    copy_entry(&open_ambient(from_parent)?, from_name, &open_ambient(to_parent)?, to_name)
}

fn copy_entry(src: &Dir, name: &str, dst: &Dir, to_name: &str) -> io::Result<()> {
    // Only folders and files are data: a socket (a running server's admin
    // socket), a FIFO or a device is not carried, and not even opened.
    match src.symlink_metadata(name) {
        Ok(meta) if meta.is_dir() || meta.is_file() => {}
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let mut options = OpenOptions::new();
    options.read(true).follow(FollowSymlinks::No).custom_flags(libc::O_NONBLOCK);
    let handle = match src.open_with(name, &options) {
        Ok(handle) => handle.into_std(),
        // Gone meanwhile, or a link or a socket in its place: not ours to carry.
        Err(e)
            if e.kind() == io::ErrorKind::NotFound
                || matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO)) =>
        {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    // What it is, decided on the opened file itself.
    let meta = handle.metadata()?;
    let (mode, uid, gid) = (meta.mode() & 0o7777, meta.uid(), meta.gid());
    if meta.is_dir() {
        let from = Dir::from_std_file(handle);
        let into = descend_nofollow(dst, [to_name], true)?
            .ok_or_else(|| io::Error::other(format!("could not make `{to_name}`")))?;
        for entry in from.entries()? {
            let entry_name = entry?.file_name();
            let entry_name = entry_name.to_str().ok_or_else(|| {
                io::Error::other(format!(
                    "`{}` is not a UTF-8 file name; copy it by hand",
                    entry_name.to_string_lossy()
                ))
            })?;
            copy_entry(&from, entry_name, &into, entry_name)?;
        }
        // cap-std holds folders as O_PATH handles, which cannot change an
        // owner: open the folder itself (without following) to set it.
        let into = dst.open_with(to_name, &options)?.into_std();
        if !into.metadata()?.is_dir() {
            return Err(io::Error::other(format!("`{to_name}` is no longer a folder")));
        }
        std::os::unix::fs::fchown(&into, Some(uid), Some(gid))?;
        into.set_permissions(std::fs::Permissions::from_mode(mode))?;
    } else if meta.is_file() {
        let mut bytes = Vec::new();
        { handle }.read_to_end(&mut bytes)?;
        write_atomic(dst, to_name, &bytes, Mode::CopyOf { mode, uid, gid })?;
    }
    Ok(())
}

fn split(path: &Path) -> io::Result<(&Path, &str)> {
    let parent = path
        .parent()
        .ok_or_else(|| io::Error::other(format!("{} has no folder", path.display())))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::other(format!("bad file name {}", path.display())))?;
    Ok((parent, name))
}

/// Where a system path (`/etc/x`) is under `--root DIR`.
pub fn under_root(root: &Path, system_path: impl AsRef<Path>) -> PathBuf {
    let path = system_path.as_ref();
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Write one of the host's own state files (in a folder it owns).
pub fn write_state_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let (parent, name) = split(path)?;
    write_atomic(&open_private(parent)?, name, contents, Mode::Private)
}

/// Write a file atomically in an existing folder of the host's choosing (not
/// a plugin's: those go through the broker).
pub fn write_path_atomic(path: &Path, contents: &[u8], mode: Mode) -> io::Result<()> {
    let (parent, name) = split(path)?;
    write_atomic(&open_ambient(parent)?, name, contents, mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A FIFO planted where a plugin may read (by a service's own user, say)
    /// is refused at once, not waited on forever under the state lock.
    #[test]
    fn reading_a_fifo_does_not_wait_for_a_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = std::ffi::CString::new(tmp.path().join("planted").to_str().unwrap()).unwrap();
        // SAFETY: a valid C string; mkfifo has no other precondition.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            done.send(read_nofollow(&dir, "planted", 1024).map_err(|e| e.to_string()))
        });
        let result =
            result.recv_timeout(std::time::Duration::from_secs(5)).expect("read_nofollow returned");
        assert!(result.unwrap_err().contains("not a regular file"));
    }

    /// A link in the source is not followed (nor copied), a FIFO is not
    /// opened, and a link in the target is refused rather than written through.
    #[test]
    fn copying_a_tree_follows_no_link_and_opens_no_fifo_or_socket() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst, secret) =
            (tmp.path().join("src"), tmp.path().join("dst"), tmp.path().join("shadow"));
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(&secret, "root's secret").unwrap();
        std::fs::write(src.join("sub/db"), "data").unwrap();
        symlink(&secret, src.join("sub/leak")).unwrap();
        symlink(tmp.path(), src.join("up")).unwrap();
        let fifo = std::ffi::CString::new(src.join("pipe").to_str().unwrap()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        // A running server's socket (Prosody's admin socket in its data folder).
        let _listening = std::os::unix::net::UnixListener::bind(src.join("server.sock")).unwrap();
        copy_tree_nofollow(&src, &dst).unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("sub/db")).unwrap(), "data");
        for not_copied in ["sub/leak", "up", "pipe", "server.sock"] {
            assert!(
                std::fs::symlink_metadata(dst.join(not_copied)).is_err(),
                "{not_copied} was copied"
            );
        }
        // A target folder swapped for a link elsewhere: refused, nothing written there.
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::remove_dir_all(dst.join("sub")).unwrap();
        symlink(&elsewhere, dst.join("sub")).unwrap();
        assert!(copy_tree_nofollow(&src, &dst).is_err());
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = open_ambient(tmp.path()).unwrap();
        std::fs::write(tmp.path().join("a.conf"), "old").unwrap();
        std::fs::set_permissions(tmp.path().join("a.conf"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        write_atomic(&dir, "a.conf", b"new", Mode::KeepOr(0o644)).unwrap();
        assert_eq!(std::fs::read_to_string(tmp.path().join("a.conf")).unwrap(), "new");
        let mode =
            std::fs::metadata(tmp.path().join("a.conf")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        write_atomic(&dir, "secret", b"s", Mode::Private).unwrap();
        assert_eq!(
            std::fs::metadata(tmp.path().join("secret")).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);
    }

    #[test]
    fn symlinks_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("outside")).unwrap();
        std::fs::write(tmp.path().join("outside/target"), "keep").unwrap();
        std::fs::create_dir(tmp.path().join("inside")).unwrap();
        symlink(tmp.path().join("outside/target"), tmp.path().join("inside/link")).unwrap();
        symlink(tmp.path().join("outside"), tmp.path().join("inside/linkdir")).unwrap();
        let inside = open_ambient(&tmp.path().join("inside")).unwrap();
        assert!(write_atomic(&inside, "link", b"x", Mode::KeepOr(0o644)).is_err());
        assert!(read_nofollow(&inside, "link", 100).is_err());
        assert!(descend_nofollow(&inside, ["linkdir"], true).is_err());
        assert_eq!(std::fs::read_to_string(tmp.path().join("outside/target")).unwrap(), "keep");
    }
}
