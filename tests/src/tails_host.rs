//! A test host with Tails' own parts, from `../shared/tails/` (Tails'
//! files, unchanged, never copied into this repository), started as Tails
//! starts them, on the Debian 13 root:
//!
//! - tor with Tails' torrc as `/etc/tor/torrc` (ControlPort 127.0.0.1:9052
//!   with its cookie, SocksPort 9050, Sandbox 1, AvoidDiskWrites 1,
//!   DisableNetwork 1 until, as Tails' Tor Connection does, it is told
//!   `DisableNetwork=0` on 9052), under Debian's service defaults as Tails
//!   runs it; joined to the private Tor network by a second defaults file
//!   (its authorities, `TestingTorNetwork 1`);
//! - onion-grater on port 951 with Tails' profiles and ours;
//! - ferm loading Tails' `ferm.conf`;
//! - the `amnesia` user (uid 1000, the root's) and `/etc/amnesia/version`;
//! - `/live/persistence/TailsData_unlocked/` with `persistence.conf` and
//!   `live-additional-software.conf` in Tails' format.
//!
//! Tails' firewall would cut the test harness and the private Tor network off
//! if they shared its network namespace, so the host gets one of its own:
//! its tor reaches the network's relays through [`Forwarder`] (each relay's
//! ports, on the host's loopback), and a "LAN" namespace is joined to it by a
//! veth pair. What stands in for what cannot run here:
//! - AppArmor: this kernel has none, and onion-grater then fails to read
//!   `/proc/PID/attr/current`; `tests/tails/onion-grater-without-apparmor`
//!   runs Tails' onion-grater unchanged but answers that read with
//!   `unconfined`, what Tails' kernel says of a process without a profile
//!   (onion-grater then knows it by its executable's path, as on Tails);
//! - `veth-tbb`, Tor Browser's namespace link, which Tails' torrc listens on
//!   (10.200.1.1): one end of a veth pair inside the host's namespace, with
//!   that address (Tails' other end is in Tor Browser's namespace; the
//!   kernels tests run on may lack the dummy device type);
//! - `/etc/amnesia/version`: one line in its format (Tails' own is not in
//!   `../shared/tails/`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::systemd_host::{boot_tails7, tails_server_items, Item, NetNs, SystemdHost};
use crate::tornet::TorNet;

/// Tails' own files, beside this checkout (`../shared/tails/`).
pub fn shared_tails() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tails");
    assert!(
        dir.join("onion-grater").exists(),
        "{} is missing: Tails' own files are kept in ../shared/tails beside the checkout",
        dir.display()
    );
    dir
}

/// The host's address on its "LAN" veth, and the LAN peer's.
pub const TAILS_HOST_IP: &str = "10.231.9.1";
pub const TAILS_LAN_IP: &str = "10.231.9.2";

/// How long Tails' tor may take to bootstrap once its network is enabled.
const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(180);

pub struct TailsHost {
    pub sys: SystemdHost,
    /// The host's network namespace, and the LAN's, joined by a veth pair.
    pub netns: NetNs,
    pub lan: NetNs,
    _forwarder: Forwarder,
    _scratch: tempfile::TempDir,
}

/// Debian's tor unit (tor@default.service) under another name (the test
/// hosts mask Debian's own: the other hosts use the private network's
/// service tor), with a second defaults file that joins the private network.
const TOR_UNIT: &str = "[Unit]\nDescription=Tails' tor (Debian's tor@default, joined to the private Tor network)\n\
After=network-online.target nss-lookup.target\n\n[Service]\nType=notify\nNotifyAccess=all\nPIDFile=/run/tor/tor.pid\n\
PermissionsStartOnly=yes\nExecStartPre=/usr/bin/install -Z -m 02755 -o debian-tor -g debian-tor -d /run/tor\n\
ExecStart=/usr/bin/tor --defaults-torrc /etc/tor/test-network-defaults-torrc -f /etc/tor/torrc --RunAsDaemon 0\n\
KillSignal=SIGINT\nTimeoutStartSec=300\nRestart=on-failure\nLimitNOFILE=65536\nNoNewPrivileges=yes\nPrivateTmp=yes\n\
PrivateDevices=yes\nProtectHome=yes\nProtectSystem=full\nReadOnlyDirectories=/\nReadWriteDirectories=-/proc\n\
ReadWriteDirectories=-/var/lib/tor\nReadWriteDirectories=-/var/log/tor\nReadWriteDirectories=-/run\n\
CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_NET_BIND_SERVICE CAP_DAC_READ_SEARCH\n\n[Install]\nWantedBy=multi-user.target\n";

