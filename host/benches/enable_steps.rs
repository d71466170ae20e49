//! Benchmark (not a test): the time of each step of `enable` (and of
//! `disable`) with the packages already installed, for the `web` and `mumble`
//! plugins in a systemd test host on the private Tor network. Median and
//! range over several runs, as enable prints them (`[0.12 s]`).
//!
//! Run (as root): `cargo bench -p tails-server --bench enable_steps`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use tails_server_testkit::systemd_host::{tails_server_items, NetNs, SystemdHost, INSIDE_BIN};
use tails_server_testkit::tornet::TorNet;

const BIN: &str = env!("CARGO_BIN_EXE_tails-server");
const RUNS: usize = 7;
const STEPS: [&str; 5] = ["packages", "configure", "unit", "firewall", "publish"];

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let netns = NetNs::new(&format!("tsbench{}", std::process::id()));
    netns.enter();
    let net = TorNet::start();
    let host = SystemdHost::boot(&tails_server_items(Path::new(BIN), net.dir()));
    let ts = |args: &[&str]| {
        let out = host.command(INSIDE_BIN).args(args).env("TAILS_SERVER_TOR_CONTROL", net.service_control()).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for service in ["web", "mumble"] {
        ts(&["plugin", "add", &format!("/root/{service}.wasm"), "--yes"]);
        ts(&[service, "enable"]); // first run: vendor unit stopped, key made
        ts(&[service, "disable"]);
        let mut steps: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let (mut enables, mut disables) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let started = Instant::now();
            let out = ts(&[service, "enable"]);
            enables.push(started.elapsed().as_secs_f64());
            for step in STEPS {
                let line = out.lines().find(|l| l.trim_start().starts_with(&format!("✓ {step}:"))).expect("a line per step");
                let secs = line.rsplit_once('[').and_then(|(_, t)| t.trim_end_matches(" s]").parse::<f64>().ok()).expect("a time");
                steps.entry(step).or_default().push(secs);
            }
            let started = Instant::now();
            ts(&[service, "disable"]);
            disables.push(started.elapsed().as_secs_f64());
        }
        println!("{service}: enable with packages installed, {RUNS} runs (median, min-max):");
        for step in STEPS {
            println!("  {step:<10} {}", figure(steps.remove(step).unwrap()));
        }
        println!("  {:<10} {}  (whole command, from the test, through nsenter)", "enable", figure(enables));
        println!("  {:<10} {}", "disable", figure(disables));
    }
}

fn figure(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!("{:>7.3} s  ({:.3}-{:.3})", v[v.len() / 2], v[0], v[v.len() - 1])
}
