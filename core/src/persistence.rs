//! Persistent Storage: what survives a reboot for a service whose
//! `persistence` option is on.
//!
//! On Tails the state folder is in RAM; the persistent folder is
//! `/live/persistence/TailsData_unlocked/tails-server` (elsewhere a folder the
//! user chooses with `--persistent-dir`). It has the state folder's shape, so
//! the same code reads and writes both:
//!
//! ```text
//! PERSIST/plugins/<name>/…          the plugin, its record and grant
//! PERSIST/services/<name>/state.json options, onion key, client keys (0600)
//! PERSIST/files/<name>/<path>       the service's persistent paths
//! ```
//! On the running system a persistent folder (a path ending in `/`) is
//! bind-mounted from PERSIST into place, so the service writes straight to
//! Persistent Storage and a power cut loses nothing; `tails-server autostart`
//! mounts them again at boot. A single file (a config file the plugin
//! rewrites atomically, which a mount would refuse) is copied: into PERSIST
//! at enable and disable, back into place at boot. Under `--root DIR` folders
//! are copied too.
//!
//! On Tails, what Tails Server keeps is a Persistent Storage feature a person
//! sees in Tails' Persistent Storage settings (a custom feature): a line of
//! `persistence.conf`, in tps's format, `DEST source=tails-server`. Written
//! when the first service is kept, removed when the last one is forgotten.
//! Without it at boot (the person turned it off) autostart brings nothing
//! back, so that no service comes up with a new address or empty data, and
//! says so; nothing is deleted. `PERSIST/format` says which layout wrote the
//! folder: a newer one is refused before anything is read.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tails_server_types::{Hinted, Next};

use anyhow::{Context as _, Result};

use crate::bindings::tails::server::types::{OptionValue, ServiceInfo};
use crate::broker::caps::units;
use crate::fsutil;
use crate::options;
use crate::state::{Grant, PluginRecord, ServiceState, StateDir};
use crate::system::mounts;

/// What Persistent Storage needs of the system it runs on: the state it
/// keeps copies of, the root the services' places are under, and whether that
/// is the running system (`/`: folders are bind-mounted, packages may be
/// missing until Additional Software installs them). Plain values, so that
/// persistence never needs the core's context.
pub struct Machine<'a> {
    pub state: &'a StateDir,
    pub root: &'a Path,
}

impl Machine<'_> {
    pub fn live(&self) -> bool {
        self.root == Path::new("/")
    }
}

/// A service as Persistent Storage keeps it.
#[derive(Clone, Copy)]
pub struct Kept<'a> {
    pub name: &'a str,
    pub record: &'a PluginRecord,
    pub grant: &'a Grant,
    pub state: &'a ServiceState,
}

/// Where Tails mounts the unlocked Persistent Storage.
pub const TAILS_PERSISTENCE: &str = "/live/persistence/TailsData_unlocked";
/// Additional Software's list of packages to install at each boot.
const ADDITIONAL_SOFTWARE: &str = "live-additional-software.conf";
/// Tails' list of Persistent Storage features, one binding per line.
const PERSISTENCE_CONF: &str = "persistence.conf";
/// Our feature's folder in TailsData_unlocked (`source=`), and where Tails
/// mounts it when it activates the feature (the first field). Tails Server
/// reads the source folder itself; the mount is Tails' own view of it.
const FEATURE_SOURCE: &str = "tails-server";
const FEATURE_DEST: &str = "/var/lib/tails-server/persistent";
/// The layout of the persistent folder (the module comment's), in
/// `PERSIST/format`; an absent file is this layout from before it existed.
pub const FORMAT: u32 = 1;
const FORMAT_FILE: &str = "format";

pub struct Persistence {
    /// Our folder inside the persistent storage.
    pub dir: PathBuf,
    /// The Tails Persistent Storage it lives in, if it is Tails'.
    tails: Option<PathBuf>,
}

impl Persistence {
    /// The configured folder, else Tails' Persistent Storage when unlocked.
    pub fn locate(configured: Option<&Path>, root: &Path) -> Option<Persistence> {
        if let Some(dir) = configured {
            return Some(Persistence { dir: dir.to_path_buf(), tails: None });
        }
        let tails = fsutil::under_root(root, TAILS_PERSISTENCE);
        tails.is_dir().then(|| Persistence { dir: tails.join("tails-server"), tails: Some(tails) })
    }

    fn store(&self) -> StateDir {
        StateDir::new(self.dir.clone())
    }

