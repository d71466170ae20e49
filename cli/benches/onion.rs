//! Benchmark (not a test): seconds from the start of publishing to the first
//! page fetched through the onion service with the client's key, on the
//! private Tor network, median of 7, three ways interleaved round by round
//! (so that the network's moods fall on all three alike): a raw `ADD_ONION`
//! by hand on the control port (the floor), `onionshare-cli --website`
//! (Debian's package), and `tails-server web enable`. Printed with the ratios
//! to the floor.
//!
//! Run: `cargo bench -p tails-server --bench onion` (needs `onionshare-cli`
//! for its column; without it the other two are printed).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tails_server_core::tor::keys::ClientKey;
use tails_server_testkit::tornet::{fetch, serve, Fetch, TorNet};
use tails_server_testkit::{fixtures, median, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_tails-server");
const RUNS: usize = 7;

/// Fetch until a page comes, bounded; the time it took.
fn until_page(net: &TorNet, address: &str, port: u16) -> Option<Instant> {
    for _ in 0..40 {
        if let Fetch::Page(page) = fetch(net.client_socks, address, port) {
            if page.starts_with("HTTP/1") {
                return Some(Instant::now());
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

/// The floor: ADD_ONION with a client key, then fetch at once.
fn raw_once(net: &TorNet) -> Option<f64> {
    let client = ClientKey::generate();
    let start = Instant::now();
    let reply = net
        .control("service", &format!("ADD_ONION NEW:ED25519-V3 Flags=Detach,V3Auth Port=80,127.0.0.1:8080 ClientAuthV3={}", client.public_base32()))
        .ok()?;
    let id = reply.lines().find_map(|l| l.strip_prefix("250-ServiceID="))?.trim().to_string();
    let address = format!("{id}.onion");
    net.client_key(&address, Some(&client.private_base32()));
    let done = until_page(net, &address, 80);
    let _ = net.control("service", &format!("DEL_ONION {id}"));
    net.client_key(&address, None);
    done.map(|d| (d - start).as_secs_f64())
}

/// Ours: (enable → first page, enable alone).
fn ours_once(net: &TorNet) -> Option<(f64, f64)> {
    let mut sandbox = Sandbox::new(BIN);
    sandbox.env("TAILS_SERVER_TOR_CONTROL", &net.service_control());
    sandbox.ok(&["plugin", "add", fixtures::WEB, "--yes"]);
    let start = Instant::now();
    sandbox.ok(&["web", "enable"]);
    let enabled = start.elapsed().as_secs_f64();
    let info: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["web", "connection-info", "--json"])).unwrap();
    let address = info["address"].as_str().unwrap();
    net.client_key(address, info["clients"][0]["private-key"].as_str());
    let done = until_page(net, address, 80);
    sandbox.ok(&["web", "disable"]);
    net.client_key(address, None);
    done.map(|d| ((d - start).as_secs_f64(), enabled))
}

fn onionshare_once(net: &TorNet) -> Option<f64> {
    let port = net.node("service").control_port;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "hello").unwrap();
    let config = dir.path().join("settings.json");
    std::fs::write(
        &config,
        format!(r#"{{"connection_type": "control_port", "control_port_address": "127.0.0.1", "control_port_port": {port}, "auth_type": "no_auth"}}"#),
    )
    .unwrap();
    let mut time = None;
    {
        let start = Instant::now();
        let mut child = Command::new("onionshare-cli")
            .arg("--config")
            .arg(&config)
            .arg("--website")
            .arg(dir.path().join("index.html"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        // It prints the address, then the private key.
        let mut address = None;
        let mut key = None;
        let mut said = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok) {
            said.push(line.clone());
            if let Some(i) = line.find("http://") {
                address = line[i + 7..].split(['/', ' ']).next().map(str::to_string);
            }
            if let Some(k) = line.strip_prefix("Private key: ") {
                key = Some(k.trim().to_string());
            }
            if address.is_some() && key.is_some() {
                break;
            }
            if start.elapsed() > Duration::from_secs(120) {
                break;
            }
        }
        if let (Some(address), Some(key)) = (address, key) {
            net.client_key(&address, Some(&key));
            if let Some(done) = until_page(net, &address, 80) {
                time = Some((done - start).as_secs_f64());
            }
            net.client_key(&address, None);
        } else {
            println!(
                "onionshare-cli gave no address; it said:\n{}",
                said.iter().rev().take(8).rev().cloned().collect::<Vec<_>>().join("\n")
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    time
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let onionshare = Command::new("onionshare-cli")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    println!("Starting a private Tor network…");
    let net = TorNet::start();
    serve(8080, "hello from the onion");
    let (mut raw, mut share, mut ours, mut enables) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 1..=RUNS {
        raw.extend(raw_once(&net));
        if onionshare {
            share.extend(onionshare_once(&net));
        }
        if let Some((total, enable)) = ours_once(&net) {
            ours.push(total);
            enables.push(enable);
        }
        println!(
            "round {round}: raw {:?} onionshare {:?} tails-server {:?}",
            raw.last(),
            share.last(),
            ours.last()
        );
    }
    let floor = median(&raw);
    println!(
        "\nstart → first page through Tor with the client's key, median of {RUNS} (interleaved):"
    );
    println!("  raw ADD_ONION by hand      {floor:.2} s  (1.00 × floor)  {raw:.2?}");
    if onionshare && !share.is_empty() {
        println!(
            "  onionshare-cli --website   {:.2} s  ({:.2} × floor)  {share:.2?}",
            median(&share),
            median(&share) / floor
        );
    } else {
        println!("  onionshare-cli: not installed or no run reached a page (apt-get install onionshare-cli)");
    }
    println!(
        "  tails-server web enable    {:.2} s  ({:.2} × floor)  {ours:.2?}",
        median(&ours),
        median(&ours) / floor
    );
    println!("  (tails-server enable alone returns after {:.2} s)", median(&enables));
}
