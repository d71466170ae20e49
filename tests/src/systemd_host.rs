//! The test kit's side of the systemd test hosts (the hosts themselves are
//! `tails_server_trial::host`, shared with `plugin try`): what a Tails
//! Server host gets, the daemon's files, polkit rules, npm offline.

use std::path::{Path, PathBuf};
use std::process::Command;

pub use tails_server_trial::host::{unit_path, Item, NetNs, SystemdHost};
pub use tails_server_trial::INSIDE_BIN;

/// The Debian 13 root every system test host boots an overlay of (Tails 7
/// is Debian 13), made by `scripts/tails-root` (which `scripts/setup` runs).
pub fn tails7_root() -> PathBuf {
    made_root(
        "TAILS_SERVER_TAILS7_ROOT",
        "/var/cache/tails-server-tests/trixie",
        "Debian 13",
        "scripts/tails-root",
    )
}

/// The Debian 12 root of Tails 6's services, where the migration test makes
/// the state a Tails 6 user kept (`scripts/tails-root 6`).
pub fn tails6_root() -> PathBuf {
    made_root(
        "TAILS_SERVER_TAILS6_ROOT",
        "/var/cache/tails-server-tests/bookworm",
        "Debian 12",
        "scripts/tails-root 6",
    )
}

fn made_root(variable: &str, default: &str, release: &str, script: &str) -> PathBuf {
    let root = PathBuf::from(std::env::var_os(variable).unwrap_or_else(|| default.into()));
    assert!(
        root.join(".tails-server-root").exists(),
        "{} is not a finished {release} root: run scripts/setup (or {script})",
        root.display()
    );
    root
}

/// Boot a test host on the Debian 13 root ([`tails7_root`]).
pub fn boot_tails7(items: &[Item]) -> SystemdHost {
    SystemdHost::boot_on(&tails7_root(), items)
}

/// The items every Tails Server host gets: empty Tails Server folders, the binary at [`INSIDE_BIN`], the
/// first-party plugins where an installed Tails Server ships them
/// (/usr/share/tails-server/plugins/NAME.wasm), and the private Tor network's
/// folder shared (its control cookies are read inside).
pub fn tails_server_items(bin: &Path, tor_dir: &Path) -> Vec<Item> {
    let mut items = vec![
        Item::Bind(tor_dir.to_path_buf(), tor_dir.display().to_string()),
        Item::Copy(bin.to_path_buf(), INSIDE_BIN.into()),
    ];
    // Whatever this machine's own Tails Server holds stays out of the tests.
    items.extend(tails_server_trial::empty_state());
    for (name, built) in crate::fixtures::FIRST_PARTY {
        items
            .push(Item::Copy(built.into(), format!("/usr/share/tails-server/plugins/{name}.wasm")));
    }
    items
}

/// The window, `tails-server-gui`, as built for Debian 13 in the Debian 13
/// build root (it links GTK 4.18 and libadwaita 1.7, which this machine's
/// Debian 12 lacks): `$CARGO_TARGET_DIR/debian13/debug/`, beside the target
/// folder of `bin` (the CLI built here).
pub fn window_binary(bin: &Path) -> PathBuf {
    let target = bin.parent().and_then(Path::parent).expect("the CLI is in TARGET/PROFILE/");
    let gui = target.join("debian13/debug/tails-server-gui");
    assert!(gui.exists(), "{} is missing: build it with `scripts/in-build-root cargo build -p tails-server-gui` (scripts/package does)", gui.display());
    gui
}

/// What an installed Tails Server brings for its daemon (`tails-serverd`,
/// built beside `bin`, the CLI), as (file here, path inside): the binary,
/// its unit with a drop-in naming the tor control port `control`, its D-Bus
/// policy and activation file, its polkit actions. `scratch` holds the
/// drop-in and must outlive the boot.
pub fn daemon_files(bin: &Path, control: &str, scratch: &Path) -> Vec<(PathBuf, String)> {
    let daemon = bin.with_file_name("tails-serverd");
    assert!(
        daemon.exists(),
        "{} is missing: build it with `cargo build -p tails-serverd`",
        daemon.display()
    );
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    vec![
        (daemon, "/usr/libexec/tails-serverd".into()),
        (
            data.join("systemd/tails-serverd.service"),
            "/etc/systemd/system/tails-serverd.service".into(),
        ),
        tor_control_dropin("tails-serverd.service", control, scratch),
        (
            data.join("dbus-1/system.d/org.tails.Server.conf"),
            "/usr/share/dbus-1/system.d/org.tails.Server.conf".into(),
        ),
        (
            data.join("dbus-1/system-services/org.tails.Server.service"),
            "/usr/share/dbus-1/system-services/org.tails.Server.service".into(),
        ),
        (
            data.join("polkit-1/actions/org.tails.server.policy"),
            "/usr/share/polkit-1/actions/org.tails.server.policy".into(),
        ),
    ]
}