    /// Refuse a folder written by a newer Tails Server, before reading or
    /// writing anything in it.
    fn check_format(&self) -> Result<()> {
        let path = self.dir.join(FORMAT_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
        match text.trim().parse::<u32>() {
            Ok(n) if n <= FORMAT => Ok(()),
            _ => anyhow::bail!(
                "{} was written by a newer Tails Server (its format is `{}`; this one reads format {FORMAT} and older): \
                 nothing in it was read or changed. Install the newer Tails Server again (Additional Software keeps it \
                 when it is in its list), or move the folder away to start afresh",
                self.dir.display(),
                crate::display::line(&text.trim().chars().take(40).collect::<String>())
            ),
        }
    }

    /// Tails' persistence.conf, when this folder is Tails' Persistent Storage.
    fn persistence_conf(&self) -> Option<PathBuf> {
        self.tails.as_ref().map(|t| t.join(PERSISTENCE_CONF))
    }

    /// On Tails, whether persistence.conf names our feature (as tps parses a
    /// line: whitespace-separated DEST and options, one of them our source).
    pub fn feature_on(&self) -> Result<bool> {
        let Some(conf) = self.persistence_conf() else { return Ok(true) };
        Ok(read_or_empty(&conf)?.lines().any(is_our_feature))
    }

    /// Add or remove our feature's line, keeping every other line (and the
    /// file's owner and 0600 mode, which tps checks) as they are.
    pub fn set_feature(&self, on: bool) -> Result<()> {
        let Some(conf) = self.persistence_conf() else { return Ok(()) };
        let ours = if on { vec![feature_line()] } else { vec![] };
        edit_lines(&conf, is_our_feature, &ours, 0o600)
    }

    /// What autostart says, and does not do, when services are kept but our
    /// feature is off; `None` when there is nothing to say.
    pub fn feature_missing(&self, names: &[String]) -> Result<Option<Hinted>> {
        if names.is_empty() || self.feature_on()? {
            return Ok(None);
        }
        let said = format!(
            "Tails Server's Persistent Storage feature is off ({} has no line `{}`), so the services kept in {} ({}) \
             were not brought back or started: they would have come up with new addresses and empty data. Nothing \
             was deleted. To turn the feature on again and start them, run {{next}}; \
             to give them up, delete {}",
            self.persistence_conf().unwrap_or_default().display(),
            feature_line(),
            self.dir.display(),
            names.join(", "),
            self.dir.display()
        );
        Ok(Some(Hinted::new(said, [Next::FeatureOn])))
    }

    fn files(&self, name: &str) -> PathBuf {
        self.dir.join("files").join(name)
    }

    /// Keep the service in Persistent Storage: its plugin, its state (as a
    /// service that is not running), its persistent paths, and its packages
    /// in Additional Software's list.
    pub fn save(&self, on: &Machine, service: Kept) -> Result<()> {
        self.check_format()?;
        fsutil::open_private(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        fsutil::write_path_atomic(
            &self.dir.join(FORMAT_FILE),
            format!("{FORMAT}\n").as_bytes(),
            fsutil::Mode::Private,
        )?;
        self.set_feature(true)?;
        let store = self.store();
        let wasm = std::fs::read(on.state.plugin_wasm(service.name))?;
        store.store_plugin(service.name, &wasm, service.record, service.grant)?;
        self.save_state(service.name, service.state)?;
        let info = &service.record.info;
        for path in info.persistent_paths.iter().filter(|p| !mounted(on, p)) {
            let from = fsutil::under_root(on.root, units::system_place(info, path));
            if from.exists() {
                copy_tree(&from, &self.kept_path(service.name, path))?;
            }
        }
        self.attach(on, service.name, info)?;
        if let Some(tails) = &self.tails {
            additional_software(tails, &service.record.info.capabilities.packages, &[])?;
        }
        Ok(())
    }

    /// Keep the service's options and keys (not what runs now: after a reboot
    /// nothing does).
    pub fn save_state(&self, name: &str, state: &ServiceState) -> Result<()> {
        let mut kept = state.clone();
        kept.enabled = false;
        kept.journal = Default::default();
        self.store().save_service(name, &kept)
    }

    /// The kept copy of one of the service's persistent paths.
    fn kept_path(&self, name: &str, path: &str) -> PathBuf {
        fsutil::under_root(&self.files(name), path)
    }

    /// On the running system, bind-mount each kept persistent folder into
    /// place (the first time, what is there now becomes the kept copy).
    ///
    /// A kept folder whose place is not there while one of the service's
    /// packages is not installed waits for its package (see
    /// [`Persistence::place`]): bound now, the package would install into it
    /// with the numbers its accounts had on the release that kept it.
    pub fn attach(&self, on: &Machine, name: &str, info: &ServiceInfo) -> Result<()> {
        let waiting = on.live()
            && !crate::system::packages::missing(on.root, &info.capabilities.packages)?.is_empty();
        for path in info.persistent_paths.iter().filter(|p| mounted(on, p)) {
            let place = units::system_place(info, path);
            let (kept, target) = (self.kept_path(name, path), fsutil::under_root(on.root, &place));
            if mounts::is_bound(&kept, &target) || (waiting && kept.exists() && !target.exists()) {
                continue;
            }
            if let Some(private) = units::private_state_folder(&place) {
                // systemd's own folder for its dynamic users' data: root's, 0700.
                let private = fsutil::under_root(on.root, private);
                std::fs::create_dir_all(&private)?;
                std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))?;
            }
            if !kept.exists() {
                if target.exists() {
                    copy_tree(&target, &kept)?;
                } else {
                    std::fs::create_dir_all(&kept)?;
                }
            } else if target.exists() {
                follow_owner(&kept, &target).with_context(|| {
                    format!("giving {} to {}'s owner", kept.display(), target.display())
                })?;
            }
            std::fs::create_dir_all(&target)?;
            mounts::bind(&kept, &target).with_context(|| {
                format!("bind-mounting {} on {}", kept.display(), target.display())
            })?;
        }
        Ok(())
    }

