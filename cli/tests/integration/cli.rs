//! The real `tails-server` binary, driven as a user would: consent, info,
//! options, enable/disable, list, remove, upgrades, the service-named link.

use std::os::unix::fs::{symlink, PermissionsExt};

use tails_server_testkit::{changes, fixtures, snapshot, text, Sandbox};

use super::BIN;

fn with(plugin: &str) -> Sandbox {
    let sandbox = Sandbox::new(BIN);
    sandbox.ok(&["plugin", "add", plugin, "--yes"]);
    sandbox
}

/// With the private Tor network, for tests that enable.
fn with_tor(plugin: &str) -> super::TorSandbox<std::sync::RwLockReadGuard<'static, ()>> {
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", plugin, "--yes"]);
    sandbox
}

#[test]
fn add_shows_every_capability_and_takes_consent_on_stdin() {
    let sandbox = Sandbox::new(BIN);
    let out = sandbox.run(&["plugin", "add", fixtures::MUMBLE], "y\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for line in [
        "Plugin: mumble — A low-latency, high quality voice chat server",
        "install the Debian package mumble-server   [package:mumble-server]",
        "read and write the file /etc/mumble/mumble-server.ini; kept in Persistent Storage when persistence is on   [file:/etc/mumble/mumble-server.ini]",
        "read and write files in the folder /var/lib/mumble-server/; kept in Persistent Storage when persistence is on   [folder:/var/lib/mumble-server/]",
        "listen on port 64738/tcp (voice chat (control)); tor sends the onion service's clients here   [port:64738/tcp]",
        "start, restart and stop the systemd unit mumble-server.service that one of its Debian packages ships",
        "From:   signed by ed25519:",
        "listen on port 64738/udp (voice chat (audio))   [port:64738/udp]",
        "Allow mumble to do this? [y/N]",
    ] {
        assert!(shown.contains(line), "missing {line:?} in:\n{shown}");
    }
    let show = sandbox.ok(&["plugin", "show", "mumble"]);
    assert_eq!(show.matches("granted ").count(), 6, "{show}");
    assert!(show.contains(&format!("from:     signed by {}", fixtures::TEST_PUBLISHER)), "{show}");
    assert!(sandbox.ok(&["plugin", "list"]).starts_with("mumble "));
}

#[test]
fn no_or_no_answer_refuses_and_stores_nothing() {
    for answer in ["n\n", "", "maybe\n"] {
        let sandbox = Sandbox::new(BIN);
        let before = snapshot(&sandbox.root);
        let out = sandbox.run(&["plugin", "add", fixtures::WEB], answer);
        assert_eq!(out.status.code(), Some(1), "answer {answer:?}");
        assert!(text(&out.stderr).contains("permission was not granted; nothing was stored"));
        assert_eq!(changes(&before, &snapshot(&sandbox.root)), Vec::<String>::new());
        assert!(!sandbox.state.join("plugins/web").exists());
        assert_eq!(
            std::fs::read_dir(sandbox.state.join("cache")).map(|d| d.count()).unwrap_or(0),
            0
        );
        assert!(sandbox.ok(&["list"]).contains("No services yet"));
    }
}

