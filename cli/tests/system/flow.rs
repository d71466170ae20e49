//! The whole flow on a systemd host: enable → unit running with the options'
//! configuration → firewall as allow-lan says → reachable through Tor with
//! the client's key; disable → stopped, rules gone, onion gone.

use tails_server_testkit::systemd_host::unit_path;
use tails_server_testkit::tornet::{fetch, Fetch};

use super::{http_get, mumble_answers, mumble_handshake, Boot, World};

const PAGE: &str = "<h1>tails-server system test</h1>";

fn connection(host: &super::Host, service: &str) -> (String, String) {
    let info: serde_json::Value =
        serde_json::from_str(&host.ok(&[service, "connection-info", "--json"])).unwrap();
    (
        info["address"].as_str().unwrap().to_string(),
        info["clients"][0]["private-key"].as_str().unwrap().to_string(),
    )
}

pub fn enable_runs_units_opens_nothing_to_the_lan_and_publishes(w: &World) {
    let takeover = std::path::PathBuf::from(tails_server_testkit::fixtures::CONTRACT_0_2_TAKEOVER);
    let root_parsed = std::path::PathBuf::from(tails_server_testkit::fixtures::HOSTILE_ROOT_PARSED);
    let host = w.host(Boot {
        files: vec![
            (takeover, "/root/takeover.wasm".into()),
            (root_parsed, "/root/root-parsed.wasm".into()),
            (
                tails_server_testkit::fixtures::HOSTILE_NOT_ITS_OWN.into(),
                "/root/not-its-own.wasm".into(),
            ),
        ],
        ..Boot::default()
    });
    // Debian enabled both packages' units: they ran at boot.
    assert_eq!(host.sys.active_state("lighttpd.service"), "active");
    assert_eq!(host.sys.unit_file_state("lighttpd.service"), "enabled");
    host.add_plugins(&["web", "mumble"]);
    // No daemon installed here: a user who is not root is told what to do.
    let user = host
        .sys
        .command("runuser")
        .args(["-u", "nobody", "--", super::INSIDE_BIN, "list"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&user.stderr);
    assert!(
        !user.status.success()
            && said.contains(
                "works through Tails Server's daemon (tails-serverd), and it cannot be reached"
            )
            && said.contains("run this command as root"),
        "{said}"
    );
    host.sys.sh(&format!("mkdir -p /srv/site && echo '{PAGE}' > /srv/site/index.html"));
    host.ok(&["web", "set-option", "folder", "/srv/site"]);
    host.ok(&["mumble", "set-option", "server-password", "correct horse battery"]);
    host.ok(&["mumble", "set-option", "welcome-message", "Hello from the test host"]);

    let out = host.ok(&["web", "enable"]);
    assert!(
        out.contains("lighttpd.service was set to start on its own: stopped and disabled"),
        "{out}"
    );
    assert!(out.contains("✓ unit: lighttpd.service is running"), "{out}");
    host.ok(&["mumble", "enable"]);
    let mumble_started = host.sys.dbus_property(
        &unit_path("mumble-server.service"),
        "Unit",
        "ActiveEnterTimestampMonotonic",
    );

    // A plugin (built for contract 0.2, as the class was found) that asks for
    // lighttpd and names mumble's unit: added, since consent shows both, but
    // its enable is refused while mumble runs on the unit, and mumble runs
    // on, not restarted, with its own drop-in.
    let drop_in = "/run/systemd/system/mumble-server.service.d/tails-server.conf";
    let mumble_drop_in = host.sys.read(drop_in);
    host.ok(&["plugin", "add", "/root/takeover.wasm", "--yes"]);
    let said = host.fails(&["takeover", "enable"]);
    assert!(
        said.contains(
            "its unit mumble-server.service runs the service mumble; disable mumble first"
        ),
        "{said}"
    );
    assert_eq!(host.sys.active_state("mumble-server.service"), "active");
    let started_after = host.sys.dbus_property(
        &unit_path("mumble-server.service"),
        "Unit",
        "ActiveEnterTimestampMonotonic",
    );
    assert!(!mumble_started.is_empty() && mumble_started != "0");
    assert_eq!(mumble_started, started_after, "mumble-server was not restarted");
    assert_eq!(host.sys.read(drop_in), mumble_drop_in, "mumble's drop-in is untouched");

    // Over D-Bus: both units run; lighttpd no longer starts on its own.
    assert_eq!(host.sys.active_state("lighttpd.service"), "active");
    assert_eq!(host.sys.active_state("mumble-server.service"), "active");
    assert_eq!(host.sys.unit_file_state("lighttpd.service"), "disabled");
    // The configuration holds the options' values.
    let conf = host.sys.read("/etc/lighttpd/lighttpd.conf");
    assert!(
        conf.contains("server.document-root = \"/srv/site\"")
            && conf.contains("server.bind = \"127.0.0.1\""),
        "{conf}"
    );
    let ini = host.sys.read("/etc/mumble/mumble-server.ini");
    assert!(
        ini.contains("serverpassword=\"correct horse battery\"")
            && ini.contains("Hello from the test host"),
        "{ini}"
    );
    // The servers answer on their ports.
    assert!(http_get(8080).contains(PAGE), "lighttpd serves the folder");
    assert!(mumble_answers(64738), "murmur answers a UDP ping");
    let status: serde_json::Value =
        serde_json::from_str(&host.ok(&["web", "status", "--json"])).unwrap();
    assert_eq!(
        status,
        serde_json::json!({"enabled": true, "installed": true, "running": true, "published": true})
    );

    // Without allow-lan nothing reaches them from the LAN, and our tagged
    // rules drop their ports from every interface but lo.
    let rules = host.nft_rules();
    assert!(rules.contains("tcp dport 8080 drop comment \"tails-server:web\""), "{rules}");
    assert!(rules.contains("udp dport 64738 drop comment \"tails-server:mumble\""), "{rules}");
    assert!(!w.lan_reaches(8080) && !w.lan_reaches(64738));
    // A unit that fails to start: its result and last log lines are shown,
    // and the service goes on with the previous value. The fault is made by
    // the test (a drop-in refusing a configuration that listens on the LAN).
    host.sys.sh(
        "mkdir -p /etc/systemd/system/lighttpd.service.d && printf '[Service]\\nExecStartPre=/bin/sh -c \"! grep -q 0.0.0.0 /etc/lighttpd/lighttpd.conf\"\\n' \
         > /etc/systemd/system/lighttpd.service.d/test-fault.conf && systemctl daemon-reload",
    );
    let out = host.ts(&["web", "set-option", "allow-lan", "true"]);
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("lighttpd.service: the Restart job ended with `failed`")
            && said.contains("Its last log lines:"),
        "{said}"
    );
    assert!(said.contains("allow-lan was not changed; web runs with the previous value"), "{said}");
    assert_eq!(host.info("web")["options"]["allow-lan"], false);
    assert_eq!(host.sys.active_state("lighttpd.service"), "active");
    assert!(http_get(8080).contains(PAGE));
    host.sys.sh("rm -r /etc/systemd/system/lighttpd.service.d && systemctl daemon-reload");
    // With allow-lan the unit listens on every address and the port is open.
    host.ok(&["web", "set-option", "allow-lan", "true"]);
    assert!(host.sys.read("/etc/lighttpd/lighttpd.conf").contains("server.bind = \"0.0.0.0\""));
    assert!(host.nft_rules().contains("tcp dport 8080 accept comment \"tails-server:web\""));
    assert!(w.lan_reaches(8080), "allow-lan opens the port to the LAN");
    assert!(!w.lan_reaches(64738), "mumble's allow-lan is still off");

    // Through the private Tor network, with the client's key.
    let (web, web_key) = connection(&host, "web");
    let (mumble, mumble_key) = connection(&host, "mumble");
    w.tor.client_key(&web, Some(&web_key));
    w.tor.client_key(&mumble, Some(&mumble_key));
    match fetch(w.tor.client_socks, &web, 80) {
        Fetch::Page(page) => assert!(page.contains(PAGE), "{page}"),
        other => panic!("the web site through Tor: {other:?}"),
    }
    // A Mumble client's handshake: the password lets it in; a wrong one is
    // refused by murmur itself (Reject type 4, WrongServerPW).
    assert_eq!(mumble_handshake(w, &mumble, 64738, "correct horse battery"), "ServerSync");
    let refused = mumble_handshake(w, &mumble, 64738, "guessed");
    assert!(refused.starts_with("Reject 4 "), "{refused}");

    host.ok(&["web", "disable"]);
    host.ok(&["mumble", "disable"]);
    assert_eq!(host.sys.active_state("lighttpd.service"), "inactive");
    assert_eq!(host.sys.active_state("mumble-server.service"), "inactive");
    assert_eq!(
        host.sys.unit_file_state("lighttpd.service"),
        "disabled",
        "left disabled after disable"
    );
    assert!(
        !host.nft_rules().contains("tails-server"),
        "no rule of ours is left:\n{}",
        host.nft_rules()
    );

    // With mumble disabled but still added, takeover is refused first as a
    // second publisher's service run by mumble's user (Debian 13's unit
    // says `User=mumble-server`).
    let said = host.fails(&["takeover", "enable"]);
    assert!(said.contains("it runs as the user mumble-server, and so does the service mumble from another publisher"), "{said}");
    assert_eq!(host.sys.active_state("mumble-server.service"), "inactive");
    // With mumble removed, it is refused because none of its packages ships
    // the unit: the unit is not started, and nothing of the plugin's is left.
    host.ok(&["plugin", "remove", "mumble"]);
    let said = host.fails(&["takeover", "enable"]);
    assert!(
        said.contains("mumble-server.service is not a unit that any of takeover's granted Debian packages (lighttpd) ships"),
        "{said}"
    );
    assert!(said.contains("nothing was left enabled"), "{said}");
    assert_eq!(host.sys.active_state("mumble-server.service"), "inactive");
    let left = host.sys.sh(
        "find /etc/takeover /run/systemd/system/mumble-server.service.d -type f 2>/dev/null; true",
    );
    assert!(left.trim().is_empty(), "left behind: {left}");
    host.ok(&["plugin", "remove", "takeover"]);
    assert!(!w.published(&web) && !w.published(&mumble));
    assert!(!w.lan_reaches(8080));
    w.tor.client_key(&web, None);
    w.tor.client_key(&mumble, None);

    // A plugin asking for exactly what web asks for (lighttpd, its folder,
    // lighttpd.service) to have root parse each of lighttpd's root-read
    // directives: consent says a unit that starts as root is refused, and
    // enable refuses it before anything is configured. No mark of any
    // directive exists, lighttpd's file and unit are as they were.
    host.ok(&["plugin", "remove", "web"]);
    let conf = host.sys.read("/etc/lighttpd/lighttpd.conf");
    let state = host.sys.active_state("lighttpd.service");
    let added = host.ok(&["plugin", "add", "/root/root-parsed.wasm", "--yes"]);
    assert!(added.contains("only if it runs as a user other than root (a unit that starts as root is refused at enable"), "{added}");
    let said = host.fails(&["hostile-root-parsed", "enable"]);
    assert!(said.contains("lighttpd.service starts as root (its unit names no User=): root would read the configuration hostile-root-parsed writes"), "{said}");
    assert!(said.contains("nothing was left enabled"), "{said}");
    let marks = host.sys.sh("ls /var/lib/root-parsed-* /etc/cron.d/root-parsed 2>/dev/null; true");
    assert!(marks.trim().is_empty(), "root ran the plugin's directives: {marks}");
    assert_eq!(host.sys.read("/etc/lighttpd/lighttpd.conf"), conf, "nothing was configured");
    assert_eq!(host.sys.active_state("lighttpd.service"), state);
    host.ok(&["plugin", "remove", "hostile-root-parsed"]);

    // What a plugin may write is decided from what its packages ship and own
    // (dpkg's database here), not from a list of forbidden places: each
    // place root reads that is not its own is named, and nothing is stored.
    let said = host.fails(&["plugin", "add", "/root/not-its-own.wasm", "--yes"]);
    for words in [
        "/var/cache/debconf/ belongs to the package debconf, whose files root acts on (dpkg gives it Priority: important",
        "/etc/manpath.config belongs to the package man-db (/etc/manpath.config), which this plugin does not declare",
        "/etc/inputrc is a file directly in /etc that none of its packages ships",
        "/etc/bash.bash_logout is a file directly in /etc",
        "/etc/hosts.allow is a file directly in /etc that none of its packages ships",
        "A plugin writes only the files and folders its declared Debian packages ship or own",
    ] {
        assert!(said.contains(words), "{words:?} in:\n{said}");
    }
    assert!(!said.contains("- /etc/not-its-own/"), "a folder of its own is its own:\n{said}");
    assert!(!host.ok(&["plugin", "list"]).contains("hostile-not-its-own"));
}

