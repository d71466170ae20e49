//! Tails' own parts, for real (`tails_server_testkit::tails_host`): tor as
//! Tails configures it, Tails' onion-grater with Tails' profiles and ours,
//! Tails' ferm policy. Tails Server publishes, adds and removes a client,
//! rotates the address and disables through onion-grater's port 951 (the
//! way it reaches tor on Tails, ARCHITECTURE.md), the page is fetched
//! through the private Tor network with the client's key, and allow-lan
//! opens exactly its port through Tails' firewall.

use std::path::Path;
use std::process::Stdio;

use tails_server_testkit::systemd_host::INSIDE_BIN;
use tails_server_testkit::tails_host::TailsHost;
use tails_server_testkit::tornet::{fetch, Fetch};

use super::{World, BIN};

const PAGE: &str = "<h1>Served through onion-grater on Tails</h1>";

fn ts(host: &TailsHost, args: &[&str]) -> std::process::Output {
    // No TAILS_SERVER_TOR_CONTROL: Tails Server finds Tails' tor itself.
    host.sys.command(INSIDE_BIN).args(args).stdin(Stdio::null()).output().expect("nsenter")
}

fn ok(host: &TailsHost, args: &[&str]) -> String {
    let out = ts(host, args);
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "tails-server {} failed in the Tails host:\n{text}\nonion-grater:\n{}",
        args.join(" "),
        onion_grater_log(host)
    );
    text
}

fn onion_grater_log(host: &TailsHost) -> String {
    host.sys.sh("journalctl -u onion-grater.service --no-pager | tail -20")
}

fn reached(w: &World, address: &str, key: Option<&str>) -> Fetch {
    w.tor.client_key(address, key);
    fetch(w.tor.client_socks, address, 80)
}