#[test]
fn info_is_yaml_with_the_documented_keys_and_json_too() {
    let sandbox = with(fixtures::MUMBLE);
    let yaml = sandbox.ok(&["mumble", "info"]);
    let keys: Vec<&str> = yaml
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('-'))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "description",
            "installed",
            "running",
            "published",
            "address",
            "local-port",
            "remote-port",
            "persistent-paths",
            "options"
        ]
    );
    assert!(yaml.contains("installed: true"), "the sandbox's dpkg lists mumble-server:\n{yaml}");
    assert!(yaml.contains("  server-password: '********'"), "{yaml}");
    assert!(yaml.contains("  max-users: 100"));

    let json: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["mumble", "info", "--json", "--show-secrets"])).unwrap();
    assert_eq!(json["local-port"], 64738);
    assert_eq!(json["published"], false);
    assert_eq!(json["running"], serde_json::Value::Null);
    let password = json["options"]["server-password"].as_str().unwrap();
    assert_eq!(password.len(), 20, "a random password was generated at add: {password}");

    let details: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["mumble", "info", "--details", "--json"])).unwrap();
    assert_eq!(details["systemd-service"], "mumble-server.service");
    assert_eq!(details["capabilities"]["package:mumble-server"], "granted");
    assert!(details["journal"]["operation"].is_null(), "nothing under way: {details}");

    // Without the package in dpkg's database, installed is false.
    std::fs::write(
        sandbox.path("/var/lib/dpkg/status"),
        tails_server_testkit::dpkg_status(&["lighttpd"]),
    )
    .unwrap();
    assert!(sandbox.ok(&["mumble", "status"]).contains("installed: false"));
}

#[test]
fn secrets_are_stored_0600_and_masked_unless_asked() {
    let sandbox = with_tor(fixtures::MUMBLE);
    sandbox.ok(&["mumble", "set-option", "server-password", "correct horse"]);
    assert!(sandbox.ok(&["mumble", "get-option", "server-password"]).starts_with("********"));
    assert_eq!(
        sandbox.ok(&["mumble", "get-option", "server-password", "--show-secret"]).trim(),
        "correct horse"
    );
    let state = sandbox.state.join("services/mumble/state.json");
    assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!sandbox.ok(&["mumble", "info"]).contains("correct horse"));
    sandbox.ok(&["mumble", "enable"]);
    let ini = sandbox.path("/etc/mumble/mumble-server.ini");
    assert_eq!(
        std::fs::metadata(&ini).unwrap().permissions().mode() & 0o777,
        0o600,
        "the config holds the password"
    );
    assert!(std::fs::read_to_string(&ini).unwrap().contains("serverpassword=\"correct horse\""));
}

#[test]
fn options_are_checked_by_type_then_by_the_plugin() {
    let sandbox = with(fixtures::WEB);
    sandbox.ok(&["web", "set-option", "directory-listing", "yes"]);
    assert_eq!(sandbox.ok(&["web", "get-option", "directory-listing"]).trim(), "true");
    sandbox.ok(&["web", "set-option", "virtual-port", "8080"]);
    assert_eq!(sandbox.ok(&["web", "get-option", "virtual-port"]).trim(), "8080");

    let table: &[(&[&str], &str)] = &[
        (&["web", "set-option", "directory-listing", "maybe"], "expected true or false"),
        (&["web", "set-option", "virtual-port", "70000"], "expected a port number from 1 to 65535"),
        (&["web", "set-option", "folder", "relative/path"], "must be an absolute path"),
        (&["web", "set-option", "folder", "/srv/../etc"], "must not contain `..`"),
        (&["web", "set-option", "folder", "/"], "not / or a system folder"),
        (&["web", "set-option", "folder", "/etc/ssh"], "not / or a system folder"),
        (
            &["web", "set-option", "folder", "/home/amnesia/Persistent/site"],
            "must be outside /home",
        ),
        (
            &["web", "set-option", "colour", "red"],
            "web has no option `colour`; its options are: virtual-port, persistence",
        ),
        (&["web", "get-option", "colour"], "its options are:"),
        (&["nosuch", "info"], "no service named `nosuch` (services: web)"),
    ];
    for (args, expect) in table {
        let out = sandbox.fails(args);
        assert!(out.contains(expect), "{args:?}: expected {expect:?} in:\n{out}");
    }
    // A refused value changed nothing.
    assert_eq!(sandbox.ok(&["web", "get-option", "folder"]).trim(), "/var/www/html");

    let mumble = with(fixtures::MUMBLE);
    assert!(mumble
        .fails(&["mumble", "set-option", "max-users", "0"])
        .contains("a whole number from 1 to 1000"));
    mumble.ok(&["mumble", "set-option", "max-users", "7"]);
    assert_eq!(mumble.ok(&["mumble", "get-option", "max-users"]).trim(), "7");
    assert!(mumble
        .ok(&["mumble", "reset-option", "max-users"])
        .contains("reset to its default: 100"));
    assert_eq!(mumble.ok(&["mumble", "get-option", "max-users"]).trim(), "100");
    let old = mumble.ok(&["mumble", "get-option", "server-password", "--show-secret"]);
    assert!(mumble.ok(&["mumble", "reset-option", "server-password"]).contains("new secret"));
    assert_ne!(mumble.ok(&["mumble", "get-option", "server-password", "--show-secret"]), old);
}

