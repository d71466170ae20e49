//! What a component must be to be loaded: a component (not a core module),
//! exporting `tails:server/service` at the version this host speaks, and
//! importing nothing but what the host provides.

use anyhow::{anyhow, bail, Result};

/// The `tails:server` contract version this host speaks.
pub const CONTRACT_VERSION: &str = "0.3.0";

/// The interfaces of ours a plugin may import.
const OUR_IMPORTS: &[&str] = &["types", "packages", "config", "network", "log"];
/// WASI 0.2 packages provided with nothing in them: no preopened folder, no
/// environment, no arguments (Rust's standard library imports these).
const WASI_IMPORTS: &[&str] = &["wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:filesystem/"];

/// Refuse at a glance what is not a component at all.
pub fn check_header(wasm: &[u8]) -> Result<()> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        bail!("it is not a WebAssembly file");
    }
    match wasm[4..8] {
        [1, 0, 0, 0] => bail!("it is a core WebAssembly module, not a component; build it for the wasm32-wasip2 target"),
        [0x0d, 0, 1, 0] => Ok(()),
        _ => bail!("it is a WebAssembly component of an unknown binary version"),
    }
}

/// The top-level imports and exports of a component, read from its bytes
/// without compiling anything: a component that imports what the host does
/// not provide, or does not export our contract, is refused at once (a
/// hostile one could take minutes to compile).
pub fn check_names(wasm: &[u8]) -> Result<()> {
    use wasmparser::{Parser, Payload};
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| anyhow!("it is not a valid WebAssembly component: {e}"))? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.push(import.map_err(|e| anyhow!("its imports cannot be read: {e}"))?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    exports.push(export.map_err(|e| anyhow!("its exports cannot be read: {e}"))?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    check_exports(&exports)?;
    for name in &imports {
        check_import(name)?;
    }
    Ok(())
}

fn check_exports(exports: &[String]) -> Result<()> {
    let ours = format!("tails:server/service@{CONTRACT_VERSION}");
    if !exports.contains(&ours) {
        return Err(match exports.iter().find(|e| e.starts_with("tails:server/service")) {
            Some(other) => {
                let version = crate::display::line(other.split_once('@').map(|(_, v)| v).unwrap_or("(unversioned)"));
                anyhow!(
                    "it is built for contract tails:server@{version}, but this Tails Server speaks tails:server@{CONTRACT_VERSION}; \
                     rebuild the plugin with tails-server-sdk {CONTRACT_VERSION}, or use a Tails Server that speaks {version}"
                )
            }
            None => anyhow!(
                "it does not export `{ours}`, so it is not a Tails Server plugin (it exports: {})",
                if exports.is_empty() { "nothing".to_string() } else { crate::display::line(&exports.join(", ")) }
            ),
        });
    }
    Ok(())
}

fn check_import(name: &str) -> Result<()> {
    if let Some(rest) = name.strip_prefix("tails:server/") {
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        if OUR_IMPORTS.contains(&interface) && version == CONTRACT_VERSION {
            return Ok(());
        }
    }
    if name.starts_with("wasi:sockets/") {
        bail!("it imports `{}`: plugins get no network access", crate::display::line(name));
    }
    if WASI_IMPORTS.iter().any(|p| name.starts_with(p)) && name.contains("@0.2.") {
        return Ok(());
    }
    bail!("it imports `{}`, which Tails Server does not provide", crate::display::line(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_allow_listed() {
        let table: &[(&str, bool)] = &[
            ("tails:server/config@0.3.0", true),
            ("tails:server/log@0.3.0", true),
            ("tails:server/config@0.9.0", false),
            ("tails:server/config@0.2.0", false),
            ("tails:server/shell@0.3.0", false),
            ("wasi:cli/environment@0.2.6", true),
            ("wasi:filesystem/preopens@0.2.0", true),
            ("wasi:sockets/tcp@0.2.0", false),
            ("wasi:http/outgoing-handler@0.2.0", false),
            ("wasi:cli/environment@0.3.0", false),
            ("fixture:foreign/shell", false),
        ];
        for (name, ok) in table {
            assert_eq!(check_import(name).is_ok(), *ok, "{name}");
        }
    }

    #[test]
    fn headers() {
        assert!(check_header(b"\0asm\x01\0\0\0").unwrap_err().to_string().contains("core WebAssembly module"));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
        assert!(check_header(b"hello world").unwrap_err().to_string().contains("not a WebAssembly file"));
        assert!(check_header(b"").is_err());
    }
}
