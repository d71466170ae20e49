//! The first-party plugins shipped with Tails Server, in one folder
//! (`/usr/share/tails-server/plugins/NAME.wasm` once installed), so that
//! `tails-server plugin add irc` needs no file. The folder is the program's
//! own, like the binary: it is not under `--root`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// Where an installed Tails Server keeps its plugins.
pub const DEFAULT_DIR: &str = "/usr/share/tails-server/plugins";

/// The folder: `TAILS_SERVER_PLUGINS_DIR` (a build tree, the tests), or the default.
pub fn dir() -> PathBuf {
    std::env::var_os("TAILS_SERVER_PLUGINS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// The shipped plugins, by name, sorted.
pub fn list() -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let name = path.file_name()?.to_str()?.strip_suffix(".wasm")?.to_string();
            crate::options::valid_name(&name).then_some((name, path))
        })
        .collect();
    found.sort();
    found
}

/// What `plugin add` was given: a path (it has a `/` or ends in `.wasm`) is
/// a file; a bare name is a shipped plugin.
pub fn resolve(arg: &Path) -> Result<PathBuf> {
    let text = arg.to_string_lossy();
    if text.contains('/') || text.ends_with(".wasm") {
        return Ok(arg.to_path_buf());
    }
    if let Some(path) = path_of(&text) {
        return Ok(path);
    }
    let names: Vec<String> = list().into_iter().map(|(name, _)| name).collect();
    bail!(
        "no plugin named {} is shipped in {} (shipped: {}); to add a file, give its path (./{}.wasm)",
        crate::display::quoted(&text),
        dir().display(),
        if names.is_empty() { "none".into() } else { names.join(", ") },
        crate::display::line(&text)
    )
}

/// Are `sha256`'s bytes the plugin this Tails Server ships as `name`?
pub fn ships(name: &str, sha256: &str) -> bool {
    shipped_build(name).is_some_and(|wasm| crate::runtime::sha256_hex(&wasm) == sha256)
}

/// The bytes of the plugin shipped as `name`, if there is one (bounded as
/// any plugin file is).
pub fn shipped_build(name: &str) -> Option<Vec<u8>> {
    crate::plugin_file::read_file(&path_of(name)?).ok()
}

/// The file of the plugin shipped as `name`, if there is one.
pub fn path_of(name: &str) -> Option<PathBuf> {
    list().into_iter().find(|(shipped, _)| shipped == name).map(|(_, path)| path)
}
