//! What a component must be to be loaded: a component (not a core module),
//! exporting `tails:server/service` at a version this host loads, and
//! importing nothing but what the host provides (our interfaces at that same
//! version).

use anyhow::{anyhow, bail, Result};

/// The `tails:server` contract version this host speaks.
pub const CONTRACT_VERSION: &str = "0.4.0";
/// The versions it loads: its own, and older ones through a shim
/// (`since_v0_3`, `since_v0_2`).
pub const LOADED_VERSIONS: &[&str] =
    &[CONTRACT_VERSION, super::since_v0_3::VERSION, super::since_v0_2::VERSION];

/// The interfaces of ours a plugin may import.
const OUR_IMPORTS: &[&str] = &["types", "packages", "config", "network", "log"];
/// WASI 0.2 packages provided with nothing in them: no preopened folder, no
/// environment, no arguments (Rust's standard library imports these).
const WASI_IMPORTS: &[&str] =
    &["wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:filesystem/"];

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
pub fn check_names(wasm: &[u8]) -> Result<&'static str> {
    use wasmparser::{Parser, Payload};
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| anyhow!("it is not a valid WebAssembly component: {e}"))? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.push(
                        import
                            .map_err(|e| anyhow!("its imports cannot be read: {e}"))?
                            .name
                            .name
                            .to_string(),
                    );
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    exports.push(
                        export
                            .map_err(|e| anyhow!("its exports cannot be read: {e}"))?
                            .name
                            .name
                            .to_string(),
                    );
                }
            }
            _ => {}
        }
    }
    let version = check_exports(&exports)?;
    for name in &imports {
        check_import(name, version)?;
    }
    Ok(version)
}

/// The contract version a compiled component exports, if one this host loads.
pub fn version_of(
    component: &wasmtime::component::types::Component,
    engine: &wasmtime::Engine,
) -> Option<&'static str> {
    let exports: Vec<String> =
        component.exports(engine).map(|(name, _)| name.to_string()).collect();
    check_exports(&exports).ok()
}

fn check_exports(exports: &[String]) -> Result<&'static str> {
    if let Some(version) =
        LOADED_VERSIONS.iter().find(|v| exports.contains(&format!("tails:server/service@{v}")))
    {
        return Ok(version);
    }
    let ours = format!("tails:server/service@{CONTRACT_VERSION}");
    Err(match exports.iter().find(|e| e.starts_with("tails:server/service")) {
        Some(other) => {
            let version = crate::display::line(
                other.split_once('@').map(|(_, v)| v).unwrap_or("(unversioned)"),
            );
            anyhow!(
                "it is built for contract tails:server@{version}, but this Tails Server speaks tails:server@{CONTRACT_VERSION} \
                 (and loads {}); rebuild the plugin with tails-server-sdk {CONTRACT_VERSION}, or use a Tails Server that speaks {version}",
                LOADED_VERSIONS[1..].join(", ")
            )
        }
        None => anyhow!(
            "it does not export `{ours}`, so it is not a Tails Server plugin (it exports: {})",
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                crate::display::line(&exports.join(", "))
            }
        ),
    })
}

/// One import of a component exporting contract `version`.
fn check_import(name: &str, version: &str) -> Result<()> {
    if let Some(rest) = name.strip_prefix("tails:server/") {
        let (interface, imported) = rest.split_once('@').unwrap_or((rest, ""));
        if OUR_IMPORTS.contains(&interface) && imported == version {
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
            ("tails:server/config@0.4.0", true),
            ("tails:server/log@0.4.0", true),
            ("tails:server/config@0.9.0", false),
            // Our interfaces at another version than the exported contract's.
            ("tails:server/config@0.3.0", false),
            ("tails:server/config@0.2.0", false),
            ("tails:server/shell@0.4.0", false),
            ("wasi:cli/environment@0.2.6", true),
            ("wasi:filesystem/preopens@0.2.0", true),
            ("wasi:sockets/tcp@0.2.0", false),
            ("wasi:http/outgoing-handler@0.2.0", false),
            ("wasi:cli/environment@0.3.0", false),
            ("fixture:foreign/shell", false),
        ];
        for (name, ok) in table {
            assert_eq!(check_import(name, CONTRACT_VERSION).is_ok(), *ok, "{name}");
        }
        assert!(check_import("tails:server/config@0.2.0", "0.2.0").is_ok());
        assert!(check_import("tails:server/config@0.3.0", "0.2.0").is_err());
        assert!(check_import("tails:server/config@0.3.0", "0.3.0").is_ok());
    }

    #[test]
    fn exports_name_a_loaded_contract() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_exports(&names(&["tails:server/service@0.4.0"])).unwrap(), "0.4.0");
        assert_eq!(check_exports(&names(&["tails:server/service@0.3.0"])).unwrap(), "0.3.0");
        assert_eq!(check_exports(&names(&["tails:server/service@0.2.0"])).unwrap(), "0.2.0");
        let future =
            check_exports(&names(&["tails:server/service@0.9.0"])).unwrap_err().to_string();
        assert!(
            future.contains("built for contract tails:server@0.9.0")
                && future.contains("loads 0.3.0, 0.2.0"),
            "{future}"
        );
        let none = check_exports(&names(&["wasi:cli/run@0.2.0"])).unwrap_err().to_string();
        assert!(none.contains("not a Tails Server plugin"), "{none}");
    }

    #[test]
    fn headers() {
        assert!(check_header(b"\0asm\x01\0\0\0")
            .unwrap_err()
            .to_string()
            .contains("core WebAssembly module"));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
        assert!(check_header(b"hello world")
            .unwrap_err()
            .to_string()
            .contains("not a WebAssembly file"));
        assert!(check_header(b"").is_err());
    }
}
