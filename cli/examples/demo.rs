//! The main job, shown on a machine without Tails or internet: start a
//! private Tor network and a systemd test host in a network namespace of
//! their own, add the `web` plugin inside, enable it (lighttpd installed,
//! configured, started by systemd, firewall closed to the LAN, onion service
//! published with client authorization), and fetch the page through Tor with
//! the client's key. Needs root (namespaces).
//!
//! Run: `scripts/demo`.

use std::path::Path;
use std::process::Command;

use tails_server_testkit::systemd_host::{boot_tails7, tails_server_items, NetNs, INSIDE_BIN};
use tails_server_testkit::tornet::{fetch, Fetch, TorNet};

const PAGE: &str = "<h1>Hello from Tails Server, through Tor</h1>";

fn main() {
    let bin = std::env::var("TAILS_SERVER_BIN").expect("scripts/demo sets TAILS_SERVER_BIN");
    let netns = NetNs::new(&format!("tsdemo{}", std::process::id()));
    netns.enter();
    println!(
        "== Starting a private Tor network in network namespace {} (about 30-60 s)…",
        netns.name
    );
    let net = TorNet::start();
    println!("== Booting a systemd test host (its own PID and mount namespaces, an overlay of a Debian 13 root, as Tails 7)…");
    let host = boot_tails7(&tails_server_items(Path::new(&bin), net.dir()));
    host.sh(&format!("echo '{PAGE}' > /var/www/html/index.html"));

    let tails_server = |args: &[&str]| -> Command {
        let mut cmd = host.command(INSIDE_BIN);
        cmd.args(args).env("TAILS_SERVER_TOR_CONTROL", net.service_control());
        cmd
    };
    let run = |args: &[&str]| {
        println!("\n(test host) $ tails-server {}", args.join(" "));
        assert!(
            tails_server(args).status().expect("run tails-server").success(),
            "tails-server {args:?} failed"
        );
    };
    run(&["plugin", "add", "web", "--yes"]);
    run(&["web", "enable"]);
    run(&["web", "info"]);
    println!("\n(over D-Bus) lighttpd.service is {}", host.active_state("lighttpd.service"));

    let out = tails_server(&["web", "connection-info", "--json"]).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let address = info["address"].as_str().unwrap().to_string();
    let key = info["clients"][0]["private-key"].as_str().unwrap().to_string();

    println!("\n== Fetching http://{address}/ through the client tor, with the client's key…");
    net.client_key(&address, Some(&key));
    match fetch(net.client_socks, &address, 80) {
        Fetch::Page(page) => println!("{page}"),
        Fetch::Refused(code) => {
            panic!("the page did not come through Tor (SOCKS error {code:#04x})")
        }
    }
    net.client_key(&address, None);
    match fetch(net.client_socks, &address, 80) {
        Fetch::Refused(code) => {
            println!("== Without the key, Tor refuses the connection (SOCKS error {code:#04x}).")
        }
        Fetch::Page(_) => panic!("the page came without a key"),
    }
    run(&["web", "disable"]);
    println!("\n== Done; the test host, the Tor network and the namespace are removed.");
}