pub fn tails_tor_onion_grater_and_ferm(w: &World) {
    let host =
        TailsHost::boot(&w.tor, Path::new(BIN), &format!("tstails{}", std::process::id()), vec![]);
    // tor runs as Tails configures it.
    for (option, value) in [
        ("Sandbox", "1"),
        ("AvoidDiskWrites", "1"),
        ("ControlPort", "127.0.0.1:9052"),
        ("DisableNetwork", "0"),
    ] {
        let said = host.tor_control(&format!("GETCONF {option}"));
        assert!(said.contains(&format!("250 {option}={value}")), "tor's {option}: {said}");
    }
    let socks = host.tor_control("GETCONF SocksPort");
    assert!(socks.contains("127.0.0.1:9050"), "{socks}");
    // Tails' ferm policy is loaded (legacy iptables, which ferm prefers).
    let rules = host.sys.sh("iptables-legacy-save -t filter");
    assert!(
        rules.contains(":OUTPUT DROP") && rules.contains(":INPUT DROP"),
        "Tails' policy: {rules}"
    );
    assert!(
        rules.contains("--dport 951") && rules.contains("--uid-owner 0"),
        "onion-grater's port for root: {rules}"
    );
    // amnesia may not reach tor's control port (log_reject), as on Tails.
    let amnesia_9052 = host.control_as("amnesia", "/usr/bin/python3", 9052, &["GETINFO version"]);
    assert!(
        amnesia_9052.contains("Connection refused") || amnesia_9052.contains("Errno"),
        "amnesia reached 9052: {amnesia_9052}"
    );

    // Tails Server, as root, at its installed path: through 951, which it
    // prefers on Tails.
    host.sys.sh(&format!("mkdir -p /srv/site && echo '{PAGE}' > /srv/site/index.html"));
    ok(&host, &["plugin", "add", "web", "--yes"]);
    ok(&host, &["web", "set-option", "folder", "/srv/site"]);
    let tor: serde_json::Value =
        serde_json::from_str(&ok(&host, &["tor", "status", "--json"])).unwrap();
    assert_eq!(tor["control"], "127.0.0.1:951", "on Tails, onion-grater first: {tor}");
    assert_eq!(tor["bootstrapped"], true, "{tor}");
    ok(&host, &["web", "enable"]);
    let log = onion_grater_log(&host);
    assert!(
        log.contains("/usr/bin/tails-server (pid:") && log.contains("filter: tails-server"),
        "onion-grater matched our profile:\n{log}"
    );
    assert!(
        !log.contains("filter: None") && !log.contains("command filtered"),
        "nothing of ours was filtered:\n{log}"
    );
    let info: serde_json::Value =
        serde_json::from_str(&ok(&host, &["web", "connection-info", "--json"])).unwrap();
    let address = info["address"].as_str().unwrap().to_string();
    let alice = info["clients"][0]["private-key"].as_str().unwrap().to_string();
    assert!(host.published(&address), "Tails' tor holds web's onion");
    match reached(w, &address, Some(&alice)) {
        Fetch::Page(page) => assert!(page.contains(PAGE), "{page}"),
        other => panic!("web through Tor with alice's key: {other:?}"),
    }

    // A client added and removed (the service published again each time).
    ok(&host, &["web", "client", "add", "bob"]);
    let clients: serde_json::Value =
        serde_json::from_str(&ok(&host, &["web", "client", "list", "--json"])).unwrap();
    assert_eq!(clients.as_array().map(Vec::len), Some(2), "{clients}");
    ok(&host, &["web", "client", "remove", "bob"]);
    assert!(host.published(&address));
    // A new address: the old one is gone from Tails' tor.
    ok(&host, &["web", "rotate-address", "--yes"]);
    let rotated: serde_json::Value =
        serde_json::from_str(&ok(&host, &["web", "connection-info", "--json"])).unwrap();
    let new_address = rotated["address"].as_str().unwrap().to_string();
    assert_ne!(new_address, address);
    assert!(host.published(&new_address) && !host.published(&address), "rotated through 951");

    // allow-lan opens exactly web's port through Tails' policy, and only
    // while it is on.
    assert!(!host.lan_reaches(8080), "Tails' policy keeps the LAN out");
    ok(&host, &["web", "set-option", "allow-lan", "true"]);
    assert!(
        host.lan_reaches(8080),
        "allow-lan lets the LAN reach web's port through Tails' firewall"
    );
    assert!(!host.lan_reaches(8098) && !host.lan_reaches(22), "nothing else");
    ok(&host, &["web", "set-option", "allow-lan", "false"]);
    assert!(!host.lan_reaches(8080));

    ok(&host, &["web", "disable"]);
    assert!(!host.published(&new_address), "disabled through 951");
    let rules = host.sys.sh("iptables-legacy-save -t filter");
    assert!(
        !rules.contains("TAILS-SERVER") && rules.contains(":OUTPUT DROP"),
        "our rules gone, Tails' policy left: {rules}"
    );

    // The same commands from another program are filtered by onion-grater.
    let other_program =
        host.control_as("root", "/usr/bin/python3", 951, &["GETINFO onions/detached"]);
    assert!(other_program.contains("510 Command filtered"), "python3 as root: {other_program}");
    // What Tails Server never sends is refused even from its own path: a
    // stand-in program at /usr/bin/tails-server (Python, copied there)
    // sends commands outside the profile, and one inside it.
    host.sys.sh("cp /usr/bin/python3 /usr/bin/tails-server");
    let key = tails_server_core::tor::keys::OnionKey::generate();
    let allowed = tails_server_core::tor::control::commands::add_onion(&key, 80, 8080, &[]);
    let said = host.control_as(
        "root",
        "/usr/bin/tails-server",
        951,
        &[
            "SETCONF DisableNetwork=1",
            "GETINFO address",
            "ADD_ONION NEW:ED25519-V3 Port=80,127.0.0.1:8080",
            "SIGNAL NEWNYM",
            &allowed,
        ],
    );
    assert_eq!(
        said.matches("510 Command filtered").count(),
        4,
        "every command outside the profile is filtered:\n{said}"
    );
    assert!(
        said.contains("250-ServiceID=")
            && said.contains(&key.address().trim_end_matches(".onion").to_string()),
        "the profile's own shape goes through:\n{said}"
    );
    assert!(
        host.tor_control("GETCONF DisableNetwork").contains("DisableNetwork=0"),
        "tor's network was not disabled"
    );
    // The same program as another user: no filter matches (the profile is root's).
    let as_amnesia =
        host.control_as("amnesia", "/usr/bin/tails-server", 951, &["GETINFO onions/detached"]);
    assert!(as_amnesia.contains("510 Command filtered"), "amnesia: {as_amnesia}");
    let log = onion_grater_log(&host);
    assert!(
        log.lines().any(|l| l.contains("user: amnesia")
            && l.contains("filter: None")
            && l.contains("command filtered: GETINFO onions/detached")),
        "onion-grater matched no filter for amnesia:\n{log}"
    );
}
