//! System tests: `enable` for real, inside disposable systemd test hosts.
//!
//! The process moves into a network namespace of its own; there it starts the
//! private Tor network and boots test hosts (systemd as PID 1 of their own PID
//! and mount namespaces, sharing this network namespace), so a host's units,
//! the service tor and the client tor all meet on this namespace's loopback.
//! A second namespace, joined by a veth pair, plays the LAN. Tests run one
//! after another (hosts are heavy and share the network); `cargo test --test
//! system NAME` runs the tests whose name contains NAME.

mod authoring;
mod catalog;
mod crash;
mod daemon;
mod flow;
mod gui;
mod migration;
mod npm;
mod package;
mod packages;
mod reboot;
mod tails;

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tails_server_testkit::systemd_host::{
    boot_tails7, npm_offline_items, tails6_root, tails_server_items, tor_control_dropin, Item,
    NetNs, SystemdHost, INSIDE_BIN,
};
use tails_server_testkit::tornet::TorNet;

pub const BIN: &str = env!("CARGO_BIN_EXE_tails-server");
/// The test host's address on the veth pair, and the LAN peer's.
pub const HOST_IP: &str = "10.231.7.1";
pub const LAN_IP: &str = "10.231.7.2";

pub struct World {
    pub tor: TorNet,
    pub lan: NetNs,
    _own: NetNs,
}

/// A test host with the binary and the plugins copied in, and the private
/// Tor network's files shared.
pub struct Host {
    pub sys: SystemdHost,
    control: String,
}

#[derive(Default)]
pub struct Boot<'a> {
    /// Mounted at Tails' Persistent Storage path inside.
    pub persistent: Option<&'a Path>,
    /// Install and enable tails-server-autostart.service.
    pub autostart: bool,
    /// Extra files to copy in.
    pub files: Vec<(PathBuf, String)>,
    /// npm installs from the cache `scripts/setup` filled (Etherpad's
    /// packages), offline: the host has no network.
    pub npm_cache: bool,
    /// Folders of this machine shared with the host (outside, inside).
    pub binds: Vec<(PathBuf, String)>,
    /// Nothing of Tails Server copied in: the test installs its packages.
    pub bare: bool,
    /// Boot Tails 6's base (the Debian 12 root) instead of Tails 7's.
    pub tails6: bool,
}

impl World {
    /// Boot a host. Netfilter rules live in the network namespace, which
    /// hosts share: like a real boot, each host starts with none.
    pub fn host(&self, boot: Boot) -> Host {
        let flushed = Command::new("nft").args(["flush", "ruleset"]).status().expect("nft");
        assert!(flushed.success());
        // And the legacy xtables tables (where ferm's policy goes), which
        // nft does not see.
        let legacy = "iptables-legacy -P INPUT ACCEPT && iptables-legacy -P OUTPUT ACCEPT && iptables-legacy -F && iptables-legacy -X";
        let flushed = Command::new("sh").args(["-c", legacy]).status().expect("sh");
        assert!(flushed.success(), "{legacy}");
        let control = self.tor.service_control();
        let mut items = if boot.bare {
            vec![Item::Bind(self.tor.dir().to_path_buf(), self.tor.dir().display().to_string())]
        } else {
            tails_server_items(Path::new(BIN), self.tor.dir())
        };
        // Debian's ferm starts at boot with Debian's policy; these hosts share
        // the test's network namespace, whose firewall is the test's. Tails'
        // own ferm policy runs in the Tails host (tails.rs), which has a
        // namespace of its own.
        items.push(Item::Mask("ferm.service".into()));
        if let Some(dir) = boot.persistent {
            items
                .push(Item::Bind(dir.to_path_buf(), "/live/persistence/TailsData_unlocked".into()));
        }
        let scratch = tempfile::tempdir().unwrap();
        if boot.autostart {
            let unit = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../data/systemd/tails-server-autostart.service");
            items.push(Item::Copy(
                unit,
                "/etc/systemd/system/tails-server-autostart.service".into(),
            ));
            let (dropin, inside) =
                tor_control_dropin("tails-server-autostart.service", &control, scratch.path());
            items.push(Item::Copy(dropin, inside));
            items.push(Item::Wants("tails-server-autostart.service".into()));
        }
        for (from, inside) in boot.files {
            items.push(Item::Copy(from, inside));
        }
        for (from, inside) in boot.binds {
            items.push(Item::Bind(from, inside));
        }
        let npmrc = tempfile::NamedTempFile::new().unwrap();
        if boot.npm_cache {
            items.extend(npm_offline_items(npmrc.path()));
        }
        let sys = if boot.tails6 {
            SystemdHost::boot_on(&tails6_root(), &items)
        } else {
            boot_tails7(&items)
        };
        Host { sys, control }
    }