pub const TOR_UNIT_NAME: &str = "tails-tor.service";

/// Persistent Storage's configuration as Tails writes it (tps): one line per
/// feature, `DEST source=NAME[,link]`.
pub const PERSISTENCE_CONF: &str =
    "/home/amnesia/Persistent\tsource=Persistent\n/home/amnesia/.gnupg\tsource=gnupg\n\
/var/cache/apt/archives\tsource=apt/cache\n/var/lib/apt/lists\tsource=apt/lists\n";

/// The system accounts Tails' ferm.conf names that a Debian root lacks.
const TAILS_ACCOUNTS: &[&str] =
    &["Debian-gdm", "clearnet", "htp", "tails-iuk-get-target-file", "tails-upgrade-frontend"];

impl TailsHost {
    /// Boot it, bring Tails' tor onto the network (as Tor Connection does)
    /// and wait (bounded) until it has bootstrapped. `bin`: tails-server.
    pub fn boot(net: &TorNet, bin: &Path, name: &str, extra: Vec<Item>) -> TailsHost {
        let tails = shared_tails();
        let scratch = tempfile::tempdir().unwrap();
        let netns = NetNs::new(name);
        let lan = NetNs::new(&format!("{name}l"));
        {
            let (lan_name, host_ip, lan_ip) =
                (lan.name.clone(), format!("{TAILS_HOST_IP}/24"), format!("{TAILS_LAN_IP}/24"));
            netns.run(move || {
                // Made by the caller's NetNs, which deletes it: not this handle.
                let lan = NetNs { name: lan_name };
                lan.link_from_here(&host_ip, &lan_ip);
                std::mem::forget(lan);
            });
        }
        ip(&[
            "-n",
            &netns.name,
            "link",
            "add",
            "veth-tbb",
            "type",
            "veth",
            "peer",
            "name",
            "tbb-peer",
        ]);
        ip(&["-n", &netns.name, "addr", "add", "10.200.1.1/24", "dev", "veth-tbb"]);
        ip(&["-n", &netns.name, "link", "set", "tbb-peer", "up"]);
        ip(&["-n", &netns.name, "link", "set", "veth-tbb", "up"]);
        let forwarder = Forwarder::start(&netns, &net.relay_ports());

        let file = |name: &str, text: &str| {
            let path = scratch.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let root = crate::systemd_host::tails7_root();
        let debian_defaults =
            std::fs::read_to_string(root.join("usr/share/tor/tor-service-defaults-torrc")).unwrap();
        let defaults = file(
            "test-network-defaults-torrc",
            &format!(
                "{debian_defaults}\n# The private Tor network of the tests (not Tails').\nTestingTorNetwork 1\nPathsNeededToBuildCircuits 0.67\n{}",
                net.dir_authority_lines()
            ),
        );
        let wrapper =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tails/onion-grater-without-apparmor");
        let dropin = file(
            "onion-grater-dropin.conf",
            "[Service]\n# No AppArmor on this kernel: see tests/tails/onion-grater-without-apparmor.\nExecStart=\nExecStart=/usr/bin/python3 /usr/local/lib/onion-grater-without-apparmor --listen-address 0.0.0.0\n",
        );
        // Tails' packages (gdm3, tails-iuk, htp, …) make the system accounts
        // its firewall names; a Debian root has few of them, and
        // iptables-restore refuses a rule for an unknown user.
        let accounts = file(
            "ferm-accounts.conf",
            &format!(
                "[Service]\n# Tails' system accounts that ferm.conf names (made by Tails' packages on Tails; $$ is systemd's $).\n\
                 ExecStartPre=/bin/sh -c 'for u in {}; do id -u $$u >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin $$u; done'\n",
                TAILS_ACCOUNTS.join(" ")
            ),
        );
        let persistent = scratch.path().join("TailsData_unlocked");
        std::fs::create_dir(&persistent).unwrap();
        std::fs::write(persistent.join("persistence.conf"), PERSISTENCE_CONF).unwrap();
        std::fs::write(persistent.join("live-additional-software.conf"), "").unwrap();
        // tps keeps these 0600, owned by root (tps/config_file.py).
        for conf in ["persistence.conf", "live-additional-software.conf"] {
            std::fs::set_permissions(
                persistent.join(conf),
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .unwrap();
        }

        let mut items = tails_server_items(bin, net.dir());
        items.extend([
            Item::Copy(tails.join("etc/tor/torrc"), "/etc/tor/torrc".into()),
            Item::Copy(defaults, "/etc/tor/test-network-defaults-torrc".into()),
            Item::Copy(
                file(TOR_UNIT_NAME, TOR_UNIT),
                format!("/etc/systemd/system/{TOR_UNIT_NAME}"),
            ),
            Item::Wants(TOR_UNIT_NAME.into()),
            Item::Copy(tails.join("onion-grater"), "/usr/local/lib/onion-grater".into()),
            Item::Copy(wrapper, "/usr/local/lib/onion-grater-without-apparmor".into()),
            Item::Copy(
                tails.join("systemd/onion-grater.service"),
                "/etc/systemd/system/onion-grater.service".into(),
            ),
            Item::Copy(
                dropin,
                "/etc/systemd/system/onion-grater.service.d/no-apparmor.conf".into(),
            ),
            Item::Wants("onion-grater.service".into()),
            Item::Copy(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/onion-grater/tails-server.yml"),
                "/etc/onion-grater.d/tails-server.yml".into(),
            ),
            Item::Copy(tails.join("etc/ferm/ferm.conf"), "/etc/ferm/ferm.conf".into()),
            Item::Copy(accounts, "/etc/systemd/system/ferm.service.d/tails-accounts.conf".into()),
            Item::Copy(file("amnesia-version", "7.0 - 20250918\n"), "/etc/amnesia/version".into()),
            Item::Bind(persistent, "/live/persistence/TailsData_unlocked".into()),
        ]);
        for profile in std::fs::read_dir(tails.join("etc/onion-grater.d")).unwrap().flatten() {
            items.push(Item::Copy(
                profile.path(),
                format!("/etc/onion-grater.d/{}", profile.file_name().to_string_lossy()),
            ));
        }
        items.extend(extra);
        let sys = netns.run(move || boot_tails7(&items));
        let host = TailsHost { sys, netns, lan, _forwarder: forwarder, _scratch: scratch };
        host.wait_active("ferm.service");
        host.wait_active(TOR_UNIT_NAME);
        host.wait_active("onion-grater.service");
        // As Tails' Tor Connection, once the person chose to connect.
        let said = host.tor_control("SETCONF DisableNetwork=0");
        assert!(said.contains("250 OK"), "SETCONF DisableNetwork=0 on 9052: {said}");
        let deadline = Instant::now() + BOOTSTRAP_TIMEOUT;
        let mut phase = String::new();
        while Instant::now() < deadline {
            phase = host.tor_control("GETINFO status/bootstrap-phase");
            if phase.contains("PROGRESS=100") {
                return host;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!(
            "Tails' tor did not bootstrap: {phase}\n{}",
            host.sys.sh("journalctl -u tails-tor.service --no-pager | tail -30")
        );
    }

    fn wait_active(&self, unit: &str) {
        for _ in 0..100 {
            if self.sys.active_state(unit) == "active" {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{unit} is not active in the Tails host:\n{}",
            self.sys.sh(&format!("journalctl -u {unit} --no-pager | tail -30"))
        );
    }

    /// One command to Tails' tor on 127.0.0.1:9052, as root with its cookie
    /// (what onion-grater and Tor Connection do); the reply.
    pub fn tor_control(&self, command: &str) -> String {
        self.control_as("root", "/usr/bin/python3", 9052, &[command])
    }

    /// Commands sent by `program` (a Python interpreter at that path, so that
    /// onion-grater sees that executable) as `user` to `port`, after
    /// authenticating as the port asks (cookie on 9052, none on 951); every
    /// reply, in order.
    pub fn control_as(&self, user: &str, program: &str, port: u16, commands: &[&str]) -> String {
        let script = format!(
            "import socket,sys\n\
             s=socket.create_connection(('127.0.0.1',{port}),timeout=20)\n\
             f=s.makefile('rwb')\n\
             def ask(line):\n\
             \x20 f.write(line.encode()+b'\\r\\n'); f.flush(); out=b''\n\
             \x20 while True:\n\
             \x20\x20 l=f.readline()\n\
             \x20\x20 if not l: return out.decode()+'(closed)\\n'\n\
             \x20\x20 out+=l\n\
             \x20\x20 if len(l)>3 and l[3:4]==b' ': return out.decode()\n\
             auth='AUTHENTICATE'\n\
             if {port}==9052: auth+=' '+open('/run/tor/control.authcookie','rb').read().hex()\n\
             a=ask(auth)\n\
             if not a.startswith('250'): print(a); sys.exit(0)\n\
             for c in sys.argv[1:]: print(ask(c), end='')\n"
        );
        let out = self
            .sys
            .command("runuser")
            .args(["-u", user, "--", program, "-c", &script])
            .args(commands)
            .output()
            .expect("runuser");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }

    /// Is the onion service of `address` held by Tails' tor?
    pub fn published(&self, address: &str) -> bool {
        self.tor_control("GETINFO onions/detached").contains(address.trim_end_matches(".onion"))
    }

    /// Can the LAN peer open a TCP connection to the host's `port`?
    pub fn lan_reaches(&self, port: u16) -> bool {
        self.lan.run(move || {
            let addr: std::net::SocketAddr = format!("{TAILS_HOST_IP}:{port}").parse().unwrap();
            TcpStream::connect_timeout(&addr, Duration::from_secs(3)).is_ok()
        })
    }
}

/// Each relay port of the private Tor network, listened on in another
/// network namespace's loopback and carried to this one's: how a tor behind
/// Tails' firewall, in a namespace of its own, reaches the network. Stopped
/// (its listeners closed) on drop; connections in flight end with their
/// peers.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
}

impl Forwarder {
    pub fn start(inside: &NetNs, ports: &[u16]) -> Forwarder {
        let stop = Arc::new(AtomicBool::new(false));
        let wanted = ports.to_vec();
        // Sockets belong to the namespace of the thread that makes them.
        let listeners = inside.run(move || {
            wanted
                .iter()
                .map(|p| {
                    (
                        *p,
                        TcpListener::bind(("127.0.0.1", *p))
                            .expect("a relay port in the host's namespace"),
                    )
                })
                .collect::<Vec<_>>()
        });
        for (port, listener) in listeners {
            listener.set_nonblocking(true).unwrap();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((inner, _)) => {
                            inner.set_nonblocking(false).unwrap();
                            if let Ok(outer) = TcpStream::connect(("127.0.0.1", port)) {
                                pipe(inner, outer);
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            });
        }
        Forwarder { stop }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copy both ways until either side closes.
fn pipe(a: TcpStream, b: TcpStream) {
    let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let copy = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 << 10];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 || to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    };
    copy(a, b2);
    copy(b, a2);
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
