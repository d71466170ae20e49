//! The systemd unit of a service: checking what a plugin asks to run, and the
//! unit file the host writes for it, confined.
//!
//! A plugin never writes a unit: it either names the unit a granted Debian
//! package ships (`packaged`), or says what to run (`host-written`) and the
//! host writes `tails-server-NAME.service` here, with systemd's sandboxing, so
//! that consent ("run /usr/bin/node … as a user of its own, writing only in
//! /var/lib/NAME, reaching only this computer") is what happens. Pure: the
//! engine writes the text and drives systemd.

use std::collections::BTreeMap;

use super::{resolve_system_links, validate_declared_path, SysPath};
use crate::bindings::tails::server::types::{OptionSpec, ServiceInfo, ServiceUnit, UnitSpec};
use crate::display;

/// The folder host-written units and drop-ins go to: systemd's runtime
/// folder, so that nothing of a service is left in /etc, and a reboot starts
/// from a clean slate (autostart writes them again).
pub const UNIT_FOLDER: &str = "/run/systemd/system";

/// Where a host-written unit's program may live: the system's programs and
/// the service's own npm folder.
const PROGRAM_TREES: &[&str] =
    &["/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec", "/usr/share", crate::places::NPM];

const MAX_ARGUMENTS: usize = 64;
const MAX_ENVIRONMENT: usize = 32;
const MAX_DATA_FOLDERS: usize = 8;
const MAX_SETUP_COMMANDS: usize = 8;
const MAX_WORD: usize = 4096;

/// Users a service may never run as: root, and the users whose files are
/// tor's keys, the desktop's or the system's own.
const FORBIDDEN_USERS: &[&str] = &[
    "root",
    "debian-tor",
    "amnesia",
    "messagebus",
    "polkitd",
    "_apt",
    "clearnet",
    "tor-launcher",
    "nobody",
    "sync",
    "daemon",
    "bin",
    "sys",
];

/// Units of the system Tails runs on, which no service plugin may drive even
/// when it declares the package that ships them: stopping, restarting or
/// confining one (a drop-in that denies tor the network) would take away
/// Tor, the desktop or the system's own checks. A trailing `*` is a prefix.
const SYSTEM_UNITS: &[&str] = &[
    "tor.service",
    "tor@*",
    "onion-grater*",
    "ssh.service",
    "sshd*",
    "ssh@*",
    "dbus*",
    "polkit*",
    "systemd-*",
    "user@*",
    "user-runtime-dir@*",
    "getty@*",
    "serial-getty@*",
    "gdm*",
    "display-manager.service",
    "NetworkManager*",
    "ModemManager*",
    "wpa_supplicant*",
    "cron.service",
    "anacron.service",
    "apparmor.service",
    "ferm.service",
    "nftables.service",
    "netfilter-persistent.service",
    "iptables.service",
    "ip6tables.service",
    "memlockd.service",
    "htpdate.service",
    "tails-*",
    "apt-*",
    "unattended-upgrades.service",
    "packagekit.service",
    "udisks2.service",
    "accounts-daemon.service",
    "rsyslog.service",
    "auditd.service",
    "cups*",
    "bluetooth.service",
    "avahi-daemon.service",
    "emergency.service",
    "rescue.service",
    "console-*",
    "kmod*",
    "plymouth*",
];

/// The system unit `name` is, if it is one (see [`SYSTEM_UNITS`]).
fn system_unit(name: &str) -> Option<&'static str> {
    SYSTEM_UNITS.iter().copied().find(|u| match u.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *u,
    })
}

/// Where systemd keeps the state folders of a unit whose user is its own.
const PRIVATE_STATE: &str = "/var/lib/private";

/// Where one of a service's paths really is. systemd keeps the data folders
/// of a unit with a user of its own (DynamicUser) in /var/lib/private/NAME
/// and makes /var/lib/NAME a link to it at each start: what Persistent
/// Storage keeps must be mounted or copied there, on the real folder, or
/// systemd could not make its link (and would refuse to start).
pub fn system_place(info: &ServiceInfo, path: &str) -> String {
    if let ServiceUnit::HostWritten(spec) = &info.unit {
        if dynamic_user(spec)
            && spec
                .data_folders
                .iter()
                .any(|folder| path == folder || path.starts_with(folder.as_str()))
        {
            if let Some(rest) = path.strip_prefix("/var/lib/") {
                return format!("{PRIVATE_STATE}/{rest}");
            }
        }
    }
    path.to_string()
}

/// Whether a host-written unit runs as a user of its own that systemd makes
/// at each start (DynamicUser): not with a named user or a login account.
fn dynamic_user(spec: &UnitSpec) -> bool {
    spec.user.is_none() && !spec.login_shell
}