    /// Undo [`Persistence::attach`]: take the mounts off and put a copy of
    /// the kept folders in their place, so the service keeps its data (in RAM,
    /// on Tails) once Persistent Storage no longer holds it.
    fn detach(&self, root: &Path, name: &str, info: &ServiceInfo) -> Result<()> {
        for path in info.persistent_paths.iter().filter(|p| is_folder(p)) {
            let (kept, target) = (
                self.kept_path(name, path),
                fsutil::under_root(root, units::system_place(info, path)),
            );
            if !mounts::is_bound(&kept, &target) {
                continue;
            }
            mounts::unbind(&target).with_context(|| format!("unmounting {}", target.display()))?;
            // Under the mount is the folder as it was when it was first kept.
            for entry in std::fs::read_dir(&target)? {
                let entry = entry?.path();
                if entry.is_dir() && !entry.is_symlink() {
                    std::fs::remove_dir_all(&entry)
                } else {
                    std::fs::remove_file(&entry)
                }
                .with_context(|| format!("clearing {}", entry.display()))?;
            }
            copy_tree(&kept, &target)?;
        }
        Ok(())
    }

    /// Delete everything kept for the service (its persistent folders are
    /// copied back into place first); its packages leave Additional
    /// Software's list unless another kept service needs them.
    pub fn forget(&self, root: &Path, name: &str, packages: &[String]) -> Result<()> {
        self.check_format()?;
        let store = self.store();
        let record = store.record(name)?;
        if let Some(record) = &record {
            self.detach(root, name, &record.info)?;
        }
        let still_needed = self.packages_except(Some(name))?;
        if record.is_some() {
            store.remove_plugin(name)?;
        }
        let files = self.files(name);
        if files.exists() {
            std::fs::remove_dir_all(&files)
                .with_context(|| format!("removing {}", files.display()))?;
        }
        if let Some(tails) = &self.tails {
            let unneeded: Vec<String> =
                packages.iter().filter(|p| !still_needed.contains(p)).cloned().collect();
            additional_software(tails, &[], &unneeded)?;
        }
        if self.names()?.is_empty() {
            self.set_feature(false)?;
        }
        Ok(())
    }

    /// The packages the kept services' plugins ask for, but `except`'s.
    fn packages_except(&self, except: Option<&str>) -> Result<Vec<String>> {
        let mut needed = Vec::new();
        for other in self.names()?.into_iter().filter(|n| Some(n.as_str()) != except) {
            if let Some(record) = self.store().record(&other)? {
                needed.extend(record.info.capabilities.packages);
            }
        }
        Ok(needed)
    }

