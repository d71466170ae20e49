//! Benchmark (not a test): the time of each step of `enable` (and of
//! `disable`) with the packages already installed, for the `web` and `mumble`
//! plugins and the `hello` fixture (whose program comes from npm, here from a
//! loopback registry) in a systemd test host on the private Tor network.
//! Median and range over several runs, as enable prints them (`[0.12 s]`);
//! for `hello` also the first enable's packages step, a real `npm install`.
//!
//! Run (as root): `cargo bench -p tails-server --bench enable_steps`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use tails_server_testkit::npm_registry::{pack, NpmRegistry};
use tails_server_testkit::systemd_host::{
    boot_tails7, tails_server_items, Item, NetNs, INSIDE_BIN,
};
use tails_server_testkit::tornet::TorNet;
use tails_server_testkit::{enable_step_seconds, ENABLE_STEPS};

const BIN: &str = env!("CARGO_BIN_EXE_tails-server");
const RUNS: usize = 7;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let netns = NetNs::new(&format!("tsbench{}", std::process::id()));
    netns.enter();
    let net = TorNet::start();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/npm-hello/npm");
    let registry = NpmRegistry::start(vec![
        pack(&sources.join("tails-server-hello-greeting")),
        pack(&sources.join("tails-server-hello")),
    ]);
    let mut items = tails_server_items(Path::new(BIN), net.dir());
    items.push(Item::Copy(
        tails_server_testkit::fixtures::NPM_HELLO.into(),
        "/root/hello.wasm".into(),
    ));
    let host = boot_tails7(&items);
    let ts = |args: &[&str]| {
        let mut cmd = host.command(INSIDE_BIN);
        cmd.args(args)
            .env("TAILS_SERVER_TOR_CONTROL", net.service_control())
            .env("npm_config_registry", &registry.url);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for service in ["web", "mumble", "hello"] {
        // The first-party plugins are shipped (added by name); the fixture is a file.
        let plugin =
            if service == "hello" { "/root/hello.wasm".to_string() } else { service.to_string() };
        ts(&["plugin", "add", &plugin, "--yes"]);
        // First run: vendor unit stopped, key made; npm packages installed.
        let first = ts(&[service, "enable"]);
        if service == "hello" {
            println!("hello: first enable's packages step (npm install of 2 packages from the loopback registry): {:.3} s", enable_step_seconds(&first, "packages"));
        }
        ts(&[service, "disable"]);
        let mut steps: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let (mut enables, mut disables) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let started = Instant::now();
            let out = ts(&[service, "enable"]);
            enables.push(started.elapsed().as_secs_f64());
            for step in ENABLE_STEPS {
                steps.entry(step).or_default().push(enable_step_seconds(&out, step));
            }
            let started = Instant::now();
            ts(&[service, "disable"]);
            disables.push(started.elapsed().as_secs_f64());
        }
        println!("{service}: enable with packages installed, {RUNS} runs (median, min-max):");
        for step in ENABLE_STEPS {
            println!("  {step:<10} {}", figure(steps.remove(step).unwrap()));
        }
        println!(
            "  {:<10} {}  (whole command, from the test, through nsenter)",
            "enable",
            figure(enables)
        );
        println!("  {:<10} {}", "disable", figure(disables));
    }
}

fn figure(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!("{:>7.3} s  ({:.3}-{:.3})", v[v.len() / 2], v[0], v[v.len() - 1])
}