#[test]
fn resetting_persistence_asks_before_deleting_what_was_kept() {
    let mut sandbox = Sandbox::new(BIN);
    let kept = sandbox.root.join("persistent");
    sandbox.env("TAILS_SERVER_PERSISTENT_DIR", kept.to_str().unwrap());
    sandbox.ok(&["plugin", "add", fixtures::MUMBLE, "--yes"]);
    sandbox.ok(&["mumble", "set-option", "persistence", "true"]);
    assert!(kept.join("services/mumble/state.json").exists());

    let refused = sandbox.run(&["mumble", "reset-option", "persistence"], "n\n");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("persistence left on; nothing was deleted"),
        "{}",
        text(&refused.stderr)
    );
    assert!(kept.join("services/mumble/state.json").exists());
    assert_eq!(sandbox.ok(&["mumble", "get-option", "persistence"]).trim(), "true");

    assert!(sandbox
        .ok(&["mumble", "reset-option", "persistence", "--yes"])
        .contains("reset to its default: false"));
    assert!(!kept.join("services/mumble").exists() && !kept.join("plugins/mumble").exists());
}

#[test]
fn turning_client_authorization_off_warns() {
    let sandbox = with(fixtures::WEB);
    let out = sandbox.run(&["web", "set-option", "client-authorization", "false"], "");
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("anyone who knows the onion address can connect"));
}

#[test]
fn enable_writes_the_config_and_set_option_rewrites_it() {
    let sandbox = with_tor(fixtures::WEB);
    let out = sandbox.ok(&["web", "enable"]);
    assert!(out.contains("configuration written: /etc/lighttpd/lighttpd.conf"), "{out}");
    // Under --root only files change: the unit and firewall steps say so.
    assert!(
        out.contains("✓ unit: ")
            && out.contains("not started: --root")
            && out.contains("✓ firewall: skipped: --root"),
        "{out}"
    );
    // The packaged unit is confined by a drop-in the host writes, removed at disable.
    let drop_in = sandbox.path("/run/systemd/system/lighttpd.service.d/tails-server.conf");
    let confinement = std::fs::read_to_string(&drop_in).unwrap();
    assert!(
        confinement.contains("NoNewPrivileges=yes") && confinement.contains("IPAddressDeny=any"),
        "{confinement}"
    );
    assert!(out.contains("✓ publish: published"), "{out}");
    let conf = sandbox.path("/etc/lighttpd/lighttpd.conf");
    assert!(std::fs::read_to_string(&conf).unwrap().contains("dir-listing.activate = \"disable\""));
    assert!(std::fs::read_to_string(&conf).unwrap().contains("server.bind = \"127.0.0.1\""));
    assert_eq!(std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777, 0o644);

    sandbox.ok(&["web", "set-option", "directory-listing", "on"]);
    sandbox.ok(&["web", "set-option", "allow-lan", "true"]);
    let written = std::fs::read_to_string(&conf).unwrap();
    assert!(written.contains("dir-listing.activate = \"enable\""), "{written}");
    assert!(written.contains("server.bind = \"0.0.0.0\""), "{written}");
    assert!(sandbox.ok(&["list"]).contains("enabled"));

    assert!(
        std::fs::read_to_string(&drop_in).unwrap().contains("IPAddressAllow=localhost 10.0.0.0/8"),
        "allow-lan lets the LAN in"
    );
    let out = sandbox.ok(&["web", "disable"]);
    assert!(out.contains("web is disabled"));
    assert!(!drop_in.exists(), "the drop-in goes with disable");
    assert!(sandbox.ok(&["list"]).contains("disabled"));
}