    /// The service's plugin was replaced (`plugins::follow_shipped`): keep
    /// the new one, and list in Additional Software the packages it asks for
    /// in place of those only `old` asked for (a Tails 6 wiki's php8.2-cgi,
    /// which Debian 13 does not have and Additional Software would fail to
    /// install at every boot).
    pub fn replaced(
        &self,
        on: &Machine,
        name: &str,
        old: &crate::state::PluginRecord,
    ) -> Result<()> {
        self.check_format()?;
        let record = on.state.record(name)?.with_context(|| format!("{name} has no plugin"))?;
        let wasm = std::fs::read(on.state.plugin_wasm(name))?;
        self.store().store_plugin(name, &wasm, &record, &on.state.grant(name)?)?;
        if let Some(tails) = &self.tails {
            let needed = self.packages_except(None)?;
            let unneeded: Vec<String> = old
                .info
                .capabilities
                .packages
                .iter()
                .filter(|p| !needed.contains(p))
                .cloned()
                .collect();
            additional_software(tails, &record.info.capabilities.packages, &unneeded)?;
        }
        Ok(())
    }

    /// A kept service's record (its plugin's description and grant).
    pub fn record(&self, name: &str) -> Result<Option<crate::state::PluginRecord>> {
        self.store().record(name)
    }

    /// Services kept in Persistent Storage.
    pub fn names(&self) -> Result<Vec<String>> {
        self.check_format()?;
        self.store().plugin_names()
    }

    /// Bring a kept service back: plugin and state into the state folder,
    /// persistent paths into place.
    pub fn restore(&self, on: &Machine, name: &str) -> Result<()> {
        let store = self.store();
        let (Some(record), grant) = (store.record(name)?, store.grant(name)?) else {
            return Ok(());
        };
        let wasm = std::fs::read(store.plugin_wasm(name))?;
        on.state.store_plugin(name, &wasm, &record, &grant)?;
        on.state.save_service(name, &store.service(name)?)?;
        self.place(on, name, &record.info)
    }

    /// Put the kept copies of the service's persistent paths in place: files
    /// copied (where the place differs), folders bind-mounted. At boot, and
    /// again once enable has installed its packages.
    ///
    /// The package's own file says its accounts' numbers here (a Tails 6
    /// prosody.cfg.lua's group is another account on Tails 7), so a kept copy
    /// whose place is not there while a package of the service is not
    /// installed (Additional Software may not have installed it yet) waits
    /// for it, instead of taking the old numbers.
    pub fn place(&self, on: &Machine, name: &str, info: &ServiceInfo) -> Result<()> {
        let waiting = on.live()
            && !crate::system::packages::missing(on.root, &info.capabilities.packages)?.is_empty();
        for path in info.persistent_paths.iter().filter(|p| !mounted(on, p)) {
            let kept = self.kept_path(name, path);
            let place = fsutil::under_root(on.root, units::system_place(info, path));
            if !kept.exists() || (waiting && !place.exists()) || same_file(&kept, &place) {
                continue;
            }
            if place.exists() {
                follow_owner(&kept, &place).with_context(|| {
                    format!("giving {} to {}'s owner", kept.display(), place.display())
                })?;
            }
            copy_tree(&kept, &place)?;
        }
        self.attach(on, name, info)
    }
}

/// Our line of persistence.conf, as tps writes a binding (DEST, a tab, options).
fn feature_line() -> String {
    format!("{FEATURE_DEST}\tsource={FEATURE_SOURCE}")
}

/// Whether a line of persistence.conf is a binding of our source folder.
fn is_our_feature(line: &str) -> bool {
    let line = line.split('#').next().unwrap_or("");
    let mut words = line.split_whitespace();
    let (Some(_dest), Some(options), None) = (words.next(), words.next(), words.next()) else {
        return false;
    };
    options.split(',').any(|o| o == format!("source={FEATURE_SOURCE}"))
}

/// A persistent path ending in `/` is a folder.
fn is_folder(path: &str) -> bool {
    path.ends_with('/')
}

/// The one rule for how a persistent path is kept: a folder on the running
/// system is bind-mounted; a file, or anything under `--root`, is copied.
fn mounted(on: &Machine, path: &str) -> bool {
    on.live() && is_folder(path)
}

/// Whether the service's `persistence` option is on.
pub fn wanted(state: &ServiceState) -> bool {
    state.options.get(options::PERSISTENCE) == Some(&OptionValue::Boolean(true))
}

/// Add and remove packages in Additional Software's list, keeping its other
/// lines (and comments) as they are.
fn additional_software(tails: &Path, add: &[String], remove: &[String]) -> Result<()> {
    edit_lines(
        &tails.join(ADDITIONAL_SOFTWARE),
        |l| remove.iter().any(|r| r == l.trim()),
        add,
        0o644,
    )
}