/// The folder [`system_place`] puts private data folders in, if `place` is
/// one: it must exist, root's and 0700, before anything is mounted in it.
pub fn private_state_folder(place: &str) -> Option<&'static str> {
    place.starts_with(&format!("{PRIVATE_STATE}/")).then_some(PRIVATE_STATE)
}

/// What the running systemd says a packaged unit runs as (`User=`, `Group=`;
/// empty when its file names none), asked over D-Bus: its file and drop-ins say.
fn packaged_runs_as(info: &ServiceInfo, service: &str) -> Option<(String, String)> {
    crate::blocking::block_on(async {
        let systemd = crate::system::systemd::Systemd::connect().await.ok()?;
        systemd.runs_as(&unit_name(service, &info.unit)).await.ok()
    })
}

/// The named user a service's unit runs as: a host-written unit's `user`, or
/// what the running systemd says a packaged unit runs as (`None` off the
/// running system, for root, and for a user of its own).
pub fn named_user(live: bool, info: &ServiceInfo, service: &str) -> Option<String> {
    match &info.unit {
        ServiceUnit::HostWritten(spec) => spec.user.clone(),
        ServiceUnit::Packaged(_) if live => packaged_runs_as(info, service)
            .map(|(user, _)| user)
            .filter(|user| !user.is_empty() && user != "root"),
        ServiceUnit::Packaged(_) => None,
    }
}

/// Who may read the secret files a service's plugin writes, besides root:
/// the group its unit runs as, so that a daemon that drops privileges (or
/// never has them: `User=irc`) reads its password and no other user does.
/// A unit with a user of its own (DynamicUser) has a group of its own for
/// this (`system::accounts`, made by the configure step). `None` off the
/// running system.
pub fn secret_readers(live: bool, info: &ServiceInfo, service: &str) -> Option<u32> {
    if !live {
        return None;
    }
    let (user, group) = match &info.unit {
        ServiceUnit::HostWritten(UnitSpec { user: None, .. }) => {
            return crate::system::accounts::gid_of(&crate::system::accounts::group_of(service))
        }
        ServiceUnit::HostWritten(spec) => (spec.user.clone()?, String::new()),
        ServiceUnit::Packaged(_) => packaged_runs_as(info, service)?,
    };
    // Never root's group by way of a plugin's unit.
    let gid = if !group.is_empty() {
        crate::system::accounts::gid_of(&group)?
    } else {
        primary_group(&user)?
    };
    (gid != 0).then_some(gid)
}

fn primary_group(user: &str) -> Option<u32> {
    if user.is_empty() {
        return None;
    }
    let name = std::ffi::CString::new(user).ok()?;
    // SAFETY: getpwnam with a valid C string; the result is read at once, on
    // this thread, before any other call that could reuse its buffer.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    (!entry.is_null()).then(|| unsafe { (*entry).pw_gid })
}

/// The unit that runs a service.
pub fn unit_name(service: &str, unit: &ServiceUnit) -> String {
    match unit {
        ServiceUnit::HostWritten(_) => format!("tails-server-{service}.service"),
        ServiceUnit::Packaged(name) => name.clone(),
    }
}

/// A unit name a package ships: `NAME.service`, plain characters, none of
/// Tails Server's own.
pub fn check_packaged_name(name: &str) -> Result<(), String> {
    let stem = name.strip_suffix(".service").unwrap_or("");
    let ok = !stem.is_empty()
        && name.len() <= 100
        && stem.starts_with(|c: char| c.is_ascii_alphanumeric())
        && stem.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c))
        && !name.contains("..");
    if !ok {
        return Err(format!(
            "unit {} must be NAME.service (letters, digits, - _ . @ :), the name of a unit one of its Debian packages ships",
            display::quoted(name)
        ));
    }
    if stem.starts_with("tails-server") {
        return Err(format!("unit `{name}` is Tails Server's own"));
    }
    if let Some(unit) = system_unit(name) {
        return Err(format!("unit `{name}` is part of the system Tails runs on ({unit}): no service plugin may start, stop or confine it"));
    }
    Ok(())
}