/// Add `fixture` with `deny` refused; enabling `name` then fails saying
/// `expected`, before any step: nothing is written.
fn denied_enable_fails_cleanly(fixture: &str, name: &str, deny: &str, expected: &str) -> Sandbox {
    let sandbox = Sandbox::new(BIN);
    sandbox.ok(&["plugin", "add", fixture, "--yes", "--deny", deny]);
    let before = snapshot(&sandbox.root);
    let out = sandbox.fails(&[name, "enable"]);
    assert!(out.contains(expected), "{out}");
    assert_eq!(changes(&before, &snapshot(&sandbox.root)), Vec::<String>::new());
    sandbox
}

#[test]
fn a_denied_capability_makes_enable_fail_cleanly() {
    let sandbox = denied_enable_fails_cleanly(
        fixtures::WEB,
        "web",
        "port:8080/tcp",
        "its port 8080/tcp (where tor sends its clients) was refused",
    );
    assert!(sandbox
        .fails(&["plugin", "add", fixtures::WEB, "--yes", "--deny", "port:1/tcp"])
        .contains("does not ask for that"));
}

/// `--deny unit:NAME` refuses a unit the host writes (gobby's), as it does
/// a packaged one: the plugin is added without it and cannot be enabled.
#[test]
fn a_host_written_unit_can_be_denied() {
    denied_enable_fails_cleanly(
        fixtures::GOBBY,
        "gobby",
        "unit:tails-server-gobby.service",
        "gobby cannot be enabled: its unit was refused at `plugin add`",
    );
}

#[test]
fn remove_is_refused_while_enabled() {
    let sandbox = with_tor(fixtures::WEB);
    sandbox.ok(&["web", "enable"]);
    assert!(sandbox
        .fails(&["plugin", "remove", "web"])
        .contains("web is enabled; disable it first"));
    sandbox.ok(&["web", "disable"]);
    sandbox.ok(&["plugin", "remove", "web"]);
    assert!(sandbox.ok(&["plugin", "list"]).contains("No plugins added"));
    assert!(!sandbox.state.join("services/web").exists());
    assert_eq!(std::fs::read_dir(sandbox.state.join("cache")).unwrap().count(), 0);
    assert!(sandbox.fails(&["plugin", "remove", "web"]).contains("no service named `web`"));
}

#[test]
fn an_upgrade_asks_only_about_what_changed() {
    let sandbox = with(fixtures::VERSIONED_V1);
    sandbox.ok(&["versioned", "set-option", "greeting", "hi"]);
    let v1 = sandbox.ok(&["plugin", "show", "versioned"]);

    let refused = sandbox.run(&["plugin", "add", fixtures::VERSIONED_V2], "n\n");
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        sandbox.ok(&["plugin", "show", "versioned"]),
        v1,
        "refusing the upgrade keeps the old build"
    );

    let out = sandbox.run(&["plugin", "add", fixtures::VERSIONED_V2], "y\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let asked =
        shown.split("It now also asks to:").nth(1).expect(&shown).split("Allow").next().unwrap();
    assert!(
        asked.contains("[package:mumble-server]") && asked.contains("[file:/etc/versioned/b.conf]"),
        "{shown}"
    );
    assert!(
        asked.contains("install the npm package @versioned/helper 2.0.0")
            && asked.contains("[npm:@versioned/helper@2.0.0]"),
        "{shown}"
    );
    assert!(
        !asked.contains("lighttpd") && !asked.contains("a.conf"),
        "already granted things are not asked again:\n{shown}"
    );
    assert!(
        shown.contains("It no longer asks to:") && shown.contains("[port:8181/udp]"),
        "{shown}"
    );
    // What runs changed (one more variable in its environment) and what is
    // kept changed: both said, as differences.
    assert!(asked.contains("with the environment GREETING={greeting} NODE_OPTIONS=--require /var/lib/versioned/x.js"), "{shown}");
    assert!(asked.contains("(changed from the added build: it now sets NODE_OPTIONS=--require /var/lib/versioned/x.js)"), "{shown}");
    assert!(
        asked.contains("in /var/lib/versioned/; kept in Persistent Storage when persistence is on"),
        "{shown}"
    );
    assert!(
        shown.contains(
            "  - Persistent Storage now also keeps /var/lib/versioned/ when persistence is on"
        ),
        "{shown}"
    );
    let show = sandbox.ok(&["plugin", "show", "versioned"]);
    assert!(
        show.contains("granted  package:lighttpd")
            && show.contains("granted  package:mumble-server"),
        "{show}"
    );
    assert!(!show.contains("8181/udp"));
    assert_eq!(
        sandbox.ok(&["versioned", "get-option", "greeting"]).trim(),
        "hi",
        "options survive an upgrade"
    );
    assert!(sandbox.ok(&["plugin", "add", fixtures::VERSIONED_V2]).contains("already added"));
}

