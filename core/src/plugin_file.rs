//! Reading a plugin file a person names: without blocking on a FIFO or
//! taking a terminal, a regular file only, bounded in size. Every reader of
//! plugin bytes (adding, the shipped builds, `plugin try`) reads them here.

use std::io::Read;

use anyhow::{bail, Context as _, Result};

use crate::display;
use crate::runtime::MAX_PLUGIN_BYTES;

/// Open a plugin file without blocking on a FIFO (the flag does nothing to
/// a regular file); [`read`] then reads it, bounded.
pub fn open(file: &std::path::Path) -> Result<std::fs::File> {
    tails_server_types::files::open_plugin_file(file)
        .with_context(|| format!("cannot read {}", display::path(file)))
}

/// Open and read a plugin file ([`open`], [`read`]).
pub fn read_file(file: &std::path::Path) -> Result<Vec<u8>> {
    read(open(file)?, &display::path(file))
}

/// Read a plugin from an open file: a regular file (not a FIFO, a device or
/// a terminal), at most the size limit, read no further than that.
pub fn read(file: std::fs::File, shown: &str) -> Result<Vec<u8>> {
    let meta = file.metadata().with_context(|| format!("cannot read {shown}"))?;
    if !meta.is_file() {
        bail!("refusing {shown}: it is not a regular file (a plugin is a .wasm file)");
    }
    let mut wasm = Vec::new();
    file.take(MAX_PLUGIN_BYTES as u64 + 1)
        .read_to_end(&mut wasm)
        .with_context(|| format!("cannot read {shown}"))?;
    if wasm.len() > MAX_PLUGIN_BYTES {
        bail!("refusing {shown}: it is larger than {} MiB", MAX_PLUGIN_BYTES >> 20);
    }
    Ok(wasm)
}
