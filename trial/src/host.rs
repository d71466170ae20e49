//! A disposable systemd test host (see `systemd-host/boot` and
//! `../shared/tor-testnet.md`): systemd as PID 1 of its own PID and mount
//! namespaces, on an overlay of a root folder (the system tests' Debian 13
//! root, or the machine's own for `plugin try`), in the network namespace of
//! the process that boots it. Ended by SIGKILL to its PID 1, by pid.
//!
//! [`NetNs`]: network namespaces the test makes itself (and deletes), so that
//! hosts, the private Tor network and a "LAN" peer talk only among themselves.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Until systemd says the boot is done: that includes a oneshot such as
/// Tails Server's autostart, which enables every kept service (MediaWiki's
/// database updater among them, after a Tails 6 → 7 upgrade).
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

/// `systemd-host/boot`: mounts the host's root and execs systemd.
const BOOT_SCRIPT: &str = include_str!("../systemd-host/boot");

pub struct SystemdHost {
    unshare: Child,
    /// PID of the host's systemd, as the machine sees it.
    pub pid: u32,
    _base: tempfile::TempDir,
    _script: tempfile::NamedTempFile,
}

/// What to put into a host before it boots.
pub enum Item {
    /// A machine folder, bind-mounted at this path inside.
    Bind(PathBuf, String),
    /// A file copied in at this path.
    Copy(PathBuf, String),
    /// A unit (already copied into /etc/systemd/system) started at boot.
    Wants(String),
    /// A unit that must not run in the host (masked).
    Mask(String),
    /// A folder that starts empty inside (a tmpfs over the machine's).
    Empty(String),
}

/// A shell script run in a desktop session of its own: an X server (Xvfb,
/// display :5, 1000×1100) started first and stopped by pid after `script`,
/// whose exit status it keeps. Run it with [`SystemdHost::desktop_session`].
fn under_xvfb(script: &str) -> String {
    format!(
        "set -u\n\
         Xvfb :5 -screen 0 1000x1100x24 -nolisten tcp >/tmp/xvfb.log 2>&1 & X=$!\n\
         for i in $(seq 50); do [ -e /tmp/.X11-unix/X5 ] && break; sleep 0.1; done\n\
         export DISPLAY=:5 GDK_BACKEND=x11\n\
         ( {script}\n); r=$?\n\
         kill $X 2>/dev/null\n\
         exit $r\n"
    )
}

impl SystemdHost {
    /// Boot a host on an overlay of this machine's own root (what `plugin
    /// try` runs on: the author's packages) and wait until it is up.
    pub fn boot(items: &[Item]) -> SystemdHost {
        SystemdHost::boot_on(Path::new("/"), items)
    }

