//! Debian packages: what dpkg says is installed, and installing with apt.
//!
//! Only the broker calls [`install`], with names the plugin declared and the
//! user granted.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debian package names (Debian Policy 5.6.7): lower case, digits, `+ - .`,
/// at least two characters, starting with an alphanumeric. Stricter than
/// Policy where apt would read a name as something else: a trailing `-` means
/// "remove" and a trailing `+` "install" to apt, so the name must end with a
/// letter or digit; `..` and `.+` patterns read as regular expressions are
/// covered by asking apt for the exact name before installing (see
/// `system::packages`).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() >= 2
        && name.len() <= 100
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a Debian package name (lower-case letters, digits, + - . inside; starting and ending with a letter or digit)",
            crate::display::quoted(name)
        ))
    }
}

/// The packages of `wanted` that dpkg does not list as installed under `root`.
pub fn missing(root: &Path, wanted: &[String]) -> std::io::Result<Vec<String>> {
    let installed = installed(root)?;
    Ok(wanted.iter().filter(|p| !installed.contains(p.as_str())).cloned().collect())
}

/// Names of installed packages, from `<root>/var/lib/dpkg/status`. A root
/// without a dpkg database has none.
pub fn installed(root: &Path) -> std::io::Result<BTreeSet<String>> {
    match std::fs::read_to_string(root.join("var/lib/dpkg/status")) {
        Ok(status) => Ok(parse_status(&status)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e),
    }
}

/// dpkg's status file: paragraphs separated by blank lines; a package is
/// installed when its `Status:` is `install ok installed` (or `hold ok installed`).
/// What an installed package `Provides:` counts as installed too, as it does
/// for apt (a nodejs build that bundles npm provides `npm`).
/// Architecture-qualified names (`libc6:amd64`) count under their bare name.
fn parse_status(status: &str) -> BTreeSet<String> {
    let bare = |name: &str| name.split([':', ' ', '(']).next().unwrap_or(name).trim().to_string();
    let mut installed = BTreeSet::new();
    for paragraph in status.split("\n\n") {
        let mut names = Vec::new();
        let mut ok = false;
        for line in paragraph.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                names.push(bare(v.trim()));
            } else if let Some(v) = line.strip_prefix("Provides: ") {
                names.extend(v.split(',').map(|p| bare(p.trim())));
            } else if let Some(v) = line.strip_prefix("Status: ") {
                ok = v.trim().ends_with(" ok installed");
            }
        }
        if ok {
            installed.extend(names.into_iter().filter(|n| !n.is_empty()));
        }
    }
    installed
}

/// Refuse any name apt does not know as exactly that package: apt takes an
/// exact name first, and only an unknown one as a regular expression or a
/// glob, so a known name cannot select other packages. `apt-cache pkgnames
/// PREFIX` lists names by plain prefix, never as a pattern.
fn known_exactly(names: &[String]) -> Result<(), String> {
    for name in names {
        let out = Command::new("apt-cache")
            .args(["pkgnames", "--", name])
            .output()
            .map_err(|e| format!("running apt-cache: {e}"))?;
        let listed = String::from_utf8_lossy(&out.stdout);
        if !listed.lines().any(|l| l == name) {
            return Err(format!(
                "apt knows no package named exactly `{name}` on {} (the name may be another release's, e.g. php8.2-* of Debian 12, or `apt-get update` is needed); nothing was installed",
                release(Path::new("/"))
            ));
        }
    }
    Ok(())
}

/// This system's release as a person names it ("Debian GNU/Linux 13
/// (trixie)"), from os-release.
pub fn release(root: &Path) -> String {
    let text = std::fs::read_to_string(root.join("etc/os-release"))
        .or_else(|_| std::fs::read_to_string(root.join("usr/lib/os-release")))
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "this system".into())
}

