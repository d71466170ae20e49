//! Files and folders a plugin may declare: parsed strictly, inside the trees
//! services keep configuration and data in, out of the places root reads, and
//! (from dpkg's database) only what its own packages ship or own.

use super::Refusal;

/// An absolute, normalised system path: starts with `/`, no `.`, `..` or empty
/// components, no trailing `/`, no NUL or control characters. Paths the plugin
/// sends are parsed into this before any check, so that no spelling can reach
/// outside what a grant names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysPath(String);

impl SysPath {
    pub fn parse(raw: &str) -> Result<SysPath, Refusal> {
        let invalid = |why: &str| Err(Refusal::Invalid(format!("path {raw:?} {why}")));
        if raw.is_empty() {
            return invalid("is empty");
        }
        if raw.len() > 1024 {
            return invalid("is longer than 1024 bytes");
        }
        if !raw.starts_with('/') {
            return invalid("is not absolute");
        }
        if raw.chars().any(char::is_control) {
            return invalid("contains control characters");
        }
        if raw.ends_with('/') {
            return invalid("names a folder, not a file");
        }
        for component in raw[1..].split('/') {
            match component {
                "" => return invalid("contains an empty component (`//`)"),
                "." | ".." => return invalid("contains `.` or `..`"),
                _ => {}
            }
        }
        Ok(SysPath(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components after the leading `/`.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0[1..].split('/')
    }
}

/// System links that lead elsewhere (Debian 12's merged /usr, /var/run): a
/// declared path is compared with the places below as the link resolves, so
/// that `/var/run/tor/` is `/run/tor/` and `/sbin/x` is `/usr/sbin/x`.
const SYSTEM_LINKS: &[(&str, &str)] = &[
    ("/var/run", "/run"),
    ("/var/lock", "/run/lock"),
    ("/bin", "/usr/bin"),
    ("/sbin", "/usr/sbin"),
    ("/lib", "/usr/lib"),
    ("/lib32", "/usr/lib32"),
    ("/lib64", "/usr/lib64"),
    ("/libx32", "/usr/libx32"),
];

/// Where a plugin may write at all: service configuration and data. Anything
/// else (`/usr`, `/home`, `/root`, `/run`, `/tmp`, `/boot`, ...) is refused.
const WRITABLE_TREES: &[&str] =
    &["/etc", "/var/lib", "/var/www", "/var/cache", "/var/log", "/srv", "/opt"];

/// Places inside [`WRITABLE_TREES`] that no plugin may write: files there are
/// run or read by root (or the desktop user), decide what is installed, who
/// logs in and what the firewall and tor do, or belong to Tails Server itself.
const FORBIDDEN: &[(&str, &str)] = &[
    ("/etc/systemd", "systemd runs what its files say, as root"),
    ("/etc/init.d", "its scripts run as root"),
    ("/etc/init", "its files run as root"),
    ("/etc/rc.local", "it runs as root"),
    ("/etc/cron.d", "cron runs its files as root"),
    ("/etc/cron.hourly", "cron runs its files as root"),
    ("/etc/cron.daily", "cron runs its files as root"),
    ("/etc/cron.weekly", "cron runs its files as root"),
    ("/etc/cron.monthly", "cron runs its files as root"),
    ("/etc/crontab", "cron runs it as root"),
    ("/etc/anacrontab", "anacron runs it as root"),
    ("/etc/at.allow", "it decides who may run jobs"),
    ("/etc/at.deny", "it decides who may run jobs"),
    ("/etc/logrotate.d", "logrotate runs its scripts as root"),
    ("/etc/logrotate.conf", "logrotate runs its scripts as root"),
    ("/etc/profile", "login shells run it"),
    ("/etc/profile.d", "login shells run its files"),
    ("/etc/bash.bashrc", "shells run it"),
    ("/etc/bash_completion.d", "shells run its files"),
    ("/etc/zsh", "shells run its files"),
    ("/etc/environment", "every session reads it"),
    ("/etc/environment.d", "every session reads it"),
    ("/etc/skel", "new users get its files"),
    ("/etc/X11", "the desktop session runs its files"),
    ("/etc/xdg/autostart", "the desktop session starts what it names"),
    ("/etc/xdg/systemd", "systemd user sessions run what it names"),
    ("/etc/gdm3", "the login screen runs its files"),
    ("/etc/dconf", "it sets the desktop's settings"),
    ("/etc/apt", "it decides what apt installs and runs"),
    ("/etc/dpkg", "it decides what dpkg runs"),
    ("/var/lib/dpkg", "it is dpkg's database (its scripts run as root)"),
    ("/var/lib/apt", "it is apt's state"),
    ("/var/cache/apt", "apt installs the packages kept there"),
    ("/etc/ld.so.conf", "it decides which libraries programs load"),
    ("/etc/ld.so.conf.d", "it decides which libraries programs load"),
    ("/etc/ld.so.preload", "it loads a library into every program"),
    ("/etc/ld.so.cache", "it decides which libraries programs load"),
    ("/etc/sudoers", "it gives root to users"),
    ("/etc/sudo.conf", "sudo reads it as root (it can name the sudoers file)"),
    ("/etc/sudo_logsrvd.conf", "sudo reads it as root"),
    ("/etc/dhcp", "dhclient runs its hooks as root"),
    ("/etc/sudoers.d", "it gives root to users"),
    ("/etc/pam.d", "it decides who logs in"),
    ("/etc/security", "it decides who logs in"),
    ("/etc/login.defs", "it decides who logs in"),
    ("/etc/shadow", "it holds the passwords"),
    ("/etc/gshadow", "it holds the passwords"),
    ("/etc/passwd", "it defines the users"),
    ("/etc/group", "it defines the groups"),
    ("/etc/subuid", "it defines the users"),
    ("/etc/subgid", "it defines the groups"),
    ("/etc/shells", "it decides who logs in"),
    ("/etc/udev", "udev runs what its rules say, as root"),
    ("/etc/polkit-1", "it decides who may act as root"),
    ("/var/lib/polkit-1", "it decides who may act as root"),
    ("/etc/dbus-1", "it decides who may call system services"),
    ("/etc/modprobe.d", "it decides how the kernel loads modules"),
    ("/etc/modules", "it decides which kernel modules load"),
    ("/etc/modules-load.d", "it decides which kernel modules load"),
    ("/etc/sysctl.conf", "it sets the kernel's settings"),
    ("/etc/sysctl.d", "it sets the kernel's settings"),
    ("/etc/tmpfiles.d", "systemd acts on its files as root"),
    ("/etc/sysusers.d", "systemd acts on its files as root"),
    ("/etc/binfmt.d", "it decides how programs are run"),
    ("/etc/kernel", "its scripts run as root"),
    ("/etc/initramfs-tools", "its scripts run as root at boot"),
    ("/etc/grub.d", "its scripts run as root"),
    ("/etc/default", "init scripts run its files as root"),
    ("/etc/update-motd.d", "its scripts run as root"),
    ("/etc/apparmor", "it confines programs"),
    ("/etc/apparmor.d", "it confines programs"),
    ("/etc/alternatives", "it decides which program a command runs"),
    ("/etc/fstab", "it decides what is mounted"),
    ("/etc/crypttab", "it decides what is unlocked"),
    ("/etc/hosts", "it decides where names lead"),
    ("/etc/resolv.conf", "it decides where names lead"),
    ("/etc/nsswitch.conf", "it decides where names and users come from"),
    ("/etc/network", "its scripts run as root"),
    ("/etc/NetworkManager", "its scripts run as root"),
    ("/etc/ferm", "it is Tails' firewall"),
    ("/etc/nftables.conf", "it is the firewall"),
    ("/etc/iptables", "it is the firewall"),
    ("/etc/ssl", "it decides which certificates are trusted"),
    ("/etc/ca-certificates", "it decides which certificates are trusted"),
    ("/etc/ca-certificates.conf", "it decides which certificates are trusted"),
    ("/etc/gnupg", "it decides which keys are trusted"),
    ("/etc/ssh", "it is the system's SSH server and client"),
    ("/etc/gitconfig", "git runs what it says"),
    ("/etc/npmrc", "npm's configuration (where Tails Server installs from)"),
    ("/etc/python3", "Python runs its files"),
    ("/etc/python3.11", "Python runs its files"),
    ("/etc/python3.13", "Python runs its files"),
    ("/etc/perl", "Perl runs its files"),
    ("/etc/tor", "it is tor's configuration"),
    ("/var/lib/tor", "it is tor's state (onion keys)"),
    ("/etc/onion-grater.d", "it decides what may talk to tor"),
    (crate::places::CONFIG, "it is Tails Server's own"),
    (crate::places::STATE, "it is Tails Server's own state"),
    (crate::places::CACHE, "it is Tails Server's own (npm's cache)"),
    (crate::places::NPM, "Tails Server installs npm packages there"),
    ("/var/lib/systemd", "it is systemd's state"),
    ("/var/lib/private", "it holds other services' private state"),
    ("/etc/machine-id", "it identifies this computer"),
    ("/etc/hostname", "it names this computer"),
    ("/var/spool", "its files are run or sent as root"),
    ("/var/mail", "it holds users' mail"),
    ("/var/log/journal", "it is the system's log"),
    ("/var/log/audit", "it is the system's log"),
];

/// A system path as its links resolve (see [`SYSTEM_LINKS`]).
pub fn resolve_system_links(path: &str) -> String {
    for (link, target) in SYSTEM_LINKS {
        if path == *link || path.starts_with(&format!("{link}/")) {
            return format!("{target}{}", &path[link.len()..]);
        }
    }
    path.to_string()
}

/// Is `path` (a file or a folder without its `/`) `place` or inside it, or
/// would a folder grant of `path` contain it?
fn touches(path: &str, place: &str, is_folder: bool) -> bool {
    path == place
        || path.starts_with(&format!("{place}/"))
        || (is_folder && place.starts_with(&format!("{path}/")))
}

/// Checks a path a plugin declares (`file` or `folder/`): the same rules as a
/// request; inside the places services keep configuration and data; none of
/// the places whose files run as root or decide who may do what (compared
/// after resolving system links such as `/var/run`).
pub fn validate_declared_path(path: &str) -> Result<(), String> {
    let is_folder = path.ends_with('/');
    let file_form = if is_folder { &path[..path.len() - 1] } else { path };
    SysPath::parse(file_form).map_err(|r| r.to_string())?;
    let resolved = resolve_system_links(file_form);
    if !WRITABLE_TREES.iter().any(|tree| resolved.starts_with(&format!("{tree}/"))) {
        return Err(format!(
            "`{path}` is outside the places a service plugin may write ({})",
            WRITABLE_TREES.join(", ")
        ));
    }
    for (place, why) in FORBIDDEN {
        if touches(&resolved, place, is_folder) {
            return Err(format!(
                "`{path}` touches {place}, which no service plugin may write: {why}"
            ));
        }
    }
    if is_folder && resolved.matches('/').count() < 2 {
        return Err(format!("folder `{path}` is too broad: grant a folder at least two levels deep, e.g. /etc/NAME/"));
    }
    Ok(())
}

/// The rule for what a plugin may write, past the static checks of
/// [`validate_declared_path`], from what dpkg says (`owners`: the packages
/// whose file lists name a path; `roots_own`: why root acts on a package's
/// files, if it does). A plugin writes only
///
/// - files and folders its declared packages ship or own (the nearest of the
///   path and its folders, below the tree, that a package lists), when that
///   package is not one whose files root acts on (Essential, priority
///   required or important, or shipping a setuid program); or
/// - places of its own: in a folder of the tree (`/etc/NAME/`,
///   `/var/lib/NAME/`, ...) that no installed package lists.
///
/// Everything else is refused: a file or folder another package owns, and a
/// file directly in a tree that none of its packages ships. Until its
/// packages are installed (`packages_installed` false, at `plugin add`) a
/// place nobody owns yet may be one they ship, and passes; enable checks
/// again once they are. Returns what is wrong, in words.
pub fn owned_place_problem(
    path: &str,
    declared: &[String],
    owners: &dyn Fn(&str) -> Vec<String>,
    roots_own: &dyn Fn(&str) -> Option<String>,
    packages_installed: bool,
) -> Option<String> {
    let is_folder = path.ends_with('/');
    let place = resolve_system_links(path.strip_suffix('/').unwrap_or(path));
    let tree = WRITABLE_TREES.iter().find(|tree| place.starts_with(&format!("{tree}/")))?;
    let below: Vec<&str> = place[tree.len() + 1..].split('/').collect();
    let shown = crate::display::line(path);
    // The place and its folders, nearest first, down to the tree's own folder.
    for depth in (1..=below.len()).rev() {
        let candidate = format!("{tree}/{}", below[..depth].join("/"));
        let who = owners(&candidate);
        if who.is_empty() {
            continue;
        }
        let theirs: Vec<&String> = who.iter().filter(|p| declared.contains(p)).collect();
        if theirs.is_empty() {
            return Some(format!(
                "{shown} belongs to the package {} ({candidate}), which this plugin does not declare",
                who.join(", ")
            ));
        }
        for package in theirs {
            if let Some(why) = roots_own(package) {
                return Some(format!(
                    "{shown} belongs to the package {package}, whose files root acts on ({why})"
                ));
            }
        }
        return None;
    }
    if packages_installed && below.len() == 1 && !is_folder {
        return Some(format!(
            "{shown} is a file directly in {tree} that none of its packages ships"
        ));
    }
    None
}

/// Every declared path that breaks [`owned_place_problem`]'s rule, as one
/// refusal naming each and the rule; `None` when all keep it.
pub fn owned_places_problems(
    paths: &[String],
    declared: &[String],
    owners: &dyn Fn(&str) -> Vec<String>,
    roots_own: &dyn Fn(&str) -> Option<String>,
    packages_installed: bool,
) -> Option<String> {
    let problems: Vec<String> = paths
        .iter()
        .filter_map(|p| owned_place_problem(p, declared, owners, roots_own, packages_installed))
        .collect();
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "it asks to write places that are not its own:\n  - {}\nA plugin writes only the files and folders its declared Debian packages ship or own \
         (unless root acts on that package's files), and folders of its own that no package owns (/etc/NAME/, /var/lib/NAME/, ...)",
        problems.join("\n  - ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_parsed_strictly() {
        let table: &[(&str, bool)] = &[
            ("/etc/mumble-server.ini", true),
            ("/etc/lighttpd/conf.d/a b.conf", true),
            ("", false),
            ("etc/passwd", false),
            ("/etc/../passwd", false),
            ("/etc/./passwd", false),
            ("//etc/passwd", false),
            ("/etc//passwd", false),
            ("/etc/lighttpd/", false),
            ("/etc/x\0y", false),
            ("/etc/x\ny", false),
            ("/", false),
        ];
        for (raw, ok) in table {
            assert_eq!(SysPath::parse(raw).is_ok(), *ok, "{raw:?}");
        }
    }

    #[test]
    fn declared_paths_stay_out_of_system_places() {
        let table: &[(&str, bool)] = &[
            ("/etc/mumble-server.ini", true),
            ("/etc/lighttpd/", true),
            ("/etc/", false),
            ("/", false),
            ("/etc/shadow", false),
            ("/etc/sudoers.d/x", false),
            ("/var/lib/tails-server/plugins/x", false),
            // The npm folders: a planted .npmrc could point npm elsewhere.
            ("/opt/tails-server/hello/.npmrc", false),
            ("/opt/tails-server/", false),
            ("/opt/other/", true),
            ("/var/lib/", false),
            ("/proc/self/mem", false),
            ("/etc/../shadow", false),
            ("relative", false),
            // Places whose files run as root.
            ("/etc/systemd/system/x.service", false),
            ("/etc/cron.d/x", false),
            ("/etc/profile.d/x.sh", false),
            ("/etc/apt/sources.list.d/x.list", false),
            ("/etc/apt/apt.conf.d/99x", false),
            ("/etc/ld.so.conf.d/x.conf", false),
            ("/etc/onion-grater.d/x.yml", false),
            ("/etc/xdg/autostart/x.desktop", false),
            ("/etc/xdg/infinoted.conf", true),
            ("/etc/default/tor", false),
            ("/etc/ssh/sshd_config.d/x.conf", false),
            ("/etc/npmrc", false),
            // Outside the service trees: programs, homes, runtime folders.
            ("/usr/local/bin/x", false),
            ("/usr/local/sbin/tails-server", false),
            ("/usr/lib/x/", false),
            ("/home/amnesia/.bashrc", false),
            ("/home/amnesia/Persistent/", false),
            ("/root/.ssh/authorized_keys", false),
            ("/tmp/x", false),
            // Through the system links.
            ("/var/run/tor/control", false),
            ("/var/run/x/", false),
            ("/sbin/x", false),
            ("/lib/systemd/system/x.service", false),
            // A folder that holds a forbidden place is refused too.
            ("/etc/xdg/", false),
            ("/var/lib/mumble-server/", true),
            ("/var/www/site/", true),
            ("/srv/files/", true),
        ];
        for (raw, ok) in table {
            assert_eq!(
                validate_declared_path(raw).is_ok(),
                *ok,
                "{raw:?}: {:?}",
                validate_declared_path(raw)
            );
        }
    }

    /// The rule from what packages ship and own, on a table of what dpkg says.
    #[test]
    fn a_plugin_writes_only_what_its_packages_own_or_its_own_folders() {
        let owners = |path: &str| -> Vec<String> {
            let table: &[(&str, &[&str])] = &[
                ("/etc/lighttpd", &["lighttpd"]),
                ("/etc/lighttpd/lighttpd.conf", &["lighttpd"]),
                ("/etc/lighttpd/conf-enabled", &["lighttpd"]),
                ("/etc/mumble", &["mumble-server"]),
                ("/etc/mumble/mumble-server.ini", &["mumble-server"]),
                ("/etc/inputrc", &["readline-common"]),
                ("/etc/bash.bash_logout", &["bash"]),
                ("/etc/vim", &["vim-common"]),
                ("/etc/rsyslog.d", &["rsyslog"]),
                ("/var/cache/debconf", &["debconf"]),
                ("/var/lib/AccountsService", &["accountsservice"]),
                ("/etc/xdg", &["xdg-user-dirs", "infinoted"]),
                ("/etc/sudoers.d", &["sudo"]),
                ("/etc/mumble-server.ini", &["mumble-server"]),
            ];
            table
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, who)| who.iter().map(|w| w.to_string()).collect())
                .unwrap_or_default()
        };
        let roots_own = |package: &str| match package {
            "bash" => Some("dpkg marks it Essential: the system's own".to_string()),
            "sudo" => Some("it ships the setuid or setgid program /usr/bin/sudo".to_string()),
            _ => None,
        };
        let declared: Vec<String> = ["lighttpd", "mumble-server", "bash", "infinoted", "sudo"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let table: &[(&str, Option<&str>)] = &[
            ("/etc/lighttpd/lighttpd.conf", None),
            ("/etc/lighttpd/", None),
            ("/etc/lighttpd/conf-enabled/99-x.conf", None),
            ("/etc/mumble/mumble-server.ini", None),
            ("/etc/mumble-server.ini", None),
            // Its own folders: nobody owns them.
            ("/etc/infinoted/infinoted.conf", None),
            ("/var/lib/gobby/", None),
            ("/etc/xdg/infinoted.conf", None),
            // Another package's.
            ("/etc/inputrc", Some("belongs to the package readline-common (/etc/inputrc), which this plugin does not declare")),
            ("/etc/vim/vimrc.local", Some("belongs to the package vim-common (/etc/vim)")),
            ("/etc/rsyslog.d/", Some("belongs to the package rsyslog")),
            ("/var/cache/debconf/", Some("belongs to the package debconf")),
            ("/var/lib/AccountsService/users/amnesia", Some("belongs to the package accountsservice")),
            // Declared, but root acts on its files.
            ("/etc/bash.bash_logout", Some("belongs to the package bash, whose files root acts on (dpkg marks it Essential")),
            ("/etc/sudoers.d/x", Some("whose files root acts on (it ships the setuid or setgid program /usr/bin/sudo)")),
            // Directly in a tree, shipped by nobody.
            ("/etc/hosts.allow", Some("is a file directly in /etc that none of its packages ships")),
            ("/etc/manpath.config", Some("is a file directly in /etc")),
        ];
        for (path, expected) in table {
            let got = owned_place_problem(path, &declared, &owners, &roots_own, true);
            match (expected, &got) {
                (None, None) => {}
                (Some(words), Some(said)) => assert!(said.contains(words), "{path}: {said}"),
                _ => panic!("{path}: expected {expected:?}, got {got:?}"),
            }
        }
        // Before its packages are installed, a file nobody ships yet may be theirs.
        assert_eq!(
            owned_place_problem("/etc/hosts.allow", &declared, &owners, &roots_own, false),
            None
        );
        assert!(
            owned_place_problem("/etc/inputrc", &declared, &owners, &roots_own, false).is_some()
        );
        let all = owned_places_problems(
            &["/etc/inputrc".into(), "/etc/lighttpd/".into(), "/etc/hosts.allow".into()],
            &declared,
            &owners,
            &roots_own,
            true,
        )
        .unwrap();
        assert!(
            all.contains("/etc/inputrc")
                && all.contains("/etc/hosts.allow")
                && !all.contains("- /etc/lighttpd/")
                && all.contains("A plugin writes only"),
            "{all}"
        );
    }

    #[test]
    fn system_links_resolve() {
        assert_eq!(resolve_system_links("/var/run/tor"), "/run/tor");
        assert_eq!(resolve_system_links("/var/runner"), "/var/runner");
        assert_eq!(resolve_system_links("/lib/x"), "/usr/lib/x");
        assert_eq!(resolve_system_links("/etc/x"), "/etc/x");
    }
}
