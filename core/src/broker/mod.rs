//! The capability broker: the one place where a plugin's request meets the
//! system. Every import the plugin calls lands here; each request is checked
//! (declared AND granted, see [`caps::check`]) before anything is touched, and
//! every outcome is written to the audit log. A refusal writes nothing.

pub mod caps;

use std::collections::BTreeSet;
use std::path::PathBuf;

use caps::{Capability, Proto, Refusal, Request, SysPath};

use crate::audit::AuditLog;
use crate::fsutil::{self, Mode};
use crate::system::{npm, packages};

/// Largest config file a plugin may write or read back.
const MAX_CONFIG_BYTES: usize = 1 << 20;
/// What one `configure` may stage in all: files, and bytes.
const MAX_STAGED_FILES: usize = 128;
const MAX_STAGED_BYTES: usize = 8 << 20;
/// Audit lines one plugin call may write; past it, one summary line says how
/// many requests went unlogged (refusals still write nothing else).
pub const MAX_AUDIT_LINES_PER_CALL: usize = 64;
pub const MAX_AUDIT_LINES_BEFORE_CONSENT: usize = 4;

/// What a refused or failed request returns to the plugin (as the WIT `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerError {
    Denied(String),
    Invalid(String),
    Failed(String),
}

impl From<Refusal> for BrokerError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid(_) => BrokerError::Invalid(r.to_string()),
            Refusal::NotDeclared(_) | Refusal::NotGranted(_) => BrokerError::Denied(r.to_string()),
        }
    }
}

impl BrokerError {
    fn outcome(&self) -> &'static str {
        match self {
            BrokerError::Denied(_) => "denied",
            BrokerError::Invalid(_) => "invalid",
            BrokerError::Failed(_) => "failed",
        }
    }
    pub fn message(&self) -> &str {
        match self {
            BrokerError::Denied(m) | BrokerError::Invalid(m) | BrokerError::Failed(m) => m,
        }
    }
}

struct PendingWrite {
    path: SysPath,
    contents: String,
    secret: bool,
}

pub struct Broker {
    plugin: String,
    root: PathBuf,
    declared: BTreeSet<Capability>,
    granted: BTreeSet<Capability>,
    audit: AuditLog,
    /// Writes checked and waiting for [`Broker::commit`].
    pending: Vec<PendingWrite>,
    /// Ports the plugin asked to open during this session.
    pub ports: Vec<(u16, Proto)>,
    /// Audit lines written in the current call, and requests not logged.
    audited: usize,
    unlogged: usize,
    /// Lines a call may write: fewer before consent ([`Broker::deny_all`]).
    max_audit_lines: usize,
    /// The group that may read the secret files written (0640); none: root alone.
    secret_readers: Option<u32>,
}

impl Broker {
    pub fn new(
        plugin: &str,
        root: PathBuf,
        declared: BTreeSet<Capability>,
        granted: BTreeSet<Capability>,
        audit: AuditLog,
    ) -> Self {
        Broker {
            plugin: plugin.into(),
            root,
            declared,
            granted,
            audit,
            pending: Vec::new(),
            ports: Vec::new(),
            audited: 0,
            unlogged: 0,
            max_audit_lines: MAX_AUDIT_LINES_PER_CALL,
            secret_readers: None,
        }
    }

    /// The group that may read the secret files this plugin writes: the one
    /// its service runs as (see `units::secret_readers`); none for root alone.
    pub fn with_secret_readers(mut self, gid: Option<u32>) -> Self {
        self.secret_readers = gid;
        self
    }

    /// A broker that allows nothing, for calls made before anything is granted
    /// (`describe` at `plugin add`). Before consent a plugin may cause only a
    /// few KB to be kept: four audit lines a call (each at most about 1 KB)
    /// and the count of the rest.
    pub fn deny_all(plugin: &str, audit: AuditLog) -> Self {
        let mut broker = Self::new(
            plugin,
            PathBuf::from("/nonexistent"),
            BTreeSet::new(),
            BTreeSet::new(),
            audit,
        );
        broker.max_audit_lines = MAX_AUDIT_LINES_BEFORE_CONSENT;
        broker
    }

