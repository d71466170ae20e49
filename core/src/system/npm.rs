//! npm packages, the second package source, for services Debian lacks.
//!
//! Each service has its own folder, `/opt/tails-server/SERVICE/`, holding a
//! `package.json` the host writes (exactly the granted packages, at their exact
//! versions) and the `node_modules/` npm installs from it; the service runs
//! them with Debian's nodejs. npm runs as root, so it never runs a package's
//! install scripts (`--ignore-scripts`): installing is only unpacking files.
//! Plugins may not write in these folders (see `caps::validate_declared_path`),
//! so no plugin can slip an `.npmrc` or a lock file in.
//!
//! Only the broker calls [`install`], with specs the plugin declared and the
//! user granted.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::packages;
use crate::broker::caps::NpmSpec;
use crate::fsutil::{self, Mode};

use crate::places::NPM as BASE;

/// npm's download cache, kept out of root's home (in `places::CACHE`).
const CACHE: &str = "/var/cache/tails-server/npm";

/// The service's own folder, on the running system.
pub fn folder_of(service: &str) -> PathBuf {
    Path::new(BASE).join(service)
}

fn folder(root: &Path, service: &str) -> PathBuf {
    fsutil::under_root(root, folder_of(service))
}

/// The specs of `wanted` that are not installed, at their exact version, in
/// the service's folder under `root`.
pub fn missing(root: &Path, service: &str, wanted: &[String]) -> Vec<String> {
    let modules = folder(root, service).join("node_modules");
    wanted
        .iter()
        .filter(|spec| {
            let Ok(npm) = NpmSpec::parse(spec) else { return true };
            installed_version(&modules.join(&npm.name)).as_deref() != Some(npm.version.as_str())
        })
        .cloned()
        .collect()
}

fn installed_version(package: &Path) -> Option<String> {
    let text = std::fs::read_to_string(package.join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_string)
}

/// What the host writes as the folder's `package.json`: the granted packages
/// and nothing else, so npm removes what an older build of the plugin wanted.
fn manifest(service: &str, specs: &[NpmSpec]) -> String {
    let dependencies: serde_json::Map<String, serde_json::Value> = specs
        .iter()
        .map(|s| (s.name.clone(), serde_json::Value::String(s.version.clone())))
        .collect();
    let json = serde_json::json!({
        "name": format!("tails-server-{service}"),
        "description": "npm packages of a Tails Server service; written by tails-server, do not edit",
        "private": true,
        "dependencies": dependencies,
    });
    serde_json::to_string_pretty(&json).expect("a JSON value serialises") + "\n"
}

/// Install `specs` into the service's folder with npm (run through torsocks
/// on Tails, where only Tor reaches the network). npm's own configuration
/// (`/etc/npmrc`, `npm_config_*`) chooses the registry.
pub fn install(root: &Path, service: &str, specs: &[String]) -> Result<(), String> {
    if root != Path::new("/") {
        return Err(format!(
            "installing npm packages under --root {} is not supported",
            root.display()
        ));
    }
    let parsed = specs.iter().map(|s| NpmSpec::parse(s)).collect::<Result<Vec<_>, _>>()?;
    let Some(npm) = find_program("npm") else {
        return Err("npm is not installed, so the service's npm packages cannot be: the plugin should declare the Debian \
                    packages nodejs and npm (or run `apt-get install nodejs npm`)"
            .into());
    };
    let dir = folder(root, service);
    let prepared = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::create_dir_all(CACHE))
        .and_then(|()| {
            fsutil::write_path_atomic(
                &dir.join("package.json"),
                manifest(service, &parsed).as_bytes(),
                Mode::KeepOr(0o644),
            )
        });
    prepared.map_err(|e| format!("preparing {}: {e}", dir.display()))?;

    let torsocks = super::on_tails().then(|| find_program("torsocks")).flatten();
    let mut cmd = match &torsocks {
        Some(torsocks) => {
            let mut cmd = Command::new(torsocks);
            cmd.arg(&npm);
            cmd
        }
        None => Command::new(&npm),
    };
    cmd.arg("install")
        .arg("--prefix")
        .arg(&dir)
        .args([
            "--ignore-scripts",
            "--omit=dev",
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            "--loglevel=warn",
        ])
        .env("npm_config_cache", CACHE)
        .current_dir(&dir);
    packages::run(&mut cmd, &format!("npm install {}", specs.join(" ")))
        .map_err(|e| format!("{e}\n(npm fetches from the registry its configuration names: `npm config get registry`{})", if torsocks.is_some() { ", through Tor" } else { "" }))?;
    let still = missing(root, service, specs);
    if !still.is_empty() {
        return Err(format!(
            "npm finished but {} is still not installed in {}",
            still.join(", "),
            dir.display()
        ));
    }
    Ok(())
}

/// Delete the service's npm folder (at plugin remove).
pub fn remove(root: &Path, service: &str) -> std::io::Result<()> {
    match std::fs::remove_dir_all(folder(root, service)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A program on the PATH (or in the usual system folders when PATH is unset,
/// as under systemd).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_lists_exactly_the_granted_versions() {
        let specs =
            [NpmSpec::parse("@scope/a@1.2.3").unwrap(), NpmSpec::parse("b@0.0.1-rc.1").unwrap()];
        let json: serde_json::Value = serde_json::from_str(&manifest("hello", &specs)).unwrap();
        assert_eq!(json["name"], "tails-server-hello");
        assert_eq!(json["private"], true);
        assert_eq!(
            json["dependencies"],
            serde_json::json!({"@scope/a": "1.2.3", "b": "0.0.1-rc.1"})
        );
        assert!(json.get("scripts").is_none());
    }

    #[test]
    fn missing_compares_the_installed_version() {
        let root = tempfile::tempdir().unwrap();
        let package = folder(root.path(), "hello").join("node_modules/@scope/a");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join("package.json"), r#"{"name": "@scope/a", "version": "1.2.3"}"#)
            .unwrap();
        let wanted = |specs: &[&str]| {
            missing(root.path(), "hello", &specs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert!(wanted(&["@scope/a@1.2.3"]).is_empty());
        assert_eq!(wanted(&["@scope/a@1.2.4", "b@1.0.0"]), ["@scope/a@1.2.4", "b@1.0.0"]);
        assert_eq!(missing(root.path(), "other", &["@scope/a@1.2.3".into()]), ["@scope/a@1.2.3"]);
    }
}
