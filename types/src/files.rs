//! Opening a file a person names, the same way in every front end and the
//! core.

/// Open a plugin file to hand to the daemon (or to read in-process) without
/// blocking on a FIFO or taking a terminal; the flags do nothing to a
/// regular file. Whoever reads it checks it is one.
pub fn open_plugin_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::File::options().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)
}
