//! Bind mounts: how a service's persistent folders are put into place, so
//! that what the service writes goes straight to Persistent Storage (as
//! Tails' own persistence feature does with its folders).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Whether `target` shows `source` (the same folder: device and inode), as
/// it does once `source` is bind-mounted on it.
pub fn is_bound(source: &Path, target: &Path) -> bool {
    match (std::fs::metadata(source), std::fs::metadata(target)) {
        (Ok(s), Ok(t)) => s.dev() == t.dev() && s.ino() == t.ino(),
        _ => false,
    }
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))
}

/// Bind-mount the folder `source` on the folder `target`.
pub fn bind(source: &Path, target: &Path) -> io::Result<()> {
    let (s, t) = (c_path(source)?, c_path(target)?);
    // SAFETY: both are valid NUL-terminated paths; no filesystem type or data.
    os_result(unsafe {
        libc::mount(s.as_ptr(), t.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null())
    })
}

/// Take the mount off `target`. Detached lazily: a running service that still
/// has a file open there keeps it until it closes it.
pub fn unbind(target: &Path) -> io::Result<()> {
    let t = c_path(target)?;
    // SAFETY: a valid NUL-terminated path.
    os_result(unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) })
}

/// A libc call's return code: 0 is success, else errno says why.
fn os_result(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_not_bound_to_another() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        assert!(is_bound(&a, &a));
        assert!(!is_bound(&a, &b));
        assert!(!is_bound(&a, &dir.path().join("missing")));
    }
}