/// A drop-in that points `unit` at the tor control port `control` (a test
/// host's tor is the private network's service tor), as (file here, path
/// inside); written in `scratch`, which must outlive the boot.
pub fn tor_control_dropin(unit: &str, control: &str, scratch: &Path) -> (PathBuf, String) {
    let dropin = scratch.join(format!("{unit}.tor.conf"));
    std::fs::write(&dropin, format!("[Service]\nEnvironment=TAILS_SERVER_TOR_CONTROL={control}\n"))
        .unwrap();
    (dropin, format!("/etc/systemd/system/{unit}.d/test.conf"))
}

/// A shell line that makes polkit say yes to `user` for `actions` (and
/// nothing else), as an administrator's rule would.
pub fn polkit_grant(user: &str, actions: &[&str]) -> String {
    let ids: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    let rule = format!(
        "polkit.addRule(function(action, subject) {{\n  if ([{}].indexOf(action.id) >= 0 && subject.user == \"{user}\") {{ return polkit.Result.YES; }}\n}});\n",
        ids.join(", ")
    );
    format!("cat > /etc/polkit-1/rules.d/50-tails-server-test.rules <<'EOF'\n{rule}EOF")
}

/// The npm cache `scripts/setup` fills (Etherpad's packages).
pub const NPM_CACHE: &str = "/var/cache/tails-server-tests/npm";

/// What makes npm inside a host install from [`NPM_CACHE`], offline (a host
/// has no network): the cache where the host's own npm cache is
/// (`system::npm`), and `offline=true` in npm's built-in configuration, in
/// npm's own folder, the only file npm reads whatever `--prefix` says.
/// `npmrc` is a scratch file that must outlive the boot.
pub fn npm_offline_items(npmrc: &Path) -> Vec<Item> {
    assert!(
        Path::new(NPM_CACHE).join(".etherpad-1.8.14-trixie").exists(),
        "{NPM_CACHE} is filled by scripts/setup"
    );
    // npm's own folder in the Debian 13 root (Debian's npm: /usr/share/nodejs/npm).
    let out = Command::new("chroot")
        .arg(tails7_root())
        .args(["sh", "-c", "dirname \"$(dirname \"$(readlink -f /usr/bin/npm)\")\""])
        .output()
        .expect("chroot");
    let folder = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && folder.starts_with('/'),
        "npm is not in the Debian 13 root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let builtin =
        std::fs::read_to_string(tails7_root().join(folder.trim_start_matches('/')).join("npmrc"))
            .unwrap_or_default();
    std::fs::write(npmrc, format!("{builtin}offline=true\n")).unwrap();
    vec![
        Item::Bind(NPM_CACHE.into(), "/var/cache/tails-server/npm".into()),
        Item::Copy(npmrc.to_path_buf(), format!("{folder}/npmrc")),
    ]
}

/// A Debian 13 program run on files of this machine's (a configuration a
/// test wrote): chrooted into [`tails7_root`] in a mount namespace of its
/// own, with `/tmp`, `/run` (and `/run/sshd`) fresh tmpfs and `/dev` shared,
/// each of `binds` (folders under /tmp) at the same path inside. The
/// machine is Debian 12; what Tails 7 runs is Debian 13's.
pub fn tails7_command(binds: &[&Path], program: &str) -> Command {
    for bind in binds {
        assert!(
            bind.starts_with("/tmp"),
            "{} must be under /tmp to be bound into the Debian 13 root",
            bind.display()
        );
    }
    let script = "set -e; r=$0; mount -t tmpfs tmpfs \"$r/tmp\"; mount -t tmpfs tmpfs \"$r/run\"; mkdir -p \"$r/run/sshd\"; \
                  mount --rbind /dev \"$r/dev\"; mount -t proc proc \"$r/proc\"; \
                  for b in $TAILS7_BINDS; do mkdir -p \"$r$b\"; mount --bind \"$b\" \"$r$b\"; done; \
                  exec chroot \"$r\" \"$@\"";
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", script])
        .arg(tails7_root())
        .arg(program)
        .env(
            "TAILS7_BINDS",
            binds.iter().map(|b| b.display().to_string()).collect::<Vec<_>>().join(" "),
        );
    cmd
}
