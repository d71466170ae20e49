//! The main job, shown on a machine without internet: start a private Tor
//! network on loopback, add the `web` plugin to a throw-away root, enable it
//! (configuration written, onion service published with client
//! authorization), and fetch the page through Tor with the client's key.
//!
//! Run: `scripts/demo` (or `cargo run -p tails-server --example demo`).

use std::process::Command;

use tails_server_testkit::tornet::{fetch, serve, Fetch, TorNet};
use tails_server_testkit::fixtures;

fn main() {
    let bin = std::env::var("TAILS_SERVER_BIN").expect("scripts/demo sets TAILS_SERVER_BIN");
    let root = tempfile::Builder::new().prefix("tails-server-demo").tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib/dpkg")).unwrap();
    std::fs::copy("/var/lib/dpkg/status", root.path().join("var/lib/dpkg/status")).unwrap();

    println!("== Starting a private Tor network on loopback (about 30-40 s)…");
    let net = TorNet::start();
    // Starting lighttpd is the system-integration step, not built yet: the
    // demo serves the web plugin's local port itself.
    serve(8080, "<h1>Hello from Tails Server, through Tor</h1>\n");

    let run = |args: &[&str]| {
        println!("\n$ tails-server {}", args.join(" "));
        let status = Command::new(&bin)
            .args(args)
            .env("TAILS_SERVER_ROOT", root.path())
            .env("TAILS_SERVER_TOR_CONTROL", net.service_control())
            .status()
            .expect("run tails-server");
        assert!(status.success(), "tails-server {args:?} failed");
    };
    run(&["plugin", "add", fixtures::WEB, "--yes"]);
    run(&["web", "enable"]);
    run(&["web", "info"]);

    let out = Command::new(&bin)
        .args(["web", "connection-info", "--json"])
        .env("TAILS_SERVER_ROOT", root.path())
        .env("TAILS_SERVER_TOR_CONTROL", net.service_control())
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let address = info["address"].as_str().unwrap().to_string();
    let key = info["clients"][0]["private-key"].as_str().unwrap().to_string();

    println!("\n== Fetching http://{address}/ through the client tor, with the client's key…");
    net.client_key(&address, Some(&key));
    let mut result = None;
    for _ in 0..30 {
        match fetch(net.client_socks, &address, 80) {
            Fetch::Page(page) => {
                result = Some(page);
                break;
            }
            Fetch::Refused(_) => std::thread::sleep(std::time::Duration::from_secs(2)),
        }
    }
    match result {
        Some(page) => println!("{page}"),
        None => panic!("the page did not come through Tor"),
    }
    net.client_key(&address, None);
    match fetch(net.client_socks, &address, 80) {
        Fetch::Refused(code) => println!("== Without the key, Tor refuses the connection (SOCKS error {code:#04x})."),
        Fetch::Page(_) => panic!("the page came without a key"),
    }
    run(&["web", "disable"]);
    println!("\n== Done; the Tor network and the demo root are removed.");
}