/// Everything wrong with a host-written unit's spec, given the service's options.
pub fn problems(info: &ServiceInfo, specs: &[OptionSpec]) -> Vec<String> {
    let spec = match &info.unit {
        ServiceUnit::Packaged(name) => {
            let mut problems: Vec<String> = check_packaged_name(name).err().into_iter().collect();
            if info.capabilities.packages.is_empty() {
                problems.push(format!(
                    "unit `{}` must come from one of its Debian packages, and it declares none",
                    display::line(name)
                ));
            }
            return problems;
        }
        ServiceUnit::HostWritten(spec) => spec,
    };
    let counts = [
        ("arguments", spec.arguments.len(), MAX_ARGUMENTS),
        ("environment variables", spec.environment.len(), MAX_ENVIRONMENT),
        ("data folders", spec.data_folders.len(), MAX_DATA_FOLDERS),
        ("set-up commands", spec.setup_commands.len(), MAX_SETUP_COMMANDS),
    ];
    let over = display::over_bounds("unit:", &counts);
    if !over.is_empty() {
        return over;
    }
    let mut problems = Vec::new();
    let mut say = |p: String| problems.push(p);
    let programs =
        std::iter::once(&spec.program).chain(spec.setup_commands.iter().filter_map(|c| c.first()));
    for program in programs {
        if let Err(e) = check_program(program, &info.name) {
            say(e);
        }
    }
    for command in &spec.setup_commands {
        if command.is_empty() || command.len() > MAX_ARGUMENTS {
            say(format!(
                "unit: a set-up command must be a program and at most {} arguments",
                MAX_ARGUMENTS - 1
            ));
        }
    }
    let words = spec
        .arguments
        .iter()
        .chain(spec.setup_commands.iter().flatten())
        .chain(spec.environment.iter().map(|(_, v)| v));
    for word in words {
        if let Err(e) = check_word(word)
            .and_then(|()| expand(word, &|name| placeholder_allowed(specs, spec, name)))
        {
            say(format!("unit: {e}"));
        }
    }
    for (name, _) in &spec.environment {
        let ok = !name.is_empty()
            && name.len() <= 100
            && name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_');
        if !ok || !name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            say(format!(
                "unit: environment variable {} must be upper-case letters, digits and _",
                display::quoted(name)
            ));
        }
    }
    for folder in &spec.data_folders {
        if let Err(e) = check_data_folder(folder) {
            say(format!("unit: {e}"));
        }
    }
    if let Some(dir) = &spec.working_folder {
        if !spec.data_folders.iter().any(|f| f == dir || f.trim_end_matches('/') == dir) {
            say(format!(
                "unit: working folder {} must be one of its data folders",
                display::quoted(dir)
            ));
        }
    }
    if let Some(user) = &spec.user {
        let ok = !user.is_empty()
            && user.len() <= 32
            && user.starts_with(|c: char| c.is_ascii_lowercase() || c == '_');
        if !ok
            || !user
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
        {
            say(format!("unit: user {} is not a user name", display::quoted(user)));
        } else if FORBIDDEN_USERS.contains(&user.as_str())
            || user.starts_with("systemd-")
            || user.starts_with("tails")
        {
            say(format!("unit: a service may not run as `{user}`"));
        }
    }
    if spec.login_shell && spec.user.is_some() {
        say("unit: a login account is for a user of its own: no `user` with `login-shell`".into());
    }
    if spec.login_shell && spec.data_folders.is_empty() {
        say("unit: a login account needs a data folder for its home".into());
    }
    problems
}

fn check_program(program: &str, service: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("unit: program {} {why}", display::quoted(program)));
    if SysPath::parse(program).is_err() {
        return bad("must be an absolute path");
    }
    let resolved = resolve_system_links(program);
    let npm_own = format!("{}/{service}/", crate::places::NPM);
    let inside = |tree: &str| resolved.starts_with(&format!("{tree}/"));
    let allowed = PROGRAM_TREES.iter().any(|t| inside(t))
        && (!inside(crate::places::NPM) || resolved.starts_with(&npm_own));
    if !allowed {
        return bad(&format!(
            "must be a system program (under /usr) or in its own npm folder {npm_own}"
        ));
    }
    Ok(())
}

fn check_word(word: &str) -> Result<(), String> {
    if word.len() > MAX_WORD || word.chars().any(char::is_control) {
        return Err(format!(
            "{} must be one line of at most {MAX_WORD} bytes",
            display::quoted(word)
        ));
    }
    Ok(())
}

fn check_data_folder(folder: &str) -> Result<(), String> {
    let rest = folder.strip_prefix("/var/lib/").and_then(|r| r.strip_suffix('/')).unwrap_or("");
    if rest.is_empty() {
        return Err(format!("data folder {} must be /var/lib/SOMETHING/", display::quoted(folder)));
    }
    validate_declared_path(folder).map_err(|e| format!("data folder: {e}"))
}

/// Which placeholder names a unit may use: the service's options and the
/// values the host derives (the login account's name only where the unit
/// has one), but no secret: a unit file and a command line are readable by
/// every user of the computer.
fn placeholder_allowed(
    specs: &[OptionSpec],
    spec: &UnitSpec,
    name: &str,
) -> Result<String, String> {
    if name == crate::options::LOGIN_USER && !spec.login_shell {
        return Err(format!("`{{{name}}}` is only there with `login-shell`"));
    }
    if crate::options::DERIVED.contains(&name) {
        return Ok(String::new());
    }
    match specs.iter().find(|s| s.name == name) {
        Some(s) if crate::options::is_secret(s) => {
            Err(format!("`{{{name}}}` is a secret; a unit's command line is readable by every user: write it into a secret config file"))
        }
        Some(_) => Ok(String::new()),
        None => Err(format!("`{{{name}}}` names no option")),
    }
}