    /// Boot a host on an overlay of the root folder `lower` (the system
    /// tests' Debian 13 root) and wait (bounded) until systemd says it is up.
    pub fn boot_on(lower: &Path, items: &[Item]) -> SystemdHost {
        let base = tempfile::Builder::new().prefix("systemd-host").tempdir_in("/var/tmp").unwrap();
        // The boot script is built into the program (plugin try runs where
        // no source tree is); written beside the base, which it mounts over.
        let script =
            tempfile::Builder::new().prefix("systemd-host-boot").tempfile_in("/var/tmp").unwrap();
        std::fs::write(script.path(), BOOT_SCRIPT).unwrap();
        let mut cmd = Command::new("unshare");
        // --kill-child: when unshare ends (a Ctrl-C), the host's systemd is
        // killed too, and with it everything inside.
        cmd.args(["-m", "-p", "-f", "--kill-child=SIGKILL", "--propagation", "private", "bash"])
            .arg(script.path())
            .arg(base.path())
            .arg(lower);
        for item in items {
            cmd.arg(match item {
                Item::Bind(from, inside) => format!("bind:{}:{inside}", from.display()),
                Item::Copy(from, inside) => format!("copy:{}:{inside}", from.display()),
                Item::Wants(unit) => format!("wants:{unit}"),
                Item::Mask(unit) => format!("mask:{unit}"),
                Item::Empty(inside) => format!("empty:{inside}"),
            });
        }
        // The boot script's errors go to a log shown if the boot fails
        // (unshare also complains there when the host is killed at the end).
        let log = tempfile::NamedTempFile::new().unwrap();
        let unshare = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("unshare");
        let boot_log = || std::fs::read_to_string(log.path()).unwrap_or_default();
        let deadline = Instant::now() + BOOT_TIMEOUT;
        let pid = loop {
            assert!(
                Instant::now() < deadline,
                "the test host's systemd did not start:\n{}",
                boot_log()
            );
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare.id()))
                    .unwrap_or_default();
            if let Some(pid) =
                children.split_whitespace().next().and_then(|p| p.parse::<u32>().ok())
            {
                if std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "systemd")
                {
                    break pid;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        crate::tornet::stop_at_exit(pid);
        let host = SystemdHost { unshare, pid, _base: base, _script: script };
        let mut state = String::new();
        while Instant::now() < deadline {
            state = host.dbus_property("/org/freedesktop/systemd1", "Manager", "SystemState");
            if state == "running" || state == "degraded" {
                return host;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let waiting =
            host.sh("systemctl list-jobs --no-pager; journalctl -b --no-pager | tail -40");
        panic!(
            "the test host did not finish booting: SystemState {state:?}\n{}\n{waiting}",
            boot_log()
        );
    }

    /// A command run inside the host (its mount, PID and network namespaces).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.pid.to_string(), "-m", "-p", "-n", "--wdns=/", "--"]).arg(program);
        cmd
    }

    /// `script` (sh) as `user`, in a session of its own: a session bus (for
    /// the accessibility bus) and an X server (see `under_xvfb`).
    pub fn desktop_session(&self, user: &str, script: &str) -> Command {
        let mut command = self.command("runuser");
        command
            .args([
                "-u",
                user,
                "--",
                "env",
                &format!("HOME=/home/{user}"),
                "dbus-run-session",
                "--",
                "sh",
                "-c",
                &under_xvfb(script),
            ])
            .stdin(Stdio::null());
        command
    }

    /// Run a command inside; its output (not checked).
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program).args(args).stdin(Stdio::null()).output().expect("nsenter")
    }

    /// Run a shell command inside and return its stdout; panics if it fails.
    pub fn sh(&self, script: &str) -> String {
        let out = self.run("sh", &["-c", script]);
        assert!(
            out.status.success(),
            "`{script}` failed in the test host: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The processes of a unit (PIDs inside the host), found by their
    /// cgroup: the host's systemd runs in a cgroup below the machine's root,
    /// so its `ControlGroup` paths are not paths in /sys/fs/cgroup.
    pub fn unit_pids(&self, unit: &str) -> Vec<u32> {
        let found =
            self.sh(&format!("grep -l -x '0::.*/{unit}' /proc/[0-9]*/cgroup 2>/dev/null || true"));
        found
            .lines()
            .filter_map(|l| l.strip_prefix("/proc/")?.strip_suffix("/cgroup")?.parse().ok())
            .collect()
    }

    /// A property of a systemd1 object, read over the host's D-Bus (busctl).
    pub fn dbus_property(&self, path: &str, interface: &str, property: &str) -> String {
        let out = self.run(
            "busctl",
            &[
                "get-property",
                "org.freedesktop.systemd1",
                path,
                &format!("org.freedesktop.systemd1.{interface}"),
                property,
            ],
        );
        // `s "running"` → running
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .split_once(' ')
            .map(|(_, v)| v.trim_matches('"').to_string())
            .unwrap_or_default()
    }

    /// A unit's ActiveState (`active`, `inactive`, ...), over D-Bus.
    pub fn active_state(&self, unit: &str) -> String {
        self.dbus_property(&unit_path(unit), "Unit", "ActiveState")
    }

    /// A unit's UnitFileState (`enabled`, `disabled`, `generated`, ...), over D-Bus.
    pub fn unit_file_state(&self, unit: &str) -> String {
        self.dbus_property(&unit_path(unit), "Unit", "UnitFileState")
    }

    /// Read a file inside the host.
    pub fn read(&self, path: &str) -> String {
        String::from_utf8_lossy(&self.run("cat", &[path]).stdout).into_owned()
    }
}

/// systemd's object path for a unit: bytes other than [A-Za-z0-9] become _xx.
pub fn unit_path(unit: &str) -> String {
    let escaped: String =
        unit.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("_{b:02x}")
                }
            })
            .collect();
    format!("/org/freedesktop/systemd1/unit/{escaped}")
}

impl Drop for SystemdHost {
    /// PID 1 ignores SIGTERM: SIGKILL ends it and everything inside; the
    /// host's tmpfs and overlay go with its mount namespace.
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of the systemd this host started.
        unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        let _ = self.unshare.wait();
    }
}

/// A network namespace made by the test (`ip netns add`), deleted on drop.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new(name: &str) -> NetNs {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        ip(&["netns", "add", name]);
        ip(&["-n", name, "link", "set", "lo", "up"]);
        NetNs { name: name.into() }
    }

    /// Move the calling thread into this namespace (threads and processes it
    /// starts afterwards are in it too).
    pub fn enter(&self) {
        let file = File::open(format!("/run/netns/{}", self.name)).expect("netns file");
        // SAFETY: setns(2) with a namespace file we hold open.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
    }

    /// Run `f` on a thread inside this namespace.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let name = self.name.clone();
        std::thread::spawn(move || {
            NetNs { name }.enter_without_drop();
            f()
        })
        .join()
        .expect("thread in netns")
    }

    fn enter_without_drop(self) {
        self.enter();
        std::mem::forget(self);
    }

    /// Join the namespace of the calling thread and `other` by a veth pair:
    /// ours gets `ours` (CIDR), theirs gets `theirs`.
    pub fn link_from_here(&self, ours: &str, theirs: &str) {
        let (a, b) = (format!("v{}a", &self.name), format!("v{}b", &self.name));
        let (a, b) =
            (a.chars().take(15).collect::<String>(), b.chars().take(15).collect::<String>());
        let _ = Command::new("ip").args(["link", "del", &a]).output();
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &self.name]);
        ip(&["addr", "add", ours, "dev", &a]);
        ip(&["link", "set", &a, "up"]);
        ip(&["-n", &self.name, "addr", "add", theirs, "dev", &b]);
        ip(&["-n", &self.name, "link", "set", &b, "up"]);
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
