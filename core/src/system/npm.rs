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
use crate::fsutil::{self, Mode};

use crate::places::NPM as BASE;

/// An npm package at one exact version, as a plugin declares it:
/// `NAME@VERSION` or `@SCOPE/NAME@VERSION`. Names follow npm's rules for new
/// packages (lower case, URL-safe, at most 214 characters); the version is an
/// exact semantic version. Ranges, tags, URLs, git and `file:` specifiers are
/// refused: the user consents to one published build, fetched from the
/// registry, never to "whatever `latest` is" or to a path on this computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub version: String,
}

impl Spec {
    pub fn parse(spec: &str) -> Result<Spec, String> {
        let bad = |why: &str| {
            Err(format!("{spec:?} is not an npm package at an exact version ({why}); write NAME@1.2.3 or @SCOPE/NAME@1.2.3"))
        };
        // The version follows the last `@`; a scope's `@` is the first character.
        let Some((name, version)) = spec.rsplit_once('@').filter(|(name, _)| !name.is_empty())
        else {
            return bad("no version");
        };
        let part_ok = |p: &str| {
            !p.is_empty()
                && !p.starts_with(['.', '_', '-'])
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c))
        };
        let name_ok = name.len() <= 214
            && match name.strip_prefix('@') {
                Some(scoped) => scoped
                    .split_once('/')
                    .is_some_and(|(scope, bare)| part_ok(scope) && part_ok(bare)),
                None => part_ok(name),
            };
        if !name_ok {
            return bad("bad name");
        }
        let (core, pre) = match version.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (version, None),
        };
        let numbers: Vec<&str> = core.split('.').collect();
        let number_ok = |n: &&str| {
            !n.is_empty()
                && n.len() <= 16
                && n.chars().all(|c| c.is_ascii_digit())
                && (n.len() == 1 || !n.starts_with('0'))
        };
        let pre_ok = pre.is_none_or(|p| {
            !p.is_empty()
                && p.split('.').all(|id| {
                    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        });
        if numbers.len() != 3 || !numbers.iter().all(number_ok) || !pre_ok {
            return bad("not an exact version");
        }
        Ok(Spec { name: name.into(), version: version.into() })
    }
}

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
            let Ok(npm) = Spec::parse(spec) else { return true };
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
fn manifest(service: &str, specs: &[Spec]) -> String {
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
    let parsed = specs.iter().map(|s| Spec::parse(s)).collect::<Result<Vec<_>, _>>()?;
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
        let specs = [Spec::parse("@scope/a@1.2.3").unwrap(), Spec::parse("b@0.0.1-rc.1").unwrap()];
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
