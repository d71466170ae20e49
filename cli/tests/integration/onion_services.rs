//! Onion services for real, over the private Tor network: client
//! authorization, client removal, disable, a tor restart and reconcile.

use std::time::Duration;

use tails_server_testkit::tornet::{fetch, serve, Fetch, OfflineTor};
use tails_server_testkit::{fixtures, Sandbox};

use super::{exclusive_sandbox_with_tor, sandbox_with_tor, tornet, BIN};

const PAGE: &str = "hello from the onion";

/// Fetch until the page comes (descriptors take a moment to reach every
/// HSDir); bounded.
fn fetch_page(address: &str, port: u16) -> String {
    let net = tornet();
    let mut last = None;
    for _ in 0..15 {
        match fetch(net.client_socks, address, port) {
            Fetch::Page(page) => return page,
            refused => last = Some(refused),
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    panic!("{address}:{port} did not answer through Tor: {last:?}");
}

fn connection(sandbox: &Sandbox, service: &str) -> serde_json::Value {
    serde_json::from_str(&sandbox.ok(&[service, "connection-info", "--json"])).unwrap()
}

fn key_of(info: &serde_json::Value, client: &str) -> String {
    let clients = info["clients"].as_array().unwrap();
    let found = clients
        .iter()
        .find(|c| c["name"] == client)
        .unwrap_or_else(|| panic!("no client {client} in {info}"));
    found["private-key"].as_str().unwrap().to_string()
}

#[test]
fn a_web_site_is_reachable_only_with_a_client_key() {
    let net = tornet();
    // Under --root no unit is started (the system tests start lighttpd for
    // real): the test serves the web plugin's target port itself.
    serve(8080, PAGE);
    let sandbox = exclusive_sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::WEB, "--yes"]);
    let enabled = sandbox.ok(&["web", "enable"]);
    assert!(enabled.contains("made the first client, `default`"), "{enabled}");
    assert!(
        enabled.contains("Key for Tor Browser:") && enabled.contains('▀'),
        "connection info with QR codes:\n{enabled}"
    );
    sandbox.ok(&["web", "client", "add", "bob"]);

    let info = connection(&sandbox, "web");
    let address = info["address"].as_str().unwrap().to_string();
    assert_eq!(info["port"], 80);
    let default_key = key_of(&info, "default");
    let bob_key = key_of(&info, "bob");
    assert_eq!(default_key.len(), 52);
    let line = info["clients"][0]["auth-private"].as_str().unwrap();
    assert!(
        line.starts_with(&format!("{}:descriptor:x25519:", address.trim_end_matches(".onion"))),
        "{line}"
    );
    assert!(info["text"].as_str().unwrap().contains(&format!("http://{address}/")));

    let yaml = sandbox.ok(&["web", "info"]);
    assert!(
        yaml.contains(&format!("address: {address}")) && yaml.contains("published: true"),
        "{yaml}"
    );

    // Without a key: SOCKS says the client key is missing.
    net.client_key(&address, None);
    assert_eq!(fetch(net.client_socks, &address, 80), Fetch::Refused(0xF4));
    // With one: the page.
    net.client_key(&address, Some(&default_key));
    assert!(fetch_page(&address, 80).contains(PAGE));

    // A removed client's key no longer works; another client's still does.
    sandbox.ok(&["web", "client", "remove", "default"]);
    net.client_key(&address, Some(&default_key));
    assert!(
        matches!(fetch(net.client_socks, &address, 80), Fetch::Refused(_)),
        "the removed client still connects"
    );
    net.client_key(&address, Some(&bob_key));
    assert!(fetch_page(&address, 80).contains(PAGE));

    // After the service's tor restarts, reconcile publishes it at the same address.
    net.restart_service_tor();
    assert!(sandbox.ok(&["web", "info"]).contains("published: false"));
    let out = sandbox.ok(&["reconcile"]);
    assert!(out.contains(&format!("web: published again at {address}")), "{out}");
    assert!(sandbox.ok(&["reconcile"]).contains("Nothing to do"));
    net.client_key(&address, Some(&bob_key));
    assert!(fetch_page(&address, 80).contains(PAGE));

    // After disable the address no longer answers.
    sandbox.ok(&["web", "disable"]);
    assert!(sandbox.ok(&["web", "info"]).contains("published: false"));
    net.client_key(&address, Some(&bob_key));
    assert!(matches!(fetch(net.client_socks, &address, 80), Fetch::Refused(_)));

    // Enabled again, it comes back at the same address.
    sandbox.ok(&["web", "enable"]);
    assert_eq!(connection(&sandbox, "web")["address"], address.as_str());
    sandbox.ok(&["web", "disable"]);
}