/// Which of `packages` (installed under `root`) ships the unit `unit`: as a
/// unit file, or as the init script systemd makes it from. dpkg's file lists
/// say.
pub fn shipping_unit(root: &Path, packages: &[String], unit: &str) -> Option<String> {
    let stem = unit.strip_suffix(".service").unwrap_or(unit);
    let wanted = [
        format!("/lib/systemd/system/{unit}"),
        format!("/usr/lib/systemd/system/{unit}"),
        format!("/etc/init.d/{stem}"),
    ];
    let info = root.join("var/lib/dpkg/info");
    let entries: Vec<_> = std::fs::read_dir(&info).ok()?.flatten().collect();
    packages
        .iter()
        .find(|package| {
            entries.iter().any(|entry| {
                let file = entry.file_name().to_string_lossy().to_string();
                let listed = file == format!("{package}.list")
                    || (file.starts_with(&format!("{package}:")) && file.ends_with(".list"));
                listed
                    && std::fs::read_to_string(entry.path())
                        .is_ok_and(|list| list.lines().any(|l| wanted.iter().any(|w| w == l)))
            })
        })
        .cloned()
}

/// Install `names` with apt, non-interactively: no recommends, existing
/// configuration files kept. Waits for the dpkg lock (and says who holds it),
/// finishes an interrupted dpkg run first, and shows apt's progress when
/// stdout is a terminal.
pub fn install(root: &Path, names: &[String]) -> Result<(), String> {
    if root != Path::new("/") {
        return Err(format!(
            "installing packages under --root {} is not supported; install {} there yourself",
            root.display(),
            names.join(" ")
        ));
    }
    // Checked again right here, whatever checked them before: apt reads a
    // trailing `-` as "remove" and a name it does not know exactly as a
    // pattern.
    for name in names {
        check_name(name)?;
    }
    known_exactly(names)?;
    wait_for_lock(Path::new(DPKG_FRONTEND_LOCK))?;
    if interrupted(root) {
        crate::notice::say(crate::journal::Progress::Waiting {
            text:
                "A previous dpkg run was interrupted; finishing it first (dpkg --configure -a)..."
                    .into(),
        });
        run(Command::new("dpkg").args(["--configure", "-a"]), "dpkg --configure -a")?;
    }
    let wait = format!("DPkg::Lock::Timeout={}", LOCK_WAIT.as_secs());
    let mut apt = Command::new("apt-get");
    apt.env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "--yes", "--no-install-recommends", "-o", &wait])
        .args(["-o", "Dpkg::Options::=--force-confold", "-o", "Dpkg::Options::=--force-confdef"])
        .arg("--")
        .args(names);
    {
        let _no_starts = NoDaemonStarts::hold();
        run(&mut apt, &format!("apt-get install {}", names.join(" ")))?;
    }
    let still = missing(root, names).map_err(|e| format!("reading dpkg's status: {e}"))?;
    if !still.is_empty() {
        return Err(format!("apt-get finished but {} is still not installed", still.join(", ")));
    }
    Ok(())
}

/// Debian's way to keep a package's scripts from starting its daemon
/// (invoke-rc.d and deb-systemd-invoke ask it; 101 is "not allowed").
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// While held, packages being installed start no daemon: a server started
/// by its package runs its default configuration (openssh-server's sshd on
/// every address, lighttpd on port 80) before any plugin configured it.
/// The host starts what a service needs, configured, at its unit step. An
/// existing policy-rc.d (the administrator's) is left as it is.
struct NoDaemonStarts(bool);

impl NoDaemonStarts {
    fn hold() -> NoDaemonStarts {
        let path = Path::new(POLICY_RC_D);
        if path.symlink_metadata().is_ok() {
            return NoDaemonStarts(false);
        }
        let made = crate::fsutil::write_path_atomic(
            path,
            b"#!/bin/sh\n# Tails Server, while it installs packages: start no daemon.\nexit 101\n",
            crate::fsutil::Mode::KeepOr(0o755),
        );
        if let Err(e) = &made {
            crate::notice::warn(format!("packages may start their daemons while being installed (writing {POLICY_RC_D}: {e})"));
        }
        NoDaemonStarts(made.is_ok())
    }
}