    /// Is the onion service of `address` held by the service tor?
    pub fn published(&self, address: &str) -> bool {
        let id = address.trim_end_matches(".onion");
        self.tor.control("service", "GETINFO onions/detached").expect("service tor").contains(id)
    }

    /// Can the LAN peer open a TCP connection to the host's `port`?
    pub fn lan_reaches(&self, port: u16) -> bool {
        self.lan.run(move || {
            let addr: SocketAddr = format!("{HOST_IP}:{port}").parse().unwrap();
            TcpStream::connect_timeout(&addr, Duration::from_secs(3)).is_ok()
        })
    }
}

impl Host {
    /// `tails-server ARGS` inside the host, using the private network's tor.
    pub fn ts_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.sys.command(INSIDE_BIN);
        cmd.args(args).env("TAILS_SERVER_TOR_CONTROL", &self.control).stdin(Stdio::null());
        cmd
    }

    /// `program ARGS` as `user`, with no input.
    pub fn as_user(&self, user: &str, program: &str, args: &[&str]) -> Output {
        self.sys
            .command("runuser")
            .args(["-u", user, "--", program])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("runuser")
    }

    /// `tails-server ARGS` as `user`; must succeed. Its output only (what a
    /// person reads), errors shown if it fails.
    pub fn user_ok(&self, user: &str, args: &[&str]) -> String {
        let out = self.as_user(user, INSIDE_BIN, args);
        assert!(
            out.status.success(),
            "as {user}: tails-server {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn ts(&self, args: &[&str]) -> Output {
        self.ts_command(args).output().expect("nsenter")
    }

    /// Run and require success; stdout and stderr together.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with(&[], args)
    }

    pub fn ok_with(&self, env: &[(&str, &str)], args: &[&str]) -> String {
        let out = self.ts_command(args).envs(env.iter().copied()).output().expect("nsenter");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "tails-server {} failed in the test host:\n{text}",
            args.join(" ")
        );
        text
    }

    /// Run and require failure; stdout and stderr together.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.ts(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "tails-server {} should have failed in the test host:\n{text}",
            args.join(" ")
        );
        text
    }

    pub fn info(&self, service: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&[service, "info", "--details", "--json", "--show-secrets"]))
            .unwrap()
    }

    pub fn add_plugins(&self, names: &[&str]) {
        for name in names {
            self.ok(&["plugin", "add", name, "--yes"]);
        }
    }

    /// Our firewall rules in the host's network namespace (nftables).
    pub fn nft_rules(&self) -> String {
        String::from_utf8_lossy(&self.sys.run("nft", &["list", "ruleset"]).stdout).into_owned()
    }
}

/// GET / from 127.0.0.1:port (the namespace's loopback, which hosts share).
pub fn http_get(port: u16) -> String {
    http_get_path(port, "/")
}

pub fn http_get_path(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(3),
    ) else {
        return String::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes());
    let mut page = String::new();
    let _ = s.read_to_string(&mut page);
    page
}

/// GET / once the server listens (a `Type=simple` unit is active before its
/// program listens); bounded, empty if it never answers.
pub fn page_when_up(port: u16) -> String {
    path_when_up(port, "/")
}