    fn log<T>(&mut self, action: &str, target: &str, result: &Result<T, BrokerError>) {
        if self.audited >= self.max_audit_lines {
            self.unlogged += 1;
            return;
        }
        self.audited += 1;
        let (outcome, reason) = match result {
            Ok(_) => ("allowed", ""),
            Err(e) => (e.outcome(), e.message()),
        };
        self.audit.record(&self.plugin, action, target, outcome, reason);
    }

    /// The end of one plugin call: say how many requests were not logged.
    pub fn end_call(&mut self) {
        if self.unlogged > 0 {
            let said = format!(
                "{} more requests in this call were not logged (at most {} a call)",
                self.unlogged, self.max_audit_lines
            );
            self.audit.record(&self.plugin, "unlogged", "", "summary", &said);
        }
        self.audited = 0;
        self.unlogged = 0;
    }

    fn check(&self, request: &Request) -> Result<(), BrokerError> {
        caps::check(&self.declared, &self.granted, request).map_err(BrokerError::from)
    }

    pub fn install_packages(&mut self, names: &[String]) -> Result<(), BrokerError> {
        let result = (|| {
            for name in names {
                caps::validate_package_name(name).map_err(BrokerError::Invalid)?;
                self.check(&Request::Package(name))?;
            }
            let missing = packages::missing(&self.root, names)
                .map_err(|e| BrokerError::Failed(format!("reading dpkg's status: {e}")))?;
            if missing.is_empty() {
                Ok(())
            } else {
                packages::install(&self.root, &missing).map_err(BrokerError::Failed)
            }
        })();
        self.log("install-packages", &names.join(" "), &result);
        result
    }

    /// Install npm packages (`NAME@VERSION`) into the service's own folder
    /// (the broker serves one service, named after its plugin).
    pub fn install_npm(&mut self, specs: &[String]) -> Result<(), BrokerError> {
        let service = self.plugin.clone();
        let result = (|| {
            for spec in specs {
                caps::NpmSpec::parse(spec).map_err(BrokerError::Invalid)?;
                self.check(&Request::NpmPackage(spec))?;
            }
            if npm::missing(&self.root, &service, specs).is_empty() {
                Ok(())
            } else {
                npm::install(&self.root, &service, specs).map_err(BrokerError::Failed)
            }
        })();
        self.log("install-npm", &specs.join(" "), &result);
        result
    }

    /// Check a write and stage it; nothing touches the disk until [`Broker::commit`],
    /// so a plugin that fails half-way through `configure` leaves no
    /// half-written configuration behind.
    pub fn write_config(
        &mut self,
        path: &str,
        contents: &str,
        secret: bool,
    ) -> Result<(), BrokerError> {
        let result = (|| {
            let path = SysPath::parse(path)?;
            self.check(&Request::Path(&path))?;
            if contents.len() > MAX_CONFIG_BYTES {
                return Err(BrokerError::Invalid(format!(
                    "config file is larger than {MAX_CONFIG_BYTES} bytes"
                )));
            }
            self.pending.retain(|w| w.path != path);
            let staged: usize = self.pending.iter().map(|w| w.contents.len()).sum();
            if self.pending.len() >= MAX_STAGED_FILES || staged + contents.len() > MAX_STAGED_BYTES
            {
                return Err(BrokerError::Invalid(format!(
                    "one configure may write at most {MAX_STAGED_FILES} files and {} MiB in all",
                    MAX_STAGED_BYTES >> 20
                )));
            }
            self.preflight(&path)?;
            self.pending.push(PendingWrite { path, contents: contents.to_string(), secret });
            Ok(())
        })();
        self.log("write-config", path, &result);
        result
    }