impl Drop for NoDaemonStarts {
    fn drop(&mut self) {
        if self.0 {
            if let Err(e) = std::fs::remove_file(POLICY_RC_D) {
                crate::notice::warn(format!(
                    "remove {POLICY_RC_D} by hand, or no package will start its daemon: {e}"
                ));
            }
        }
    }
}

const DPKG_FRONTEND_LOCK: &str = "/var/lib/dpkg/lock-frontend";
const LOCK_WAIT: Duration = Duration::from_secs(300);

/// How long apt or npm may run. Generous (a large install through Tor takes
/// minutes), but a tool that hangs on a network that never answers must not
/// hold the state lock, and every other service, for ever.
const TOOL_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// Run a package tool: on a terminal the user sees its progress; otherwise
/// its output is kept and the end of it is part of the error.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    run_until(cmd, what, TOOL_DEADLINE)
}

/// [`run`], stopping the tool past `deadline` (SIGTERM, SIGKILL 5 s later).
fn run_until(cmd: &mut Command, what: &str, deadline: Duration) -> Result<(), String> {
    // Off a terminal the tool gets a process group of its own, so that
    // stopping it stops its children too (dpkg, npm's workers), which would
    // otherwise hold its output open. On a terminal it stays in ours, so
    // that Ctrl-C reaches it.
    let grouped = !std::io::stdout().is_terminal();
    if grouped {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {what}: {e}"))?;
    // Read both pipes while waiting, so a chatty tool never blocks on a full pipe.
    let readers: Vec<_> = [
        child.stdout.take().map(|o| Box::new(o) as Box<dyn Read + Send>),
        child.stderr.take().map(|e| Box::new(e) as _),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    })
    .collect();
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= deadline => {
                stop(&mut child, grouped);
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    };
    let output: String = readers.into_iter().map(|r| r.join().unwrap_or_default()).collect();
    match status {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(format!("{what} failed ({status}):\n  {}", head_and_tail(&output, 4, 8).join("\n  "))),
        None => Err(format!(
            "{what} did not finish in {} s and was stopped (is the network, or Tor, reachable?):\n  {}",
            deadline.as_secs(),
            head_and_tail(&output, 4, 8).join("\n  ")
        )),
    }
}

/// Ask the tool (and its group) to stop, then make it.
fn stop(child: &mut std::process::Child, grouped: bool) {
    let pid = child.id() as libc::pid_t;
    let target = if grouped { -pid } else { pid };
    // SAFETY: kill(2) on our own child, not yet reaped (or on the process
    // group it leads).
    unsafe { libc::kill(target, libc::SIGTERM) };
    let grace = Instant::now();
    let mut exited = false;
    while !exited && grace.elapsed() < Duration::from_secs(5) {
        exited = matches!(child.try_wait(), Ok(Some(_)));
        std::thread::sleep(Duration::from_millis(100));
    }
    // A reaped child's pid is not ours any more; its group lives on while
    // any member does (and holds the tool's output open).
    if !exited || grouped {
        // SAFETY: as above.
        unsafe { libc::kill(target, libc::SIGKILL) };
    }
    let _ = child.wait();
}

/// The first and last lines of a tool's output: apt says what went wrong at
/// the end, npm at the start.
fn head_and_tail(output: &str, head: usize, tail: usize) -> Vec<&str> {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() <= head + tail {
        return lines;
    }
    [&lines[..head], &["..."], &lines[lines.len() - tail..]].concat()
}

