//! Benchmark (not a test): seconds from `enable` to the first successful
//! connection through the onion service on the private Tor network, median of
//! several runs, beside the same figure for `onionshare-cli --website`
//! (Debian's package) on the same network.
//!
//! Run: `cargo bench -p tails-server --bench onion` (needs `onionshare-cli`
//! for the comparison; without it only our figure is printed).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tails_server_testkit::tornet::{fetch, serve, Fetch, TorNet};
use tails_server_testkit::{fixtures, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_tails-server");
const RUNS: usize = 5;

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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn ours(net: &TorNet) -> Vec<f64> {
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let mut sandbox = Sandbox::new(BIN);
        sandbox.env("TAILS_SERVER_TOR_CONTROL", &net.service_control());
        sandbox.ok(&["plugin", "add", fixtures::WEB, "--yes"]);
        let start = Instant::now();
        sandbox.ok(&["web", "enable"]);
        let info: serde_json::Value = serde_json::from_str(&sandbox.ok(&["web", "connection-info", "--json"])).unwrap();
        let address = info["address"].as_str().unwrap();
        net.client_key(address, info["clients"][0]["private-key"].as_str());
        if let Some(done) = until_page(net, address, 80) {
            times.push((done - start).as_secs_f64());
        }
        sandbox.ok(&["web", "disable"]);
    }
    times
}

fn onionshare(net: &TorNet) -> Option<Vec<f64>> {
    Command::new("onionshare-cli").arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().ok()?;
    let port = net.node("service").control_port;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "hello").unwrap();
    let config = dir.path().join("settings.json");
    std::fs::write(
        &config,
        format!(r#"{{"connection_type": "control_port", "control_port_address": "127.0.0.1", "control_port_port": {port}, "auth_type": "no_auth"}}"#),
    )
    .unwrap();
    let mut times = Vec::new();
    for _ in 0..RUNS {
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
                times.push((done - start).as_secs_f64());
            }
        } else {
            println!("onionshare-cli gave no address; it said:\n{}", said.iter().rev().take(8).rev().cloned().collect::<Vec<_>>().join("\n"));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    Some(times)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("Starting a private Tor network…");
    let net = TorNet::start();
    serve(8080, "hello from the onion");
    let ours = ours(&net);
    println!("tails-server web enable → first page through Tor: median {:.2} s over {} runs {ours:.2?}", median(ours.clone()), ours.len());
    match onionshare(&net) {
        Some(times) if !times.is_empty() => {
            println!("onionshare-cli --website → first page through Tor: median {:.2} s over {} runs {times:.2?}", median(times.clone()), times.len())
        }
        Some(_) => println!("onionshare-cli: no run reached a page"),
        None => println!("onionshare-cli is not installed (apt-get install onionshare-cli) — no comparison"),
    }
}