/// Rewrite one of Tails' line files: drop the lines `drop` says, append each
/// of `add` not already there, keep every other line (and the file's owner
/// and mode; a new file gets `mode`). A file that cannot be read is an
/// error, never taken for an empty one: Tails' own lines would be lost.
fn edit_lines(path: &Path, drop: impl Fn(&str) -> bool, add: &[String], mode: u32) -> Result<()> {
    let old = read_or_empty(path)?;
    let mut lines: Vec<&str> = old.lines().filter(|l| !drop(l)).collect();
    for line in add {
        if !lines.iter().any(|l| l.trim() == line) {
            lines.push(line);
        }
    }
    let mut new = lines.join("\n");
    if !new.is_empty() {
        new.push('\n');
    }
    if new != old {
        fsutil::write_path_atomic(path, new.as_bytes(), fsutil::Mode::KeepOr(mode))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A file's text, or nothing when there is no such file.
fn read_or_empty(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// A folder kept on another release (Tails 6) belongs to the numbers its
/// package's account had there; the account may have another number here
/// (a package's system account is numbered when it is installed), which the
/// package's own file or folder, `place`, says. The kept files of the old
/// owner are given to the new one, and those of the old group to the new
/// group, each on its own (a configuration file is often root's, readable
/// by its service's group: `root:prosody`); others are left as they are,
/// links not followed. A number is not mapped when the two agree, or when
/// either is root's (what the package leaves to root is no account's to take).
fn follow_owner(kept: &Path, place: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (was, now) = (std::fs::symlink_metadata(kept)?, std::fs::metadata(place)?);
    let map = |from: u32, to: u32| (from != to && from != 0 && to != 0).then_some((from, to));
    let (uid, gid) = (map(was.uid(), now.uid()), map(was.gid(), now.gid()));
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    fn walk(path: &Path, uid_map: Option<(u32, u32)>, gid_map: Option<(u32, u32)>) -> Result<()> {
        let meta = std::fs::symlink_metadata(path)?;
        let follow = |id: u32, map: Option<(u32, u32)>| match map {
            Some((from, to)) if id == from => to,
            _ => id,
        };
        let (uid, gid) = (follow(meta.uid(), uid_map), follow(meta.gid(), gid_map));
        if (uid, gid) != (meta.uid(), meta.gid()) {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid))
                .with_context(|| format!("chown {}", path.display()))?;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(path)? {
                walk(&entry?.path(), uid_map, gid_map)?;
            }
        }
        Ok(())
    }
    walk(kept, uid, gid)
}

/// Whether two plain files hold the same bytes, owner and mode (then the
/// kept copy is already in place).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(x), Ok(y)) if x.is_file() && y.is_file() => {
            (x.uid(), x.gid(), x.mode()) == (y.uid(), y.gid(), y.mode())
                && std::fs::read(a).ok() == std::fs::read(b).ok()
        }
        _ => false,
    }
}