/// Wait (bounded) while another program holds the dpkg lock, saying who.
/// apt-get waits by itself too (DPkg::Lock::Timeout); `dpkg --configure -a`
/// does not.
fn wait_for_lock(lock: &Path) -> Result<(), String> {
    let Some(holder) = lock_holder(lock) else { return Ok(()) };
    crate::notice::say(crate::journal::Progress::Waiting {
        text: format!(
            "Waiting for the package manager: {holder} holds the dpkg lock (up to {} s)...",
            LOCK_WAIT.as_secs()
        ),
    });
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    while let Some(holder) = lock_holder(lock) {
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{holder} still holds the dpkg lock after {} s; try again when it is done",
                LOCK_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}

/// dpkg leaves its pending status updates in `updates/` when interrupted;
/// apt then refuses to run until `dpkg --configure -a`.
fn interrupted(root: &Path) -> bool {
    std::fs::read_dir(root.join("var/lib/dpkg/updates"))
        .map(|dir| {
            dir.flatten()
                .any(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        })
        .unwrap_or(false)
}

/// Who holds an fcntl lock on `path` ("process 123 (apt-get)"), asked with
/// F_GETLK, which takes nothing.
fn lock_holder(path: &Path) -> Option<String> {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).ok()?;
    // SAFETY: a zeroed flock is a valid argument; F_GETLK only fills it in.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as _;
    lock.l_whence = libc::SEEK_SET as _;
    // SAFETY: the fd is open for the duration of the call; `lock` is a valid flock.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    if rc != 0 || lock.l_type == libc::F_UNLCK as libc::c_short {
        return None;
    }
    let pid = lock.l_pid;
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    Some(format!("process {pid} ({})", name.trim()))
}

/// dpkg's word on places and packages under a root: which packages list a
/// path (their file lists), and which packages' files root acts on.
pub struct Dpkg {
    root: std::path::PathBuf,
    /// Each package (bare name) and its file list.
    lists: Vec<(String, String)>,
    status: String,
}

impl Dpkg {
    /// Read the database (about 5 MB of file lists on Debian 13 with the
    /// services' packages). A root without one lists nothing.
    pub fn read(root: &Path) -> std::io::Result<Dpkg> {
        let info = root.join("var/lib/dpkg/info");
        let mut lists = Vec::new();
        match std::fs::read_dir(&info) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let file = entry.file_name().to_string_lossy().to_string();
                    let Some(package) = file.strip_suffix(".list") else { continue };
                    let bare = package.split(':').next().unwrap_or(package).to_string();
                    lists.push((bare, std::fs::read_to_string(entry.path())?));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap_or_default();
        Ok(Dpkg { root: root.to_path_buf(), lists, status })
    }

    /// The packages whose file list names `path` exactly (a file, or a folder
    /// without its `/`).
    pub fn owners(&self, path: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .lists
            .iter()
            .filter(|(_, list)| list.lines().any(|l| l == path))
            .map(|(p, _)| p.clone())
            .collect();
        // One package's lists for several architectures name it once.
        found.sort();
        found.dedup();
        found
    }

    /// Are all of `packages` installed (as [`installed`] reads the status)?
    pub fn all_installed(&self, packages: &[String]) -> bool {
        let installed = parse_status(&self.status);
        packages.iter().all(|p| installed.contains(p))
    }