    /// Write every staged file (each atomically). Returns the paths written.
    pub fn commit(&mut self) -> Result<Vec<String>, BrokerError> {
        let mut written = Vec::new();
        for write in std::mem::take(&mut self.pending) {
            let result = (|| {
                let (parent, name) = self.open_parent(&write.path, true)?;
                let parent = parent.expect("created");
                let mode = if write.secret {
                    Mode::Secret { readers: self.secret_readers }
                } else {
                    Mode::KeepOr(0o644)
                };
                fsutil::write_atomic(&parent, name, write.contents.as_bytes(), mode)
                    .map_err(|e| failed(&write.path, e))
            })();
            self.log("commit-config", write.path.as_str(), &result);
            result?;
            written.push(write.path.as_str().to_string());
        }
        Ok(written)
    }

    /// Refuse now, not at commit, what the write would refuse then: a symbolic
    /// link or a non-file on the way.
    fn preflight(&self, path: &SysPath) -> Result<(), BrokerError> {
        let (parent, name) = self.open_parent(path, false)?;
        if let Some(parent) = parent {
            match parent.symlink_metadata(name) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(BrokerError::Denied(format!(
                        "{}: is a symbolic link; refusing to replace it",
                        path.as_str()
                    )))
                }
                Ok(meta) if !meta.is_file() => {
                    return Err(BrokerError::Invalid(format!(
                        "{}: exists and is not a regular file",
                        path.as_str()
                    )))
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn read_config(&mut self, path: &str) -> Result<Option<String>, BrokerError> {
        let result = (|| {
            let path = SysPath::parse(path)?;
            self.check(&Request::Path(&path))?;
            if let Some(staged) = self.pending.iter().find(|w| w.path == path) {
                return Ok(Some(staged.contents.clone()));
            }
            let (parent, name) = self.open_parent(&path, false)?;
            let Some(parent) = parent else { return Ok(None) };
            let bytes = fsutil::read_nofollow(&parent, name, MAX_CONFIG_BYTES as u64)
                .map_err(|e| failed(&path, e))?;
            bytes
                .map(|b| {
                    String::from_utf8(b).map_err(|_| {
                        BrokerError::Failed(format!("{} is not UTF-8 text", path.as_str()))
                    })
                })
                .transpose()
        })();
        self.log("read-config", path, &result);
        result
    }

    pub fn open_port(&mut self, port: u16, protocol: Proto) -> Result<(), BrokerError> {
        let result = self.check(&Request::Port(port, protocol));
        if result.is_ok() && !self.ports.contains(&(port, protocol)) {
            self.ports.push((port, protocol));
        }
        self.log("open-port", &format!("{port}/{protocol}"), &result);
        result
    }

    /// Open the folder holding `path` under the root, never following a
    /// symbolic link on the way, and return it with the file name.
    fn open_parent<'p>(
        &self,
        path: &'p SysPath,
        create: bool,
    ) -> Result<(Option<cap_std::fs::Dir>, &'p str), BrokerError> {
        let components: Vec<&str> = path.components().collect();
        let (name, folders) =
            components.split_last().expect("a SysPath has at least one component");
        let root = fsutil::open_ambient(&self.root).map_err(|e| failed(path, e))?;
        let parent = fsutil::descend_nofollow(&root, folders.iter().copied(), create)
            .map_err(|e| failed(path, e))?;
        Ok((parent, name))
    }
}

fn failed(path: &SysPath, e: std::io::Error) -> BrokerError {
    let message = format!("{}: {e}", path.as_str());
    match e.kind() {
        // A symbolic link on the way, or a place the host may not write.
        std::io::ErrorKind::PermissionDenied => BrokerError::Denied(message),
        _ => BrokerError::Failed(message),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A broker for `web` on a scratch root (real files, no system), its
    /// audit log beside it.
    fn broker(declared: &[&str], granted: &[&str]) -> (tempfile::TempDir, Broker) {
        let tmp = tempfile::tempdir().unwrap();
        let set = |list: &[&str]| list.iter().map(|c| c.parse().unwrap()).collect();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("etc/web")).unwrap();
        let audit = AuditLog::new(tmp.path().join("audit.log"));
        let broker = Broker::new("web", root, set(declared), set(granted), audit);
        (tmp, broker)
    }

    fn audit(tmp: &tempfile::TempDir) -> String {
        std::fs::read_to_string(tmp.path().join("audit.log")).unwrap_or_default()
    }

    #[test]
    fn a_write_is_refused_unless_declared_and_granted_and_nothing_is_written() {
        let (tmp, mut b) = broker(
            &["file:/etc/web/site.conf", "file:/etc/web/other.conf"],
            &["file:/etc/web/site.conf"],
        );
        let e = b.write_config("/etc/web/other.conf", "x", false).unwrap_err();
        assert!(e.message().contains("declared but not granted"), "{}", e.message());
        let e = b.write_config("/etc/passwd", "x", false).unwrap_err();
        assert!(e.message().contains("was not declared"), "{}", e.message());
        let e = b.write_config("/etc/web/../passwd", "x", false).unwrap_err();
        assert!(matches!(e, BrokerError::Invalid(_)), "{}", e.message());
        assert_eq!(b.commit().unwrap(), Vec::<String>::new());
        assert!(!tmp.path().join("root/etc/web/other.conf").exists());
        let log = audit(&tmp);
        assert_eq!(log.matches("outcome=denied").count(), 2, "{log}");
        assert_eq!(log.matches("outcome=invalid").count(), 1, "{log}");
    }

    #[test]
    fn writes_wait_for_commit_and_secrets_are_0600() {
        let (tmp, mut b) = broker(&["folder:/etc/web/"], &["folder:/etc/web/"]);
        b.write_config("/etc/web/site.conf", "first", false).unwrap();
        b.write_config("/etc/web/site.conf", "second", false).unwrap();
        b.write_config("/etc/web/key", "secret", true).unwrap();
        let site = tmp.path().join("root/etc/web/site.conf");
        assert!(!site.exists(), "written before commit");
        // What configure reads back is what it staged.
        assert_eq!(b.read_config("/etc/web/site.conf").unwrap().as_deref(), Some("second"));
        assert_eq!(b.commit().unwrap(), ["/etc/web/site.conf", "/etc/web/key"]);
        assert_eq!(std::fs::read_to_string(&site).unwrap(), "second");
        let key = std::fs::metadata(tmp.path().join("root/etc/web/key")).unwrap();
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_symbolic_link_in_place_is_refused_when_the_write_is_asked() {
        let (tmp, mut b) = broker(&["folder:/etc/web/"], &["folder:/etc/web/"]);
        let link = tmp.path().join("root/etc/web/site.conf");
        std::os::unix::fs::symlink("/etc/shadow", &link).unwrap();
        let e = b.write_config("/etc/web/site.conf", "x", false).unwrap_err();
        assert!(e.message().contains("symbolic link"), "{}", e.message());
        assert!(b.commit().unwrap().is_empty());
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    }

    #[test]
    fn what_one_configure_stages_is_bounded() {
        let (_tmp, mut b) = broker(&["folder:/etc/web/"], &["folder:/etc/web/"]);
        let big = "x".repeat(MAX_CONFIG_BYTES + 1);
        assert!(b.write_config("/etc/web/big", &big, false).is_err());
        for i in 0..MAX_STAGED_FILES {
            b.write_config(&format!("/etc/web/f{i}"), "x", false).unwrap();
        }
        let e = b.write_config("/etc/web/one-more", "x", false).unwrap_err();
        assert!(e.message().contains("at most"), "{}", e.message());
    }

    /// Before consent a plugin may cause only a few lines of audit log a
    /// call, and a count of the rest.
    #[test]
    fn before_consent_a_call_writes_a_few_audit_lines_and_a_count() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = Broker::deny_all("hostile", AuditLog::new(tmp.path().join("audit.log")));
        for i in 0..100 {
            assert!(b.write_config(&format!("/etc/x{i}"), "x", false).is_err());
            assert!(b.install_packages(&["bash".into()]).is_err());
        }
        b.end_call();
        let log = audit(&tmp);
        assert_eq!(log.lines().count(), MAX_AUDIT_LINES_BEFORE_CONSENT + 1, "{log}");
        assert!(log.contains("196 more requests in this call were not logged"), "{log}");
    }
}