pub fn path_when_up(port: u16, path: &str) -> String {
    for _ in 0..100 {
        let page = http_get_path(port, path);
        if !page.is_empty() {
            return page;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    String::new()
}

/// A Mumble client's handshake through the client tor (`tests/clients/mumble.py`):
/// TLS, Version, Authenticate with `password`; what the server answered
/// (`ServerSync`, or `Reject TYPE REASON`).
pub fn mumble_handshake(w: &World, address: &str, port: u16, password: &str) -> String {
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/mumble.py");
    let out = Command::new("python3")
        .arg(client)
        .args([&w.tor.client_socks.to_string(), address, &port.to_string(), password])
        .output()
        .expect("python3");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        .trim()
        .to_string()
}

/// Mumble's UDP ping: 4 zero bytes and an 8-byte ident; a running murmur
/// answers 24 bytes echoing the ident. Bounded retries.
pub fn mumble_answers(port: u16) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let ident = *b"tailsts1";
    let mut ping = vec![0u8; 4];
    ping.extend_from_slice(&ident);
    for _ in 0..20 {
        let _ = socket.send_to(&ping, ("127.0.0.1", port));
        let mut buf = [0u8; 64];
        if let Ok(n) = socket.recv(&mut buf) {
            return n == 24 && buf[4..12] == ident;
        }
    }
    false
}

type Test = (&'static str, fn(&World));

const TESTS: &[Test] = &[
    (
        "enable_runs_units_opens_nothing_to_the_lan_and_publishes",
        flow::enable_runs_units_opens_nothing_to_the_lan_and_publishes,
    ),
    ("tails_iptables_rules_follow_allow_lan", flow::tails_iptables_rules_follow_allow_lan),
    ("tails_tor_onion_grater_and_ferm", tails::tails_tor_onion_grater_and_ferm),
    (
        "packages_are_installed_with_apt_after_waiting_for_the_lock",
        packages::packages_are_installed_with_apt_after_waiting_for_the_lock,
    ),
    (
        "npm_packages_are_installed_into_the_service_folder_and_run",
        npm::npm_packages_are_installed_into_the_service_folder_and_run,
    ),
    ("kill_at_each_step_then_repair", crash::kill_at_each_step_then_repair),
    ("persistence_and_autostart_across_reboots", reboot::persistence_and_autostart_across_reboots),
    (
        "services_work_through_tor_with_their_real_clients",
        catalog::services_work_through_tor_with_their_real_clients,
    ),
    ("catalog_data_survives_a_reboot", catalog::catalog_data_survives_a_reboot),
    (
        "tails6_persistent_storage_comes_back_on_tails7",
        migration::tails6_persistent_storage_comes_back_on_tails7,
    ),
    ("daemon_serves_users_as_polkit_allows", daemon::daemon_serves_users_as_polkit_allows),
    (
        "window_adds_enables_shares_and_disables_web",
        gui::window_adds_enables_shares_and_disables_web,
    ),
    (
        "debian_packages_install_serve_amnesia_and_leave_nothing",
        package::debian_packages_install_serve_amnesia_and_leave_nothing,
    ),
    (
        "plugin_new_projects_build_and_pass_plugin_try",
        authoring::plugin_new_projects_build_and_pass_plugin_try,
    ),
];

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if std::env::args().any(|a| a == "--list") {
        for (name, _) in TESTS {
            println!("{name}: test");
        }
        return;
    }
    let chosen: Vec<&Test> = TESTS
        .iter()
        .filter(|(name, _)| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if chosen.is_empty() {
        println!("running 0 tests");
        return;
    }
    // SAFETY: getuid has no preconditions.
    assert_eq!(
        unsafe { libc::getuid() },
        0,
        "the system tests boot systemd test hosts and need root"
    );

    let pid = std::process::id();
    let own = NetNs::new(&format!("tsys{pid}"));
    own.enter();
    let lan = NetNs::new(&format!("tlan{pid}"));
    lan.link_from_here(&format!("{HOST_IP}/24"), &format!("{LAN_IP}/24"));
    let up = Command::new("ip").args(["link", "set", "lo", "up"]).status().unwrap();
    assert!(up.success());
    println!("starting the private Tor network in namespace {} ...", own.name);
    let world = World { tor: TorNet::start(), lan, _own: own };

    println!("running {} tests", chosen.len());
    let mut failed = Vec::new();
    for (name, test) in chosen {
        let started = std::time::Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(&world)));
        let took = started.elapsed().as_secs_f32();
        match result {
            Ok(()) => println!("test {name} ... ok ({took:.1} s)"),
            Err(_) => {
                println!("test {name} ... FAILED ({took:.1} s)");
                failed.push(*name);
            }
        }
    }
    drop(world);
    if failed.is_empty() {
        println!("\ntest result: ok");
    } else {
        println!("\ntest result: FAILED: {}", failed.join(", "));
        std::process::exit(1);
    }
}