/// Replace `{NAME}` by `value(NAME)`; `{{` and `}}` stand for braces.
pub fn expand(
    word: &str,
    value: &dyn Fn(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let Some(stripped) = tail.strip_prefix('{') {
            let end = stripped
                .find('}')
                .ok_or_else(|| format!("{}: `{{` without `}}`", display::quoted(word)))?;
            out.push_str(&value(&stripped[..end])?);
            rest = &stripped[end + 1..];
        } else {
            return Err(format!("{}: a lone `}}` (write `}}}}`)", display::quoted(word)));
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// One word of a unit file's command line or `Environment=`: quoted, with
/// systemd's specifiers (`%`) and variable expansion (`$`) made literal.
fn quote(word: &str) -> String {
    let escaped =
        word.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%").replace('$', "$$");
    format!("\"{escaped}\"")
}

fn command_line(
    words: &[String],
    values: &dyn Fn(&str) -> Result<String, String>,
) -> Result<String, String> {
    words
        .iter()
        .map(|w| expand(w, values).map(|w| quote(&w)))
        .collect::<Result<Vec<_>, _>>()
        .map(|w| w.join(" "))
}

/// Addresses the service may exchange packets with: this computer, and the
/// LAN when `allow-lan` is on (it then answers the LAN; it can reach it too).
const LAN: &str = "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 fc00::/7 fe80::/10";

/// The unit file for a host-written unit. `values` are the option values
/// (with the derived ones) by name.
pub fn render(
    service: &str,
    spec: &UnitSpec,
    values: &BTreeMap<String, String>,
    lan: bool,
) -> Result<String, String> {
    let value =
        |name: &str| values.get(name).cloned().ok_or_else(|| format!("no value for `{{{name}}}`"));
    let mut exec = vec![spec.program.clone()];
    exec.extend(spec.arguments.iter().cloned());
    let state_dirs: Vec<String> = spec
        .data_folders
        .iter()
        .map(|f| f.trim_start_matches("/var/lib/").trim_end_matches('/').to_string())
        .collect();
    let working = spec
        .working_folder
        .clone()
        .or_else(|| spec.data_folders.first().cloned())
        .unwrap_or_else(|| "/".into());
    let mut unit = format!(
        "# Written by Tails Server for the service `{service}` at each enable; edits are replaced.\n\
         [Unit]\n\
         Description={service} (run by Tails Server)\n\
         After=network.target\n\n\
         [Service]\n\
         Type=simple\n"
    );
    for command in &spec.setup_commands {
        unit += &format!("ExecStartPre={}\n", command_line(command, &value)?);
    }
    unit += &format!("ExecStart={}\n", command_line(&exec, &value)?);
    for (name, v) in &spec.environment {
        unit += &format!("Environment={}\n", quote(&format!("{name}={}", expand(v, &value)?)));
    }
    // A data folder (checked plain: /var/lib/NAME/) or `/`.
    let working = working.trim_end_matches('/');
    unit += &format!("WorkingDirectory={}\n", if working.is_empty() { "/" } else { working });
    match &spec.user {
        // Its primary group (icecast2's is `icecast`), which reads its secrets.
        Some(user) => unit += &format!("User={user}\n"),
        // Its secret files are readable by its own static group, the
        // primary group of its login account (see system::accounts).
        // Not DynamicUser: systemd would show the account to the service
        // as locked and expired, and sshd would let no one in.
        None if spec.login_shell => {
            unit += &format!(
                "User={}\nGroup={}\nRemoveIPC=yes\n",
                crate::system::accounts::login_of(service),
                crate::system::accounts::group_of(service)
            )
        }
        None => {
            unit += &format!(
                "DynamicUser=yes\nSupplementaryGroups={}\n",
                crate::system::accounts::group_of(service)
            )
        }
    }
    if !state_dirs.is_empty() {
        unit += &format!("StateDirectory={}\nStateDirectoryMode=0700\n", state_dirs.join(" "));
    }
    unit += &format!(
        "# Confinement: no privileges to gain, the system read-only but its data\n\
         # folders, no homes, private /tmp and devices, only this computer (and the\n\
         # LAN with allow-lan) to talk to.\n\
         NoNewPrivileges=yes\n\
         ProtectSystem=strict\n\
         ProtectHome=yes\n\
         PrivateTmp=yes\n\
         PrivateDevices=yes\n\
         ProtectKernelTunables=yes\n\
         ProtectKernelModules=yes\n\
         ProtectKernelLogs=yes\n\
         ProtectControlGroups=yes\n\
         ProtectHostname=yes\n\
         ProtectClock=yes\n\
         RestrictSUIDSGID=yes\n\
         RestrictNamespaces=yes\n\
         RestrictRealtime=yes\n\
         LockPersonality=yes\n\
         CapabilityBoundingSet=\n\
         AmbientCapabilities=\n\
         RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n\
         IPAddressDeny=any\n\
         IPAddressAllow=localhost{}\n\
         UMask=0077\n\
         Restart=on-failure\n\
         RestartSec=2\n",
        if lan { format!(" {LAN}") } else { String::new() }
    );
    Ok(unit)
}

/// The drop-in the host adds to a packaged unit: what confinement such a
/// unit bears without knowing where it writes (its own folders stay
/// writable: `ProtectSystem=full` keeps /usr, /boot and /etc read-only).
/// Exit status 15 counts as success: Debian 13's mumble-server (1.5) ends a
/// clean shutdown on SIGTERM with the signal's number, which systemd would
/// otherwise show as a failed unit after every disable.
pub fn packaged_drop_in(lan: bool) -> String {
    format!(
        "# Added by Tails Server while it runs this unit; removed when it is disabled.\n\
         [Service]\n\
         NoNewPrivileges=yes\n\
         ProtectSystem=full\n\
         ProtectHome=yes\n\
         PrivateTmp=yes\n\
         ProtectKernelTunables=yes\n\
         ProtectKernelModules=yes\n\
         ProtectControlGroups=yes\n\
         RestrictSUIDSGID=yes\n\
         SuccessExitStatus=15\n\
         IPAddressDeny=any\n\
         IPAddressAllow=localhost{}\n",
        if lan { format!(" {LAN}") } else { String::new() }
    )
}

/// What consent says about the unit.
pub fn consent_words(service: &str, unit: &ServiceUnit, first_party: bool) -> String {
    match unit {
        // True either way: root reads what a first-party plugin writes for a
        // unit that starts as root; any other plugin's such unit is refused.
        ServiceUnit::Packaged(name) => format!(
            "start, restart and stop the systemd unit {} that one of its Debian packages ships{} (Tails Server adds confinement: no home folders, /usr and /etc read-only, only this computer to talk to)",
            display::line(name),
            if first_party {
                ", as its package wrote it (it may start as root and read the files this plugin writes as root: this is Tails Server's own plugin)"
            } else {
                ", only if it runs as a user other than root (a unit that starts as root is refused at enable: root would read the files this plugin writes)"
            }
        ),
        ServiceUnit::HostWritten(spec) => {
            let mut words = vec![spec.program.clone()];
            words.extend(spec.arguments.iter().cloned());
            let who = match &spec.user {
                Some(user) => format!("as the user {}", display::line(user)),
                None if spec.login_shell => format!(
                    "as a user of its own with a login account ({}, shell /bin/bash): the people it lets in get a shell as that user, confined as the service is",
                    crate::system::accounts::login_of(service)
                ),
                None => "as a user of its own".into(),
            };
            let writes = if spec.data_folders.is_empty() {
                "it can write nowhere".to_string()
            } else {
                format!("it can write only in {}", display::line(&spec.data_folders.join(", ")))
            };
            // The environment is part of what runs (NODE_OPTIONS, LD_PRELOAD
            // and the like change the program as much as its arguments).
            let environment = if spec.environment.is_empty() {
                String::new()
            } else {
                format!(" with the environment {}", display::line(&environment_words(&spec.environment)))
            };
            let mut said = format!(
                "run `{}`{environment} {who} (unit tails-server-{service}.service); {writes}, and reach only this computer",
                display::line(&words.join(" "))
            );
            for command in &spec.setup_commands {
                said += &format!("; before each start: `{}`", display::line(&command.join(" ")));
            }
            said
        }
    }
}

fn environment_words(environment: &[(String, String)]) -> String {
    environment.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// How a unit differs from the added build's, in words for the upgrade's
/// consent (each part that changes what runs, or as whom); `None` when it
/// is the same unit.
pub fn unit_changes(old: &ServiceUnit, new: &ServiceUnit) -> Option<String> {
    let (old, new) = match (old, new) {
        (a, b) if a == b => return None,
        (ServiceUnit::HostWritten(old), ServiceUnit::HostWritten(new)) => (old, new),
        (ServiceUnit::Packaged(old), ServiceUnit::Packaged(_)) => {
            return Some(format!("the unit was {}", display::line(old)))
        }
        (ServiceUnit::Packaged(old), _) => {
            return Some(format!("it ran its package's unit {} before", display::line(old)))
        }
        (ServiceUnit::HostWritten(old), _) => {
            return Some(format!(
                "it ran `{}` in a unit the host wrote before",
                display::line(&command_of(old))
            ))
        }
    };
    let mut said = Vec::new();
    if (&old.program, &old.arguments) != (&new.program, &new.arguments) {
        said.push(format!("the command was `{}`", command_of(old)));
    }
    for (k, v) in &new.environment {
        match old.environment.iter().find(|(ok, _)| ok == k) {
            None => said.push(format!("it now sets {k}={v}")),
            Some((_, ov)) if ov != v => said.push(format!("{k} was {ov}, now {v}")),
            _ => {}
        }
    }
    for (k, _) in
        old.environment.iter().filter(|(k, _)| !new.environment.iter().any(|(nk, _)| nk == k))
    {
        said.push(format!("it no longer sets {k}"));
    }
    if old.user != new.user || old.login_shell != new.login_shell {
        let who = |s: &UnitSpec| match (&s.user, s.login_shell) {
            (Some(user), _) => format!("as {user}"),
            (None, true) => "as a user of its own with a login account".into(),
            (None, false) => "as a user of its own".into(),
        };
        said.push(format!("it ran {}", who(old)));
    }
    for folder in new.data_folders.iter().filter(|f| !old.data_folders.contains(f)) {
        said.push(format!("it may now write in {folder}"));
    }
    for folder in old.data_folders.iter().filter(|f| !new.data_folders.contains(f)) {
        said.push(format!("it no longer writes in {folder}"));
    }
    if old.setup_commands != new.setup_commands {
        said.push("its commands before each start changed".into());
    }
    if old.working_folder != new.working_folder {
        said.push("it starts in another folder".into());
    }
    if said.is_empty() {
        said.push("its unit changed".into());
    }
    Some(display::line(&said.join("; ")))
}

fn command_of(spec: &UnitSpec) -> String {
    std::iter::once(&spec.program).chain(&spec.arguments).cloned().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A service whose plugin describes nothing but a host-written unit.
    pub(crate) fn info_of(name: &str, spec: UnitSpec) -> ServiceInfo {
        ServiceInfo {
            name: name.into(),
            name_in_gui: None,
            description: String::new(),
            client_application: String::new(),
            client_application_in_gui: None,
            documentation: String::new(),
            unit: ServiceUnit::HostWritten(spec),
            default_target_port: 2222,
            default_virtual_port: None,
            icon_name: String::new(),
            persistent_paths: vec![],
            options: vec![],
            capabilities: crate::bindings::tails::server::types::Capabilities {
                packages: vec![],
                npm_packages: vec![],
                config_paths: vec![],
                ports: vec![],
            },
        }
    }

    fn spec(program: &str) -> UnitSpec {
        UnitSpec {
            program: program.into(),
            arguments: vec![],
            environment: vec![],
            working_folder: None,
            user: None,
            data_folders: vec![],
            setup_commands: vec![],
            login_shell: false,
        }
    }

    #[test]
    fn placeholders_expand_and_braces_escape() {
        let values = |n: &str| match n {
            "target-port" => Ok("8091".to_string()),
            "greeting" => Ok("hi".to_string()),
            other => Err(format!("no `{other}`")),
        };
        assert_eq!(expand("--port={target-port}", &values).unwrap(), "--port=8091");
        assert_eq!(expand("{{x}} {greeting}", &values).unwrap(), "{x} hi");
        assert!(expand("{nope}", &values).unwrap_err().contains("no `nope`"));
        assert!(expand("{open", &values).is_err());
        assert!(expand("close}", &values).is_err());
    }

    #[test]
    fn words_are_quoted_for_systemd() {
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("say \"hi\" 100% $HOME \\"), "\"say \\\"hi\\\" 100%% $$HOME \\\\\"");
    }

    #[test]
    fn programs_stay_in_system_places_or_own_npm_folder() {
        assert!(check_program("/usr/bin/node", "hello").is_ok());
        assert!(check_program("/bin/sh", "hello").is_ok()); // /usr/bin/sh
        assert!(check_program("/opt/tails-server/hello/node_modules/x/cli.js", "hello").is_ok());
        assert!(check_program("/opt/tails-server/other/node_modules/x/cli.js", "hello").is_err());
        assert!(check_program("/etc/hello/run.sh", "hello").is_err());
        assert!(check_program("/var/lib/hello/bin", "hello").is_err());
        assert!(check_program("relative", "hello").is_err());
        assert!(check_program("/usr/bin/../../etc/x", "hello").is_err());
    }

    #[test]
    fn consent_says_what_runs_and_where_it_writes() {
        let mut s = spec("/usr/bin/node");
        s.arguments = vec!["{greeting}".into()];
        let nowhere = consent_words("hello", &ServiceUnit::HostWritten(s.clone()), false);
        assert!(nowhere.contains("run `/usr/bin/node {greeting}` as a user of its own (unit tails-server-hello.service); it can write nowhere, and reach only this computer"), "{nowhere}");
        s.data_folders = vec!["/var/lib/hello/".into()];
        s.user = Some("prosody".into());
        let somewhere = consent_words("hello", &ServiceUnit::HostWritten(s), false);
        assert!(
            somewhere.contains("as the user prosody")
                && somewhere.contains("it can write only in /var/lib/hello/,"),
            "{somewhere}"
        );
    }

    #[test]
    fn data_folders_of_a_user_of_its_own_are_in_systemds_private_folder() {
        let mut info = crate::bindings::tails::server::types::ServiceInfo {
            name: "x".into(),
            name_in_gui: None,
            description: String::new(),
            client_application: String::new(),
            client_application_in_gui: None,
            documentation: String::new(),
            unit: ServiceUnit::HostWritten(UnitSpec {
                data_folders: vec!["/var/lib/x/".into()],
                ..spec("/usr/bin/x")
            }),
            default_target_port: 8000,
            default_virtual_port: None,
            icon_name: String::new(),
            persistent_paths: vec![],
            options: vec![],
            capabilities: crate::bindings::tails::server::types::Capabilities {
                packages: vec![],
                npm_packages: vec![],
                config_paths: vec![],
                ports: vec![],
            },
        };
        assert_eq!(system_place(&info, "/var/lib/x/"), "/var/lib/private/x/");
        assert_eq!(system_place(&info, "/var/lib/x/db/"), "/var/lib/private/x/db/");
        assert_eq!(
            system_place(&info, "/var/lib/xy/"),
            "/var/lib/xy/",
            "only inside a data folder"
        );
        assert_eq!(system_place(&info, "/etc/x.conf"), "/etc/x.conf");
        assert_eq!(private_state_folder("/var/lib/private/x/"), Some("/var/lib/private"));
        assert_eq!(private_state_folder("/var/lib/x/"), None);
        // A named user's folders are where they are named.
        if let ServiceUnit::HostWritten(spec) = &mut info.unit {
            spec.user = Some("prosody".into());
        }
        assert_eq!(system_place(&info, "/var/lib/x/"), "/var/lib/x/");
        info.unit = ServiceUnit::Packaged("x.service".into());
        assert_eq!(system_place(&info, "/var/lib/x/"), "/var/lib/x/");
    }

    #[test]
    fn packaged_unit_names() {
        for ok in ["mumble-server.service", "lighttpd.service", "prosody.service", "x@y.service"] {
            assert!(check_packaged_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ssh",
            "a/b.service",
            "../x.service",
            "a..service",
            "x y.service",
            "tails-server-autostart.service",
            ".service",
            "x.socket",
            "-x.service",
        ] {
            assert!(check_packaged_name(bad).is_err(), "{bad}");
        }
        // Units the system runs on, even when a declared package ships them.
        for system in [
            "tor@default.service",
            "tor.service",
            "ssh.service",
            "systemd-logind.service",
            "onion-grater.service",
            "NetworkManager.service",
            "tails-persistent-storage.service",
        ] {
            let refused = check_packaged_name(system).unwrap_err();
            assert!(refused.contains("part of the system Tails runs on"), "{system}: {refused}");
        }
        assert!(
            check_packaged_name("torrent-server.service").is_ok(),
            "only tor's own units, not every name starting with tor"
        );
    }

    #[test]
    fn rendered_unit_is_confined_and_literal() {
        let mut s = spec("/usr/bin/node");
        s.arguments = vec![
            "/opt/tails-server/hello/node_modules/h/server.js".into(),
            "{listen-address}".into(),
            "{greeting}".into(),
        ];
        s.data_folders = vec!["/var/lib/hello/".into()];
        let values: BTreeMap<String, String> =
            [("listen-address", "127.0.0.1"), ("greeting", "50% $USER \"x\"")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let unit = render("hello", &s, &values, false).unwrap();
        assert!(unit.contains("ExecStart=\"/usr/bin/node\" \"/opt/tails-server/hello/node_modules/h/server.js\" \"127.0.0.1\" \"50%% $$USER \\\"x\\\"\"\n"), "{unit}");
        for line in [
            "DynamicUser=yes",
            "StateDirectory=hello",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "IPAddressDeny=any",
            "IPAddressAllow=localhost\n",
            "CapabilityBoundingSet=\n",
            "WorkingDirectory=/var/lib/hello\n",
        ] {
            assert!(unit.contains(line), "{line} missing:\n{unit}");
        }
        assert!(render("hello", &s, &values, true)
            .unwrap()
            .contains("IPAddressAllow=localhost 10.0.0.0/8"));
    }

    #[test]
    fn a_user_of_its_own_joins_the_services_group_for_its_secrets() {
        let unit =
            render("gobby", &spec("/usr/bin/infinoted-0.7"), &BTreeMap::new(), false).unwrap();
        assert!(
            unit.contains("DynamicUser=yes\nSupplementaryGroups=tails-secrets-gobby\n"),
            "{unit}"
        );
        let mut named = spec("/usr/bin/icecast2");
        named.user = Some("icecast2".into());
        let unit = render("icecast", &named, &BTreeMap::new(), false).unwrap();
        assert!(
            unit.contains("User=icecast2\n")
                && !unit.contains("\nGroup=")
                && !unit.contains("SupplementaryGroups"),
            "{unit}"
        );
    }

    #[test]
    fn a_login_account_is_a_static_user_not_a_dynamic_one() {
        let mut ssh = spec("/usr/sbin/sshd");
        ssh.login_shell = true;
        ssh.data_folders = vec!["/var/lib/ssh/".into()];
        let unit = render("ssh", &ssh, &BTreeMap::new(), false).unwrap();
        assert!(
            unit.contains("User=tails-login-ssh\nGroup=tails-secrets-ssh\nRemoveIPC=yes\n")
                && !unit.contains("DynamicUser"),
            "{unit}"
        );
        // Its home is where systemd makes it, not in /var/lib/private.
        let info = info_of("ssh", ssh.clone());
        assert_eq!(system_place(&info, "/var/lib/ssh/"), "/var/lib/ssh/");
        let said = consent_words("ssh", &ServiceUnit::HostWritten(ssh.clone()), false);
        assert!(said.contains("a login account (tails-login-ssh, shell /bin/bash): the people it lets in get a shell"), "{said}");
    }

    #[test]
    fn a_login_account_is_asked_for_as_the_contract_says() {
        let info = |s: UnitSpec| info_of("ssh", s);
        let mut homeless = spec("/usr/sbin/sshd");
        homeless.login_shell = true;
        assert!(problems(&info(homeless.clone()), &[])
            .iter()
            .any(|p| p.contains("needs a data folder for its home")));
        homeless.data_folders = vec!["/var/lib/ssh/".into()];
        homeless.user = Some("sshd".into());
        assert!(problems(&info(homeless), &[])
            .iter()
            .any(|p| p.contains("no `user` with `login-shell`")));
        let mut asks = spec("/usr/sbin/sshd");
        asks.arguments = vec!["-oAllowUsers={login-user}".into()];
        assert!(problems(&info(asks.clone()), &[])
            .iter()
            .any(|p| p.contains("`{login-user}` is only there with `login-shell`")));
        asks.login_shell = true;
        asks.data_folders = vec!["/var/lib/ssh/".into()];
        assert_eq!(problems(&info(asks), &[]), Vec::<String>::new());
    }
}

#[cfg(test)]
mod changes {
    use super::tests::info_of;
    use super::*;

    fn unit(spec: UnitSpec) -> ServiceUnit {
        info_of("x", spec).unit
    }

    fn base() -> UnitSpec {
        UnitSpec {
            program: "/usr/bin/node".into(),
            arguments: vec!["server.js".into()],
            environment: vec![("HOME".into(), "/var/lib/x".into())],
            working_folder: None,
            user: None,
            data_folders: vec!["/var/lib/x/".into()],
            setup_commands: vec![],
            login_shell: false,
        }
    }

    /// Every part of a unit that changes what runs, or as whom, is said at
    /// upgrade; the environment is shown at add.
    #[test]
    fn each_difference_of_a_unit_is_said() {
        assert_eq!(unit_changes(&unit(base()), &unit(base())), None);
        let mut preload = base();
        preload.environment.push(("LD_PRELOAD".into(), "/var/lib/x/evil.so".into()));
        assert_eq!(
            unit_changes(&unit(base()), &unit(preload.clone())).unwrap(),
            "it now sets LD_PRELOAD=/var/lib/x/evil.so"
        );
        assert!(consent_words("x", &unit(preload), false)
            .contains("with the environment HOME=/var/lib/x LD_PRELOAD=/var/lib/x/evil.so as"));
        let mut other = base();
        other.environment.clear();
        other.arguments = vec!["-e".into(), "evil()".into()];
        other.user = Some("www-data".into());
        other.data_folders.push("/var/lib/y/".into());
        let said = unit_changes(&unit(base()), &unit(other.clone())).unwrap();
        for part in [
            "the command was `/usr/bin/node server.js`",
            "it no longer sets HOME",
            "it ran as a user of its own",
            "it may now write in /var/lib/y/",
        ] {
            assert!(said.contains(part), "{part}: {said}");
        }
        assert_eq!(
            unit_changes(&ServiceUnit::Packaged("a.service".into()), &unit(other)).unwrap(),
            "it ran its package's unit a.service before"
        );
        assert_eq!(
            unit_changes(
                &ServiceUnit::Packaged("a.service".into()),
                &ServiceUnit::Packaged("b.service".into())
            )
            .unwrap(),
            "the unit was a.service"
        );
    }
}