#[test]
fn a_link_named_after_the_service_acts_as_its_cli() {
    let sandbox = with(fixtures::MUMBLE);
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("mumble");
    symlink(BIN, &link).unwrap();
    let out = sandbox.run_with(&link, &["info"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("description: A low-latency"));
    let out = sandbox.run_with(&link, &["set-option", "max-users", "5"], "");
    assert!(out.status.success());
    assert_eq!(sandbox.ok(&["mumble", "get-option", "max-users"]).trim(), "5");
}

#[test]
fn the_audit_log_is_private_and_append_only() {
    let sandbox = with_tor(fixtures::WEB);
    sandbox.ok(&["web", "enable"]);
    let log = sandbox.state.join("audit.log");
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    let first = sandbox.audit_log();
    assert!(
        first.contains(
            "action=commit-config target=\"/etc/lighttpd/lighttpd.conf\" outcome=allowed"
        ),
        "{first}"
    );
    sandbox.ok(&["web", "set-option", "directory-listing", "true"]);
    assert!(sandbox.audit_log().starts_with(&first));
}

/// The plugins shipped with the program are added by name and listed with
/// their own descriptions; a path is still a file; an unknown name says
/// which are shipped.
#[test]
fn shipped_plugins_are_added_by_name() {
    let shipped =
        tails_server_testkit::shipped_folder(&[("irc", fixtures::IRC), ("web", fixtures::WEB)]);
    let mut sandbox = Sandbox::new(BIN);
    sandbox.env("TAILS_SERVER_PLUGINS_DIR", shipped.path().to_str().unwrap());
    let listed = sandbox.ok(&["plugin", "available"]);
    assert!(
        listed.contains("irc") && listed.contains("A chat server for IRC clients (ngIRCd)"),
        "{listed}"
    );
    assert!(listed.lines().filter(|l| l.contains("not added")).count() == 2, "{listed}");

    let added = sandbox.ok(&["plugin", "add", "irc", "--yes"]);
    assert!(
        added.contains("Plugin: irc")
            && added.contains("From:   first-party: the build this Tails Server ships"),
        "{added}"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["plugin", "available", "--json"])).unwrap();
    assert_eq!(listed[0]["name"], "irc");
    assert_eq!(listed[0]["added"], "added");
    assert_eq!(listed[1]["added"], "not added");

    let unknown = sandbox.fails(&["plugin", "add", "etherpadd"]);
    assert!(
        unknown.contains("no plugin named \"etherpadd\" is shipped")
            && unknown.contains("shipped: irc, web"),
        "{unknown}"
    );
    // A path is a file, even when a shipped plugin has that name.
    let path = sandbox.fails(&["plugin", "add", "./web"]);
    assert!(path.contains("./web"), "{path}");
}
