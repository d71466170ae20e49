//! Benchmark (not a test): what each service of the catalog costs, in one
//! systemd test host on the private Tor network, with its packages already
//! installed (Etherpad's npm packages from the cache `scripts/setup` fills):
//!
//! - `enable`'s steps, as enable prints them (median of a few runs);
//! - from the end of `enable` to the service's first answer through Tor with
//!   the client's key (the descriptor published and fetched, a circuit built,
//!   the server answering a first message of its protocol; Etherpad is also
//!   waited for to listen, which is most of its time);
//! - the resident memory of the running service: every process of its unit's
//!   cgroup (VmRSS summed), a few seconds after that first answer.
//!
//! Run (as root): `cargo bench -p tails-server --bench catalog [-- SERVICE...]`.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use tails_server_testkit::systemd_host::{
    boot_tails7, npm_offline_items, tails_server_items, NetNs, SystemdHost, INSIDE_BIN,
};
use tails_server_testkit::tornet::{self, TorNet};
use tails_server_testkit::{enable_step_seconds, median, ENABLE_STEPS};

const BIN: &str = env!("CARGO_BIN_EXE_tails-server");
const RUNS: usize = 3;

/// Each service: its unit, the onion's port, and the first message of its
/// protocol (an answer of any kind counts).
const SERVICES: &[(&str, &str, u16, &str)] = &[
    ("web", "lighttpd.service", 80, "GET / HTTP/1.0\r\n\r\n"),
    ("mumble", "mumble-server.service", 64738, ""),
    ("irc", "ngircd.service", 6667, "NICK bench\r\nUSER bench 0 * :bench\r\n"),
    ("gobby", "tails-server-gobby.service", 6523, "<stream:stream version=\"1.0\" xmlns=\"jabber:client\" xmlns:stream=\"http://etherx.jabber.org/streams\" to=\"x\">"),
    ("xmpp", "prosody.service", 5222, "<stream:stream version=\"1.0\" xmlns=\"jabber:client\" xmlns:stream=\"http://etherx.jabber.org/streams\" to=\"x\">"),
    ("icecast", "tails-server-icecast.service", 8000, "GET / HTTP/1.0\r\n\r\n"),
    ("etherpad", "tails-server-etherpad.service", 80, "GET /api HTTP/1.0\r\n\r\n"),
    ("drop", "tails-server-drop.service", 80, "GET / HTTP/1.0\r\n\r\n"),
    ("wiki", "tails-server-wiki.service", 80, "GET /doku.php HTTP/1.0\r\n\r\n"),
    ("mediawiki", "tails-server-mediawiki.service", 80, "GET /api.php HTTP/1.0\r\n\r\n"),
    ("sftp", "tails-server-sftp.service", 22, "SSH-2.0-bench\r\n"),
    ("ssh", "tails-server-ssh.service", 22, "SSH-2.0-bench\r\n"),
];

/// Services that will not start without someone's key.
const NEED_KEYS: &[&str] = &["sftp", "ssh"];

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // Services named after `--` only (`cargo bench … -- wiki mediawiki`); all by default.
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let netns = NetNs::new(&format!("tscat{}", std::process::id()));
    netns.enter();
    let net = TorNet::start();
    let mut items = tails_server_items(Path::new(BIN), net.dir());
    // As the catalog's system test: npm offline, from the cache.
    let npmrc = tempfile::NamedTempFile::new().unwrap();
    items.extend(npm_offline_items(npmrc.path()));
    let host = boot_tails7(&items);
    let ts = |args: &[&str]| {
        let out = host
            .command(INSIDE_BIN)
            .args(args)
            .env("TAILS_SERVER_TOR_CONTROL", net.service_control())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    println!("Each service in a systemd test host, packages installed; enable's steps: median of {RUNS} runs, in seconds.");
    println!(
        "{:<9} {:>8} {:>9} {:>6} {:>8} {:>7} {:>7} | {:>13} | {:>9}",
        "service",
        "packages",
        "configure",
        "unit",
        "firewall",
        "publish",
        "enable",
        "first answer",
        "memory"
    );
    for &(service, unit, port, probe) in
        SERVICES.iter().filter(|s| only.is_empty() || only.iter().any(|o| o == s.0))
    {
        ts(&["plugin", "add", service, "--yes"]);
        if NEED_KEYS.contains(&service) {
            let keys = tempfile::tempdir().unwrap();
            ts(&[
                service,
                "set-option",
                "keys",
                &tails_server_testkit::ssh_key(keys.path(), "bench").1,
            ]);
        }
        // The first enable installs (npm for Etherpad) and makes the key.
        ts(&[service, "enable"]);
        ts(&[service, "disable"]);
        let mut steps = vec![Vec::new(); ENABLE_STEPS.len()];
        let mut wholes = Vec::new();
        for run in 0..RUNS {
            let started = Instant::now();
            let out = ts(&[service, "enable"]);
            let enabled = Instant::now();
            wholes.push((enabled - started).as_secs_f64());
            for (i, step) in ENABLE_STEPS.iter().enumerate() {
                steps[i].push(enable_step_seconds(&out, step));
            }
            if run == RUNS - 1 {
                let info: serde_json::Value =
                    serde_json::from_str(&ts(&[service, "connection-info", "--json"])).unwrap();
                let address = info["address"].as_str().unwrap().to_string();
                net.client_key(&address, info["clients"][0]["private-key"].as_str());
                answer_through_tor(&net, &address, port, probe)
                    .unwrap_or_else(|e| panic!("{service}: {e}"));
                // From the end of enable, key lookup included, as a person would wait.
                let since = enabled.elapsed();
                std::thread::sleep(Duration::from_secs(3));
                let memory = resident_kib(&host, unit);
                println!(
                    "{service:<9} {:>8.3} {:>9.3} {:>6.3} {:>8.3} {:>7.3} {:>7.3} | {:>11.1} s | {:>6.1} MiB",
                    median(&steps[0]),
                    median(&steps[1]),
                    median(&steps[2]),
                    median(&steps[3]),
                    median(&steps[4]),
                    median(&wholes),
                    since.as_secs_f64(),
                    memory as f64 / 1024.0
                );
                net.client_key(&address, None);
            }
            ts(&[service, "disable"]);
        }
    }
}

/// Connect through the client tor and send `probe` until the service answers
/// (bounded: 180 s). Mumble's probe is the connection alone (its first
/// message is TLS).
fn answer_through_tor(net: &TorNet, address: &str, port: u16, probe: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(mut stream) = tornet::connect(net.client_socks, address, port) {
            if probe.is_empty() {
                return Ok(());
            }
            stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut byte = [0u8; 1];
            if stream.write_all(probe.as_bytes()).is_ok() && matches!(stream.read(&mut byte), Ok(1))
            {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err("no answer through Tor in 180 s".into());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Resident memory of every process in the unit's cgroup, in KiB.
fn resident_kib(host: &SystemdHost, unit: &str) -> u64 {
    host.unit_pids(unit)
        .iter()
        .map(|pid| {
            host.sh(&format!("awk '/^VmRSS/ {{print $2}}' /proc/{pid}/status 2>/dev/null || true"))
        })
        .filter_map(|kib| kib.trim().parse::<u64>().ok())
        .sum()
}