#[test]
fn rotate_address_asks_and_makes_a_new_one() {
    let sandbox = sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::MUMBLE, "--yes"]);
    sandbox.ok(&["mumble", "enable"]);
    let old = connection(&sandbox, "mumble")["address"].as_str().unwrap().to_string();
    assert!(connection(&sandbox, "mumble")["text"]
        .as_str()
        .unwrap()
        .contains(&format!("mumble://{old}:64738/")));
    let refused = sandbox.run(&["mumble", "rotate-address"], "n\n");
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(connection(&sandbox, "mumble")["address"], old.as_str());
    sandbox.ok(&["mumble", "rotate-address", "--yes"]);
    let new = connection(&sandbox, "mumble")["address"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let held = tornet().control("service", "GETINFO onions/detached").unwrap();
    assert!(
        held.contains(new.trim_end_matches(".onion"))
            && !held.contains(old.trim_end_matches(".onion")),
        "{held}"
    );
    sandbox.ok(&["mumble", "disable"]);
    let held = tornet().control("service", "GETINFO onions/detached").unwrap();
    assert!(
        !held.contains(new.trim_end_matches(".onion")),
        "nothing left of a disabled service: {held}"
    );
}

#[test]
fn client_authorization_off_warns_and_publishes_without_keys() {
    let sandbox = sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::WEB, "--yes"]);
    let out = sandbox.run(&["web", "set-option", "client-authorization", "off"], "");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Keep the address secret"));
    sandbox.ok(&["web", "enable"]);
    let info = connection(&sandbox, "web");
    assert_eq!(info["client-authorization"], false);
    assert!(info["clients"].as_array().unwrap().is_empty());
    sandbox.ok(&["web", "disable"]);
}

#[test]
fn tor_status_says_which_tor_and_whether_it_is_bootstrapped() {
    let sandbox = sandbox_with_tor();
    let status: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["tor", "status", "--json"])).unwrap();
    assert_eq!(status["bootstrapped"], true);
    assert_eq!(status["auth"], "SafeCookie");
    assert!(status["tor"].as_str().unwrap().starts_with("configured tor at 127.0.0.1:"));
}

#[test]
fn a_tor_that_is_not_bootstrapped_gives_a_clear_message() {
    let offline = OfflineTor::start();
    let mut sandbox = Sandbox::new(BIN);
    sandbox.env("TAILS_SERVER_TOR_CONTROL", &format!("127.0.0.1:{}", offline.control_port));
    sandbox.env("TAILS_SERVER_TOR_TIMEOUT_SECS", "2");
    sandbox.ok(&["plugin", "add", fixtures::WEB, "--yes"]);
    let out = sandbox.fails(&["web", "enable"]);
    assert!(out.contains("is not connected to the Tor network yet (0% bootstrapped"), "{out}");
    assert!(sandbox.ok(&["web", "status"]).contains("enabled: false"));
    assert!(sandbox.ok(&["tor", "status"]).contains("bootstrapped: false"));
}

#[test]
fn no_tor_at_all_is_a_clear_error() {
    let sandbox = Sandbox::new(BIN);
    sandbox.ok(&["plugin", "add", fixtures::WEB, "--yes"]);
    assert!(sandbox.fails(&["web", "connection-info"]).contains("is not published yet"));
    let out = sandbox.fails(&["web", "enable"]);
    assert!(
        out.contains("the configured tor at unix:") && out.contains("does not answer"),
        "{out}"
    );
    assert!(sandbox.ok(&["web", "status"]).contains("enabled: false"));
    assert!(sandbox.fails(&["tor", "status"]).contains("does not answer"));
}