/// Copy a file or a folder (recursively), keeping modes and owners, never
/// following a link (see [`fsutil::copy_tree_nofollow`]).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fsutil::copy_tree_nofollow(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn additional_software_list_keeps_other_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ADDITIONAL_SOFTWARE), "# mine\nvim\n").unwrap();
        additional_software(dir.path(), &["mumble-server".into(), "vim".into()], &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(ADDITIONAL_SOFTWARE)).unwrap(),
            "# mine\nvim\nmumble-server\n"
        );
        additional_software(dir.path(), &[], &["mumble-server".into()]).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(ADDITIONAL_SOFTWARE)).unwrap(),
            "# mine\nvim\n"
        );
    }

    /// The feature's line is added once, beside Tails' own lines, with
    /// the file's mode kept; removing it leaves the others as they were.
    #[test]
    fn our_feature_line_in_persistence_conf() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join(PERSISTENCE_CONF);
        let tails_own =
            "/home/amnesia/Persistent\tsource=Persistent\n/var/lib/apt/lists\tsource=apt/lists\n";
        std::fs::write(&conf, tails_own).unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
        let p = Persistence {
            dir: dir.path().join("tails-server"),
            tails: Some(dir.path().to_path_buf()),
        };
        assert!(!p.feature_on().unwrap());
        p.set_feature(true).unwrap();
        p.set_feature(true).unwrap();
        assert_eq!(
            std::fs::read_to_string(&conf).unwrap(),
            format!("{tails_own}/var/lib/tails-server/persistent\tsource=tails-server\n")
        );
        assert_eq!(
            std::fs::metadata(&conf).unwrap().mode() & 0o777,
            0o600,
            "tps refuses any other mode"
        );
        assert!(p.feature_on().unwrap());
        p.set_feature(false).unwrap();
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), tails_own);
        // Written by hand with spaces and another DEST: still ours.
        assert!(is_our_feature("/elsewhere  source=tails-server"));
        assert!(!is_our_feature("/x source=tails-server-old"));
        assert!(!is_our_feature("# /x source=tails-server"));
    }

    /// A folder written by a newer layout is refused before anything in it
    /// is read, and the message says which and what to do.
    #[test]
    fn a_newer_format_is_refused_not_half_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = Persistence { dir: dir.path().to_path_buf(), tails: None };
        assert!(p.names().unwrap().is_empty(), "no format file: today's layout");
        std::fs::write(dir.path().join(FORMAT_FILE), "2\n").unwrap();
        let e = format!("{:#}", p.names().unwrap_err());
        assert!(
            e.contains(
                "written by a newer Tails Server (its format is `2`; this one reads format 1"
            ),
            "{e}"
        );
        assert!(e.contains("nothing in it was read or changed"), "{e}");
        std::fs::write(dir.path().join(FORMAT_FILE), "\u{1b}[2J junk").unwrap();
        let e = format!("{:#}", p.names().unwrap_err());
        assert!(!e.contains('\u{1b}'), "shown escaped: {e}");
    }

    /// A kept folder of an account numbered differently on the release it
    /// was kept on is given to the account's number here; another owner's
    /// file in it, and a link's target, are not.
    #[test]
    fn a_kept_folder_follows_its_accounts_new_number() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: chown needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (kept, place, outside) =
            (dir.path().join("kept"), dir.path().join("place"), dir.path().join("outside"));
        std::fs::create_dir_all(kept.join("sub")).unwrap();
        std::fs::create_dir_all(&place).unwrap();
        std::fs::write(kept.join("sub/db"), "").unwrap();
        std::fs::write(kept.join("other"), "").unwrap();
        std::fs::write(&outside, "").unwrap();
        std::os::unix::fs::symlink(&outside, kept.join("link")).unwrap();
        for path in [&kept, &kept.join("sub"), &kept.join("sub/db"), &outside] {
            std::os::unix::fs::lchown(path, Some(60104), Some(60107)).unwrap();
        }
        std::os::unix::fs::lchown(kept.join("link"), Some(60104), Some(60107)).unwrap();
        std::os::unix::fs::lchown(kept.join("other"), Some(60001), Some(60107)).unwrap();
        std::os::unix::fs::chown(&place, Some(60204), Some(60207)).unwrap();
        follow_owner(&kept, &place).unwrap();
        let owner = |p: &Path| {
            let m = std::fs::symlink_metadata(p).unwrap();
            (m.uid(), m.gid())
        };
        assert_eq!(owner(&kept), (60204, 60207));
        assert_eq!(owner(&kept.join("sub/db")), (60204, 60207));
        assert_eq!(owner(&kept.join("link")), (60204, 60207), "the link itself");
        assert_eq!(owner(&outside), (60104, 60107), "not what it points at");
        assert_eq!(
            owner(&kept.join("other")),
            (60001, 60207),
            "another owner's file keeps its owner"
        );
        // A package folder left to root takes nothing.
        std::os::unix::fs::chown(&place, Some(0), Some(0)).unwrap();
        follow_owner(&kept, &place).unwrap();
        assert_eq!(owner(&kept), (60204, 60207));
        // A configuration file of root's, readable by its service's group:
        // the group follows, root stays (Tails 6's root:prosody on Tails 7).
        let (conf, package_conf) = (dir.path().join("conf"), dir.path().join("package-conf"));
        std::fs::write(&conf, "").unwrap();
        std::fs::write(&package_conf, "").unwrap();
        std::os::unix::fs::chown(&conf, Some(0), Some(60107)).unwrap();
        std::os::unix::fs::chown(&package_conf, Some(0), Some(60207)).unwrap();
        follow_owner(&conf, &package_conf).unwrap();
        assert_eq!(owner(&conf), (0, 60207));
    }

    #[test]
    fn copies_a_tree_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/db"), "data").unwrap();
        std::fs::set_permissions(src.join("sub/db"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        copy_tree(&src, &dir.path().join("dst")).unwrap();
        let copied = dir.path().join("dst/sub/db");
        assert_eq!(std::fs::read_to_string(&copied).unwrap(), "data");
        assert_eq!(std::fs::metadata(&copied).unwrap().mode() & 0o777, 0o640);
    }
}