    /// Why root acts on the files of `package`, if it does: dpkg marks it
    /// Essential or of priority required or important (the system's own), or
    /// it ships a setuid or setgid file (a program that runs as root reads
    /// them).
    pub fn roots_own(&self, package: &str) -> Option<String> {
        let paragraph = self.status.split("\n\n").find(|p| {
            p.lines()
                .any(|l| l.strip_prefix("Package: ").is_some_and(|name| name.trim() == package))
        })?;
        for line in paragraph.lines() {
            match line.trim() {
                "Essential: yes" => {
                    return Some("dpkg marks it Essential: the system's own".into())
                }
                "Priority: required" | "Priority: important" => {
                    return Some(format!("dpkg gives it {}: the system's own", line.trim()))
                }
                _ => {}
            }
        }
        use std::os::unix::fs::PermissionsExt;
        let list =
            self.lists.iter().find(|(p, _)| p == package).map(|(_, l)| l.as_str()).unwrap_or("");
        list.lines().find_map(|file| {
            let meta =
                std::fs::symlink_metadata(self.root.join(file.trim_start_matches('/'))).ok()?;
            (meta.is_file() && meta.permissions().mode() & 0o6000 != 0)
                .then(|| format!("it ships the setuid or setgid program {file}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The release an unknown package's refusal names: os-release's
    /// PRETTY_NAME (etc first, then usr/lib), else a plain word.
    #[test]
    fn release_is_named_as_os_release_names_it() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(release(root.path()), "this system");
        std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
        std::fs::write(
            root.path().join("usr/lib/os-release"),
            "ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n",
        )
        .unwrap();
        assert_eq!(release(root.path()), "Debian GNU/Linux 13 (trixie)");
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/os-release"), "PRETTY_NAME=\"Tails\"\n").unwrap();
        assert_eq!(release(root.path()), "Tails");
    }

    #[test]
    fn parses_dpkg_status() {
        let status = "Package: lighttpd\nStatus: install ok installed\nVersion: 1.4.69\n\n\
                      Package: mumble-server\nStatus: deinstall ok config-files\n\n\
                      Package: tor\nStatus: hold ok installed\nDescription: x\n continued\n\n\
                      Package: half\nStatus: install ok half-configured\nProvides: half-virtual\n\n\
                      Package: nodejs\nStatus: install ok installed\nProvides: nodejs-dev, npm (= 10.8.2), libnode:amd64\n";
        let got = parse_status(status);
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            ["libnode", "lighttpd", "nodejs", "nodejs-dev", "npm", "tor"]
        );
    }

    #[test]
    fn failures_show_the_first_and_last_lines() {
        let short = "a\n\nb\n";
        assert_eq!(head_and_tail(short, 4, 8), ["a", "b"]);
        let long: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let shown = head_and_tail(&long, 2, 3);
        assert_eq!(shown, ["line 1", "line 2", "...", "line 18", "line 19", "line 20"]);
    }

    #[test]
    fn sees_who_holds_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, "").unwrap();
        assert_eq!(lock_holder(&path), None);
        // A child holds it (fcntl locks are per process, so ours would not show).
        let mut child = Command::new("python3")
            .args(["-c", "import fcntl,sys,time; f=open(sys.argv[1],'w'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)"])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let holder = lock_holder(&path);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(holder, Some(format!("process {} (python3)", child.id())));
    }

    #[test]
    fn reads_the_real_dpkg_database() {
        // This machine is Debian: dpkg itself must be listed as installed.
        let missing =
            missing(Path::new("/"), &["dpkg".into(), "no-such-package-xyz".into()]).unwrap();
        assert_eq!(missing, ["no-such-package-xyz"]);
    }

    #[test]
    fn a_tool_past_its_deadline_is_stopped_with_a_clear_error() {
        let started = Instant::now();
        let mut slow = Command::new("sh");
        slow.args(["-c", "echo fetching; sleep 30"]);
        let said = run_until(&mut slow, "npm install x", Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10), "stopped, not waited for");
        assert!(
            said.contains("npm install x did not finish in 0 s and was stopped")
                && said.contains("fetching"),
            "{said}"
        );
        let mut failing = Command::new("sh");
        failing.args(["-c", "echo E: no such package >&2; exit 100"]);
        let said =
            run_until(&mut failing, "apt-get install x", Duration::from_secs(10)).unwrap_err();
        assert!(
            said.contains("apt-get install x failed") && said.contains("E: no such package"),
            "{said}"
        );
        assert!(run_until(Command::new("true").arg("x"), "true", Duration::from_secs(10)).is_ok());
    }
}