/// Tails' ferm policy drops incoming packets; our iptables chain is what
/// lets the LAN in, and only with allow-lan.
pub fn tails_iptables_rules_follow_allow_lan(w: &World) {
    let host = w.host(Boot::default());
    host.add_plugins(&["web"]);
    // As on Tails: the desktop user amnesia (uid 1000, in the Debian 13
    // root), and a policy that drops what it does not accept.
    // In the legacy xtables tables, where ferm loads Tails' policy.
    host.sys.sh("iptables-legacy -P INPUT DROP && iptables-legacy -A INPUT -i lo -j ACCEPT && iptables-legacy -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT");
    let env = [("TAILS_SERVER_FIREWALL", "iptables")];
    host.ok_with(&env, &["web", "set-option", "allow-lan", "true"]);
    host.ok_with(&env, &["web", "enable"]);
    let rules = host.sys.sh("iptables-legacy-save -t filter");
    assert!(rules.contains("-A TAILS-SERVER-IN ! -i lo -p tcp -m tcp --dport 8080 -m comment --comment \"tails-server:web\" -j ACCEPT"), "{rules}");
    let first_input = rules.lines().find(|l| l.starts_with("-A INPUT")).unwrap_or("");
    assert!(
        first_input.contains("-j TAILS-SERVER-IN"),
        "our jump comes before Tails' rules: {rules}"
    );
    assert!(w.lan_reaches(8080), "allow-lan lets the LAN through the drop policy");
    let amnesia = host.sys.sh("id -u amnesia");
    assert!(
        rules.contains(&format!(
            "-A TAILS-SERVER-OUT -o lo -p tcp -m tcp --dport 8080 -m owner --uid-owner {} ",
            amnesia.trim()
        )),
        "allow-localhost lets the desktop user in: {rules}"
    );

    host.ok_with(&env, &["web", "set-option", "allow-lan", "false"]);
    assert!(!host
        .sys
        .sh("iptables-legacy-save -t filter")
        .contains("-A TAILS-SERVER-IN ! -i lo -p tcp -m tcp --dport 8080"));
    assert!(!w.lan_reaches(8080));

    host.ok_with(&env, &["web", "disable"]);
    let rules = host.sys.sh("iptables-legacy-save -t filter");
    assert!(!rules.contains("tails-server") && !rules.contains("TAILS-SERVER"), "{rules}");
    assert!(rules.contains(":INPUT DROP"), "Tails' own policy is left alone: {rules}");
}
