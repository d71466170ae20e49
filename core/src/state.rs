//! The state folder: added plugins, their grants, each service's options.
//!
//! ```text
//! STATE/                      0700
//!   lock                      held (flock) by any command that changes state
//!   audit.log                 0600, append-only
//!   cache/<sha256>-<engine>.cwasm
//!   plugins/<name>/plugin.wasm, plugin.json (manifest + hash), grant.json
//!   services/<name>/state.json   0600: option values (secrets too), keys,
//!                               enabled, and the journal of enable/disable
//! ```
//! Every file is replaced atomically (see `fsutil::write_atomic`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::audit::AuditLog;
use crate::bindings::tails::server::types::{OptionValue, ServiceInfo, ServiceUnit, UnitSpec};
use crate::broker::caps::Capability;
use crate::fsutil;

/// An added plugin, as recorded at `plugin add`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginRecord {
    pub sha256: String,
    pub contract: String,
    /// The publisher's ed25519 public key (hex) when the build is signed: an
    /// upgrade must come from the same one.
    #[serde(default)]
    pub publisher: Option<String>,
    /// Whether these are the very bytes the installed Tails Server ships
    /// under this name (see [`crate::plugins::Origin`]); `None` in records
    /// written before it was recorded.
    #[serde(default)]
    pub first_party: Option<bool>,
    /// The plugin's own description of itself, taken once at add.
    #[serde(deserialize_with = "info_of_any_release")]
    pub info: ServiceInfo,
}

/// A description recorded by a release before contract 0.4 has no
/// `login_shell` in a unit the host writes: none was asked for.
fn info_of_any_release<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<ServiceInfo, D::Error> {
    let mut info = serde_json::Value::deserialize(d)?;
    if let Some(spec) = info.pointer_mut("/unit/HostWritten").and_then(|s| s.as_object_mut()) {
        spec.entry("login_shell").or_insert(false.into());
    }
    serde_json::from_value(info).map_err(serde::de::Error::custom)
}

impl PluginRecord {
    /// Everything the plugin asks for, as capabilities.
    pub fn requested(&self) -> BTreeSet<Capability> {
        requested(&self.info)
    }
}

/// A host-written unit as its grant records it: its spec as JSON, without
/// `login_shell` when it asks for no login account, so that what a user
/// granted before contract 0.4 (which had no such field) still matches.
fn granted_unit_spec(spec: &UnitSpec) -> String {
    let json = serde_json::to_string(spec).expect("a unit spec serializes");
    // Fields in the record's order: login_shell is the last.
    match json.strip_suffix(",\"login_shell\":false}") {
        Some(before) => format!("{before}}}"),
        None => json,
    }
}

pub fn requested(info: &ServiceInfo) -> BTreeSet<Capability> {
    let caps = &info.capabilities;
    let packages = caps.packages.iter().map(|name| Capability::Package { name: name.clone() });
    let npm = caps.npm_packages.iter().map(|spec| Capability::NpmPackage { spec: spec.clone() });
    let paths = caps.config_paths.iter().map(|path| Capability::ConfigPath { path: path.clone() });
    let ports =
        caps.ports.iter().map(|p| Capability::Port { port: p.port, protocol: p.protocol.into() });
    let unit = Capability::Unit {
        name: crate::broker::caps::units::unit_name(&info.name, &info.unit),
        spec: match &info.unit {
            ServiceUnit::Packaged(_) => String::new(),
            ServiceUnit::HostWritten(spec) => granted_unit_spec(spec),
        },
    };
    packages.chain(npm).chain(paths).chain(ports).chain(std::iter::once(unit)).collect()
}

/// What the user granted, bound to the exact build (hash) they said yes to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Grant {
    pub sha256: String,
    pub granted: BTreeSet<Capability>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServiceState {
    pub enabled: bool,
    /// Values the user set (or the host generated); missing ones take their default.
    pub options: BTreeMap<String, OptionValue>,
    /// The onion service's key (tor's ED25519-V3 blob, base64), made at the
    /// first enable and reused so that the address stays.
    #[serde(default)]
    pub onion_key: Option<String>,
    /// Authorized clients: name → x25519 private key (base32).
    #[serde(default)]
    pub clients: BTreeMap<String, String>,
    /// What enable and disable have done so far (see `engine`).
    #[serde(default)]
    pub journal: crate::journal::Journal,
}

pub struct StateDir {
    path: PathBuf,
}

/// Held while a command changes state; released on drop. A thread that
/// holds it may take it again (autostart, which holds it throughout, adds
/// the shipped plugin in place of an old one, which locks too): flock would
/// make that second take wait for the first forever. Other threads (the
/// daemon's jobs) and processes still wait their turn.
pub struct StateLock(Option<(File, PathBuf)>);

thread_local! {
    /// The state folders whose lock this thread holds.
    static HELD: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if let Some((_, path)) = &self.0 {
            HELD.with(|h| h.borrow_mut().retain(|p| p != path));
        }
    }
}

impl StateDir {
    pub fn new(path: PathBuf) -> Self {
        StateDir { path }
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.path.join("cache")
    }

    pub fn audit(&self) -> AuditLog {
        AuditLog::new(self.path.join("audit.log"))
    }

    /// Take the state lock, waiting for another tails-server command to finish.
    pub fn lock(&self) -> Result<StateLock> {
        if HELD.with(|h| h.borrow().contains(&self.path)) {
            return Ok(StateLock(None));
        }
        fsutil::open_private(&self.path)
            .with_context(|| format!("creating the state folder {}", self.path.display()))?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path.join("lock"))?;
        // SAFETY: flock on a file descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            crate::notice::say(crate::journal::Progress::Waiting {
                text: "Waiting for another tails-server command to finish…".into(),
            });
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                bail!(
                    "could not lock {}: {}",
                    self.path.join("lock").display(),
                    std::io::Error::last_os_error()
                );
            }
        }
        HELD.with(|h| h.borrow_mut().push(self.path.clone()));
        Ok(StateLock(Some((file, self.path.clone()))))
    }

    /// Tails Server's own tor, when it has to start one.
    pub fn own_tor_dir(&self) -> PathBuf {
        self.path.join("tor")
    }

    pub fn tor_settings(&self) -> Result<crate::tor::detect::TorSettings> {
        Ok(read_json(&self.path.join("tor.json"))?.unwrap_or_default())
    }

    pub fn save_tor_settings(&self, settings: &crate::tor::detect::TorSettings) -> Result<()> {
        write_json(&self.path.join("tor.json"), settings)
    }

    pub fn plugin_dir(&self, name: &str) -> PathBuf {
        self.path.join("plugins").join(name)
    }

    pub fn plugin_wasm(&self, name: &str) -> PathBuf {
        self.plugin_dir(name).join("plugin.wasm")
    }

    fn service_file(&self, name: &str) -> PathBuf {
        self.path.join("services").join(name).join("state.json")
    }

    /// Names of the added plugins, sorted.
    pub fn plugin_names(&self) -> Result<Vec<String>> {
        let dir = self.path.join("plugins");
        let mut names = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry?;
                    let name = entry.file_name().to_string_lossy().to_string();
                    if !name.starts_with('.') && entry.path().join("plugin.json").exists() {
                        names.push(name);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        }
        names.sort();
        Ok(names)
    }

    pub fn record(&self, name: &str) -> Result<Option<PluginRecord>> {
        read_json(&self.plugin_dir(name).join("plugin.json"))
    }

    pub fn grant(&self, name: &str) -> Result<Grant> {
        Ok(read_json(&self.plugin_dir(name).join("grant.json"))?.unwrap_or_default())
    }

    /// Store a plugin, its record and its grant. The files are written into a
    /// fresh folder which then replaces the old one, so that a crash leaves
    /// either the old plugin or the new one, never a mix.
    pub fn store_plugin(
        &self,
        name: &str,
        wasm: &[u8],
        record: &PluginRecord,
        grant: &Grant,
    ) -> Result<()> {
        let plugins = self.path.join("plugins");
        fsutil::open_private(&plugins)?;
        let staging = plugins.join(format!(".{name}.new"));
        let _ = std::fs::remove_dir_all(&staging);
        fsutil::write_state_file(&staging.join("plugin.wasm"), wasm)?;
        write_json(&staging.join("plugin.json"), record)?;
        write_json(&staging.join("grant.json"), grant)?;
        let target = self.plugin_dir(name);
        let old = plugins.join(format!(".{name}.old"));
        let _ = std::fs::remove_dir_all(&old);
        if target.exists() {
            std::fs::rename(&target, &old)?;
        }
        std::fs::rename(&staging, &target)?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }

    pub fn remove_plugin(&self, name: &str) -> Result<()> {
        let services = self.path.join("services").join(name);
        if services.exists() {
            std::fs::remove_dir_all(&services)
                .with_context(|| format!("removing {}", services.display()))?;
        }
        let dir = self.plugin_dir(name);
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))
    }

    pub fn service(&self, name: &str) -> Result<ServiceState> {
        Ok(read_json(&self.service_file(name))?.unwrap_or_default())
    }

    pub fn save_service(&self, name: &str, state: &ServiceState) -> Result<()> {
        write_json(&self.service_file(name), state)
    }
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is damaged", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    fsutil::write_state_file(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether another open of the lock file could take it now.
    fn free(dir: &Path) -> bool {
        let file = File::options().write(true).open(dir.join("lock")).unwrap();
        // SAFETY: flock on a file descriptor we own (closed on return).
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }

    /// The thread holding the lock takes it again without waiting for
    /// itself; only the outer take's end frees it; another thread's take
    /// (here: another open file, as flock sees another command) waits.
    #[test]
    fn a_thread_holding_the_lock_takes_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        let outer = state.lock().unwrap();
        let inner = state.lock().unwrap();
        drop(inner);
        let path = dir.path().join("state");
        assert!(
            !std::thread::spawn(move || free(&path)).join().unwrap(),
            "still held after the inner take ends"
        );
        drop(outer);
        assert!(free(&dir.path().join("state")), "freed with the outer take");
        let again = state.lock().unwrap();
        let path = dir.path().join("state");
        assert!(!std::thread::spawn(move || free(&path)).join().unwrap(), "taken for real again");
        drop(again);
    }

    /// A plugin.json written before contract 0.4 (no `login_shell`) still
    /// loads, with no login account.
    #[test]
    fn records_from_before_0_4_load() {
        let spec = UnitSpec {
            program: "/usr/bin/infinoted-0.7".into(),
            arguments: vec![],
            environment: vec![],
            working_folder: None,
            user: None,
            data_folders: vec!["/var/lib/gobby/".into()],
            setup_commands: vec![],
            login_shell: true,
        };
        let info = crate::broker::caps::units::tests::info_of("gobby", spec);
        let record = PluginRecord {
            sha256: String::new(),
            contract: "0.3.0".into(),
            publisher: None,
            first_party: Some(false),
            info,
        };
        let mut json = serde_json::to_value(&record).unwrap();
        let unit = json
            .pointer_mut("/info/unit/HostWritten")
            .expect("the unit as serde writes it")
            .as_object_mut()
            .unwrap();
        assert!(unit.remove("login_shell").is_some());
        let old: PluginRecord = serde_json::from_value(json).unwrap();
        assert!(matches!(
            old.info.unit,
            ServiceUnit::HostWritten(UnitSpec { login_shell: false, .. })
        ));
        // What its user granted then (the spec as 0.3's JSON) is what it asks for now.
        let ServiceUnit::HostWritten(spec) = &old.info.unit else { unreachable!() };
        let granted_then = r#"{"program":"/usr/bin/infinoted-0.7","arguments":[],"environment":[],"working_folder":null,"user":null,"data_folders":["/var/lib/gobby/"],"setup_commands":[]}"#;
        assert_eq!(granted_unit_spec(spec), granted_then);
        assert!(granted_unit_spec(&UnitSpec { login_shell: true, ..spec.clone() })
            .contains("\"login_shell\":true"));
    }
}
