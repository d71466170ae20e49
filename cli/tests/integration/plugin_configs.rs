//! The first-party plugins write configuration files that the real servers
//! accept: lighttpd's own checker, and mumble-server (murmurd) started on the
//! file and answering on its port.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tails_server_testkit::{base64, changes, fixtures, snapshot, text, Sandbox};

use super::BIN;

pub fn lighttpd_accepts(conf: &std::path::Path) {
    let out = Command::new("/usr/sbin/lighttpd")
        .arg("-tt")
        .arg("-f")
        .arg(conf)
        .output()
        .expect("lighttpd is installed (see .ci/run)");
    assert!(
        out.status.success(),
        "lighttpd -tt refused {}:\n{}{}",
        conf.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn web_config_passes_lighttpds_own_check() {
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::WEB, "--yes"]);
    let site = tempfile::tempdir().unwrap();
    sandbox.ok(&["web", "set-option", "folder", site.path().to_str().unwrap()]);
    sandbox.ok(&["web", "enable"]);
    let conf = sandbox.path("/etc/lighttpd/lighttpd.conf");
    lighttpd_accepts(&conf);
    for (option, value) in [("directory-listing", "true"), ("allow-lan", "true")] {
        sandbox.ok(&["web", "set-option", option, value]);
        lighttpd_accepts(&conf);
    }
    // lighttpd's own view of the file agrees with the options.
    let out = Command::new("/usr/sbin/lighttpd").arg("-p").arg("-f").arg(&conf).output().unwrap();
    let parsed = text(&out.stdout);
    assert!(parsed.contains(&format!("\"{}\"", site.path().display())), "{parsed}");
    assert!(parsed.contains("server.bind") && parsed.contains("0.0.0.0"), "{parsed}");
}

/// Start murmurd on the plugin's file and wait (bounded) until it answers.
#[test]
fn mumble_config_starts_a_real_mumble_server() {
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::MUMBLE, "--yes"]);
    sandbox.ok(&["mumble", "set-option", "welcome-message", "Hello \"friends\" <b>here</b>"]);
    sandbox.ok(&["mumble", "set-option", "max-users", "12"]);
    sandbox.ok(&["mumble", "enable"]);
    let ini = std::fs::read_to_string(sandbox.path("/etc/mumble/mumble-server.ini")).unwrap();
    assert!(
        ini.contains("users=12") && ini.contains(r#"welcometext="Hello \"friends\" <b>here</b>""#),
        "{ini}"
    );

    // Run it on a copy in a scratch folder: only the paths of the database,
    // log and pid file (fixed system paths) and the port (a free one, so the
    // test collides with nothing) are changed. murmurd switches to the
    // file's `uname` (mumble-server), which must own the scratch folder.
    let scratch = tempfile::tempdir().unwrap();
    let port = free_port();
    let ini: String = ini
        .lines()
        .map(|line| match line.split('=').next().unwrap() {
            "database" => format!("database={}/db.sqlite", scratch.path().display()),
            "logfile" => format!("logfile={}/murmur.log", scratch.path().display()),
            "pidfile" => format!("pidfile={}/murmur.pid", scratch.path().display()),
            "port" => format!("port={port}"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let ini_path = scratch.path().join("mumble-server.ini");
    std::fs::write(&ini_path, ini).unwrap();
    let chown =
        Command::new("chown").arg("-R").arg("mumble-server").arg(scratch.path()).status().unwrap();
    assert!(chown.success());
    // With -fg, murmurd logs to stderr.
    let log_path = scratch.path().join("stderr.log");
    let mut murmur = Command::new("/usr/sbin/murmurd")
        .arg("-fg")
        .arg("-ini")
        .arg(&ini_path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("murmurd is installed (see .ci/run)");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut answered = false;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            answered = true;
            break;
        }
        if murmur.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // murmurd may accept a connection a moment before it logs that it listens.
    let said_deadline = Instant::now() + Duration::from_secs(5);
    while answered
        && Instant::now() < said_deadline
        && !std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains("Server listening on 127.0.0.1")
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = murmur.kill();
    let _ = murmur.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(answered, "murmurd did not listen on 127.0.0.1:{port}:\n{log}");
    assert!(log.contains("Server listening on 127.0.0.1"), "{log}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A connection to a server the test started, once it listens (at most 10 s).
fn connect_when_up(port: u16) -> Option<TcpStream> {
    (0..100).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        TcpStream::connect(("127.0.0.1", port)).ok()
    })
}

/// A plugin built for contract 0.2.0 (the web plugin of that release) is
/// added, configured and asked for its connection text through the 0.2 shim;
/// its `systemd-service` becomes a packaged unit, its error values and log
/// lines arrive converted, and what it writes still goes through the broker.
/// A 0.2 plugin that keeps a folder it does not declare (0.2 did not ask it
/// to) is refused with what to do: the contract it was built for, and that
/// only its author can fix it by rebuilding; nothing is written.
#[test]
fn an_older_plugins_refusal_names_its_contract_and_what_to_do() {
    let sandbox = Sandbox::new(BIN);
    let before = snapshot(&sandbox.root);
    let refused = sandbox.fails(&["plugin", "add", fixtures::CONTRACT_0_2_KEPT_FOLDER, "--yes"]);
    assert!(refused.contains("persistent path \"/var/lib/keeper/\" must be one of the config paths or data folders it declares"), "{refused}");
    assert!(
        refused.contains("It was built for contract 0.2.0 (this Tails Server speaks 0.4.0"),
        "{refused}"
    );
    assert!(
        refused.contains("Only its author can fix this: rebuild it with the SDK of contract 0.4.0"),
        "{refused}"
    );
    assert_eq!(changes(&before, &snapshot(&sandbox.root)), Vec::<String>::new());
}

#[test]
fn a_contract_0_2_plugin_runs_through_the_shim() {
    let sandbox = super::sandbox_with_tor();
    let added = sandbox.ok(&["plugin", "add", fixtures::CONTRACT_0_2, "--yes"]);
    assert!(added.contains("Built for the older contract tails:server@0.2.0"), "{added}");
    assert!(
        added.contains("systemd unit lighttpd.service that one of its Debian packages ships"),
        "{added}"
    );
    assert!(added.contains("unsigned"), "{added}");
    let shown = sandbox.ok(&["plugin", "show", "site"]);
    assert!(shown.contains("contract: tails:server@0.2.0"), "{shown}");

    // validate-option's error comes back as 0.3's `invalid`, and nothing changes.
    let refused = sandbox.fails(&["site", "set-option", "folder", "/etc"]);
    assert!(refused.contains("must be a folder under /var/www/"), "{refused}");
    assert!(sandbox.ok(&["site", "get-option", "folder"]).contains("/var/www/html"));
    sandbox.ok(&["site", "set-option", "folder", "/var/www/site"]);

    let enabled = sandbox.run(&["site", "enable"], "");
    assert!(enabled.status.success(), "{}", text(&enabled.stderr));
    assert!(
        text(&enabled.stderr)
            .contains("site: info: writing the lighttpd configuration (contract 0.2)"),
        "{}",
        text(&enabled.stderr)
    );
    let conf = sandbox.path("/etc/lighttpd/lighttpd.conf");
    lighttpd_accepts(&conf);
    let written = std::fs::read_to_string(&conf).unwrap();
    assert!(
        written.contains("server.document-root = \"/var/www/site\"")
            && written.contains("server.port = 8080"),
        "{written}"
    );
    let audit = sandbox.audit_log();
    assert!(
        audit.lines().any(|l| l.contains("plugin=\"site\"")
            && l.contains(
                "action=write-config target=\"/etc/lighttpd/lighttpd.conf\" outcome=allowed"
            )),
        "{audit}"
    );

    // connection-info: the 0.3 request reaches the plugin as 0.2's.
    let info = sandbox.ok(&["site", "info", "--details", "--json"]);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["contract"], "tails:server@0.2.0");
    assert_eq!(info["systemd-service"], "lighttpd.service");
    let address = info["address"].as_str().expect("an address").to_string();
    let connection = sandbox.ok(&["site", "connection-info", "--no-qr"]);
    assert!(
        connection.contains(&format!("Open in Tor Browser: http://{address}/ (1 client keys)")),
        "{connection}"
    );
    sandbox.ok(&["site", "disable"]);
}

/// The irc plugin's file passes ngIRCd's own check, names the server after
/// its onion address, lifts the per-address limit, and is not readable by
/// other users (it holds the server password).
#[test]
fn irc_config_passes_ngircds_own_check() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::IRC, "--yes"]);
    sandbox.ok(&["irc", "set-option", "server-password", "correct-horse"]);
    sandbox.ok(&["irc", "set-option", "welcome-message", "Hello, friends"]);
    let refused = sandbox.fails(&["irc", "set-option", "server-password", "two words"]);
    assert!(
        refused.contains("must be 1 to 64 printable ASCII characters without spaces"),
        "{refused}"
    );
    sandbox.ok(&["irc", "enable"]);
    let conf = sandbox.path("/etc/ngircd/ngircd.conf");
    let out = Command::new("/usr/sbin/ngircd")
        .arg("--configtest")
        .arg("--config")
        .arg(&conf)
        .output()
        .expect("ngircd is installed (see scripts/setup)");
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(out.status.success(), "ngircd --configtest refused {}:\n{said}", conf.display());
    let info: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["irc", "info", "--json"])).unwrap();
    let address = info["address"].as_str().unwrap();
    // ngIRCd's own reading of the file.
    for expected in [
        format!("Name = {address}"),
        "Password = correct-horse".into(),
        "MaxConnectionsIP = 0".into(),
        "Listen = 127.0.0.1".into(),
    ] {
        assert!(said.contains(&expected), "{expected:?} not in:\n{said}");
    }
    assert_eq!(
        std::fs::metadata(&conf).unwrap().permissions().mode() & 0o077 & !0o040,
        0,
        "not readable by others"
    );
    assert!(sandbox
        .ok(&["irc", "connection-info", "--no-qr"])
        .contains(&format!("irc://{address}:6667/")));
}

/// The xmpp plugin's file passes `prosodyctl check config`, with the onion
/// address as the only host, listening on loopback, no server-to-server.
#[test]
fn xmpp_config_passes_prosodys_own_check() {
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::XMPP, "--yes"]);
    sandbox.ok(&["xmpp", "enable"]);
    let conf = sandbox.path("/etc/prosody/prosody.cfg.lua");
    let out = Command::new("prosodyctl")
        .arg("--config")
        .arg(&conf)
        .args(["check", "config"])
        .output()
        .expect("prosody is installed (see scripts/setup)");
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(
        out.status.success() && said.contains("All checks passed"),
        "prosodyctl refused {}:\n{said}",
        conf.display()
    );
    let info: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["xmpp", "info", "--json"])).unwrap();
    let address = info["address"].as_str().unwrap();
    assert!(
        said.contains(&format!("Public registration is enabled on:\n        {address}")),
        "{said}"
    );
    let written = std::fs::read_to_string(&conf).unwrap();
    for expected in [
        format!("VirtualHost \"{address}\""),
        "interfaces = { \"127.0.0.1\" }".into(),
        "\"s2s\"".into(),
    ] {
        assert!(written.contains(&expected), "{expected:?} not in:\n{written}");
    }
    // Registration off: prosody no longer says it is public.
    sandbox.ok(&["xmpp", "set-option", "registration", "false"]);
    let out = Command::new("prosodyctl")
        .arg("--config")
        .arg(&conf)
        .args(["check", "config"])
        .output()
        .unwrap();
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(out.status.success() && !said.contains("Public registration"), "{said}");
}

/// The gobby plugin's file is read by infinoted itself (it starts with it and
/// listens where it says) and is root's alone: it holds the password.
#[test]
fn gobby_config_is_read_by_infinoted() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::GOBBY, "--yes"]);
    let refused = sandbox.fails(&["gobby", "set-option", "password", "a;b"]);
    assert!(refused.contains("without \\ or ;"), "{refused}");
    sandbox.ok(&["gobby", "set-option", "password", "pass-phrase"]);
    sandbox.ok(&["gobby", "enable"]);
    let conf = sandbox.path("/etc/infinoted/infinoted.conf");
    // Under --root, no group is made: root's alone (the system test checks the group).
    assert_eq!(std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777, 0o600);
    let written = std::fs::read_to_string(&conf).unwrap();
    assert!(
        written.contains("password=pass-phrase\n")
            && written.contains("listen-address=127.0.0.1\n"),
        "{written}"
    );
    // The unit joins the service's group to read it; the password is never on the command line.
    let unit =
        std::fs::read_to_string(sandbox.path("/run/systemd/system/tails-server-gobby.service"))
            .unwrap();
    assert!(unit.contains("DynamicUser=yes\nSupplementaryGroups=tails-secrets-gobby\n"), "{unit}");
    assert!(!unit.contains("pass-phrase"), "{unit}");
    // infinoted reads it: on a free port, with the documents in a temporary folder.
    let documents = tempfile::tempdir().unwrap();
    let port = free_port();
    let copy = documents.path().join("infinoted.conf");
    let adapted = written
        .replace("port=6523", &format!("port={port}"))
        .replace("/var/lib/gobby/documents/", &documents.path().display().to_string());
    std::fs::write(&copy, adapted).unwrap();
    let mut server = Command::new("/usr/bin/infinoted-0.7")
        .arg(format!("--config-file={}", copy.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("infinoted is installed (see scripts/setup)");
    let listening = connect_when_up(port).is_some();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(listening, "infinoted did not listen on 127.0.0.1:{port} with the written file");
}

/// The icecast plugin's file is read by icecast itself: a source with the
/// source password is let in (100 Continue), a wrong one is not (401).
#[test]
fn icecast_config_is_read_by_icecast() {
    use std::io::{Read, Write};
    use std::os::unix::process::CommandExt;
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::ICECAST, "--yes"]);
    let refused = sandbox.fails(&["icecast", "set-option", "source-password", "short"]);
    assert!(refused.contains("must be 8 to 128 printable ASCII characters"), "{refused}");
    sandbox.ok(&["icecast", "set-option", "source-password", "source-secret"]);
    sandbox.ok(&["icecast", "enable"]);
    let written = std::fs::read_to_string(sandbox.path("/etc/icecast2/icecast.xml")).unwrap();
    let info: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["icecast", "info", "--json"])).unwrap();
    assert!(
        written.contains(&format!("<hostname>{}</hostname>", info["address"].as_str().unwrap())),
        "{written}"
    );
    assert!(written.contains("<bind-address>127.0.0.1</bind-address>"), "{written}");

    // icecast refuses to run as root: as Debian's icecast2 user, on a free
    // port, logging into a folder of the test's.
    let folder = tempfile::tempdir().unwrap();
    let logs = folder.path().join("log");
    std::fs::create_dir(&logs).unwrap();
    let port = free_port();
    let copy = folder.path().join("icecast.xml");
    std::fs::write(
        &copy,
        written
            .replace("<port>8000</port>", &format!("<port>{port}</port>"))
            .replace("/var/lib/icecast2/", &logs.display().to_string()),
    )
    .unwrap();
    let everyone = |p: &std::path::Path, mode| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap()
    };
    everyone(folder.path(), 0o755);
    everyone(&copy, 0o644);
    everyone(&logs, 0o777);
    // Started as that user directly (not through runuser, whose child would
    // outlive a kill of runuser), so that it is stopped by its own pid.
    let id = |flag: &str| {
        text(&Command::new("id").args([flag, "icecast2"]).output().unwrap().stdout)
            .trim()
            .parse::<u32>()
            .expect("icecast2 is installed (see scripts/setup)")
    };
    let mut icecast = Command::new("/usr/bin/icecast2");
    let mut server = icecast
        .uid(id("-u"))
        .gid(id("-g"))
        .arg("-c")
        .arg(&copy)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("icecast2 is installed (see scripts/setup)");
    let source = |password: &str| -> String {
        let mut stream = connect_when_up(port).expect("icecast listens");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let auth = base64(format!("source:{password}").as_bytes());
        write!(stream, "PUT /live.mp3 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: audio/mpeg\r\nExpect: 100-continue\r\n\r\n").unwrap();
        let mut answer = [0u8; 64];
        let n = stream.read(&mut answer).unwrap_or(0);
        text(&answer[..n])
    };
    let right = source("source-secret");
    let wrong = source("guessed-password");
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(right.starts_with("HTTP/1.1 100 Continue"), "{right}");
    assert!(wrong.contains(" 401 "), "{wrong}");
}

/// The etherpad plugin's settings: JSON once Etherpad's comment is taken
/// out, listening on loopback, pads in the data folder, the per-address
/// limits raised, the admin password in it (so root's alone under --root),
/// and never an `${…}` Etherpad would read as an environment variable.
#[test]
fn etherpad_settings_are_json_etherpad_reads() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::ETHERPAD, "--yes"]);
    let refused =
        sandbox.fails(&["etherpad", "set-option", "admin-password", "${HOME}-long-enough"]);
    assert!(refused.contains("without $"), "{refused}");
    sandbox.ok(&["etherpad", "set-option", "admin-password", "a \"quoted\" \\ pass"]);
    sandbox.ok(&["etherpad", "set-option", "anyone-creates-pads", "false"]);
    sandbox.ok(&["etherpad", "enable"]);
    let path = sandbox.path("/etc/etherpad/settings.json");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    let json_part = &text[text.find("*/").expect("a comment first") + 2..];
    let settings: serde_json::Value =
        serde_json::from_str(json_part).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert_eq!(settings["ip"], "127.0.0.1");
    assert_eq!(settings["port"], 9001);
    assert_eq!(settings["editOnly"], true);
    assert_eq!(settings["dbSettings"]["filename"], "var/dirty.db");
    assert_eq!(settings["users"]["admin"]["password"], "a \"quoted\" \\ pass");
    assert_eq!(settings["importExportRateLimiting"]["max"], 1000);
    // The unit: node runs the package's copy the set-up command lays out as `src`.
    let unit =
        std::fs::read_to_string(sandbox.path("/run/systemd/system/tails-server-etherpad.service"))
            .unwrap();
    assert!(unit.contains("ExecStart=\"/usr/bin/node\" \"/var/lib/etherpad/src/node/server.js\" \"--settings\" \"/etc/etherpad/settings.json\""), "{unit}");
    assert!(
        unit.contains("ExecStartPre=\"/usr/bin/sh\" \"-c\"")
            && unit.contains("StateDirectory=etherpad"),
        "{unit}"
    );
    assert!(!unit.contains("quoted"), "the password is not in the unit: {unit}");
}

/// The wiki plugin's files pass their servers' own checks (`php -l` on
/// DokuWiki's settings, `lighttpd -tt` on the server's), and the admin's
/// password is stored only as DokuWiki's PBKDF2 hash, in a file others cannot read.
#[test]
fn wiki_config_passes_php_and_lighttpd_checks() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::WIKI, "--yes"]);
    let refused = sandbox.fails(&["wiki", "set-option", "admin-password", "has:colon"]);
    assert!(refused.contains("without :"), "{refused}");
    sandbox.ok(&["wiki", "set-option", "admin-password", "it's a \\ secret"]);
    sandbox.ok(&["wiki", "set-option", "title", "Notes 'of' the group"]);
    sandbox.ok(&["wiki", "enable"]);
    let local = sandbox.path("/etc/dokuwiki/local.php");
    let out = Command::new("php").arg("-l").arg(&local).output().expect("php (see scripts/setup)");
    assert!(out.status.success(), "php -l: {}{}", text(&out.stdout), text(&out.stderr));
    let out = Command::new("php")
        .arg("-r")
        .arg(format!("include '{}'; echo $conf['title'];", local.display()))
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "Notes 'of' the group");
    let conf = sandbox.path("/etc/dokuwiki/lighttpd-tails-server.conf");
    let out = Command::new("/usr/sbin/lighttpd").arg("-tt").arg("-f").arg(&conf).output().unwrap();
    assert!(out.status.success(), "lighttpd -tt: {}{}", text(&out.stdout), text(&out.stderr));
    let users = sandbox.path("/var/lib/dokuwiki/acl/users.auth.php");
    let written = std::fs::read_to_string(&users).unwrap();
    assert!(!written.contains("secret"), "{written}");
    let line = written.lines().find(|l| l.starts_with("admin:")).expect("the admin's line");
    let hash = line.split(':').nth(1).unwrap();
    assert!(hash.starts_with("pbkdf2_sha256$10000$"), "{line}");
    assert_eq!(
        std::fs::metadata(&users).unwrap().permissions().mode() & 0o077,
        0,
        "not readable by others"
    );
    // DokuWiki's own check of the hash, with PHP's PBKDF2.
    let check = format!(
        "[$a,$i,$s,$h] = explode('$', '{hash}'); echo base64_encode(hash_pbkdf2('sha256', \"it's a \\\\ secret\", $s, (int)$i, 0, true)) === $h ? 'ok' : 'mismatch';"
    );
    let out = Command::new("php").arg("-r").arg(&check).output().unwrap();
    assert_eq!(text(&out.stdout), "ok", "{}", text(&out.stderr));
}

/// The mediawiki plugin's files pass `php -l` and `lighttpd -tt`; its
/// settings name the onion's URL as `$wgServer`; the admin's password is in a
/// file others cannot read, never in the unit (its installer reads the file).
#[test]
fn mediawiki_config_passes_php_and_lighttpd_checks() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::MEDIAWIKI, "--yes"]);
    let refused = sandbox.fails(&["mediawiki", "set-option", "title", "Bad; title"]);
    assert!(refused.contains("letters, digits, spaces"), "{refused}");
    sandbox.ok(&["mediawiki", "set-option", "admin-password", "a long admin password"]);
    sandbox.ok(&["mediawiki", "enable"]);
    let settings = sandbox.path("/etc/mediawiki/tails-server.php");
    let out =
        Command::new("php").arg("-l").arg(&settings).output().expect("php (see scripts/setup)");
    assert!(out.status.success(), "php -l: {}{}", text(&out.stdout), text(&out.stderr));
    let info: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["mediawiki", "info", "--json"])).unwrap();
    let written = std::fs::read_to_string(&settings).unwrap();
    assert!(
        written.contains(&format!("$wgServer = 'http://{}';", info["address"].as_str().unwrap())),
        "{written}"
    );
    let conf = sandbox.path("/etc/mediawiki/lighttpd-tails-server.conf");
    let out = Command::new("/usr/sbin/lighttpd").arg("-tt").arg("-f").arg(&conf).output().unwrap();
    assert!(out.status.success(), "lighttpd -tt: {}{}", text(&out.stdout), text(&out.stderr));
    let password = sandbox.path("/etc/mediawiki/tails-server-admin-password");
    assert_eq!(std::fs::read_to_string(&password).unwrap(), "a long admin password");
    assert_eq!(std::fs::metadata(&password).unwrap().permissions().mode() & 0o077, 0);
    let unit =
        std::fs::read_to_string(sandbox.path("/run/systemd/system/tails-server-mediawiki.service"))
            .unwrap();
    assert!(
        !unit.contains("a long admin password")
            && unit.contains("--passfile /etc/mediawiki/tails-server-admin-password"),
        "{unit}"
    );
}

/// The words of the unit's `ExecStart=` (each quoted, none with a quote inside).
fn exec_start(unit: &str) -> Vec<String> {
    let line = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("an ExecStart line");
    line.split('"').skip(1).step_by(2).map(str::to_string).collect()
}

/// rclone run on the unit's own command line (the share, host keys and port
/// moved to the test's folder), until it listens; stopped by its pid on drop.
struct Rclone(std::process::Child);

impl Rclone {
    fn start(
        unit: &str,
        keys_file: &std::path::Path,
        scratch: &std::path::Path,
        port: u16,
    ) -> Rclone {
        let words: Vec<String> = exec_start(unit)
            .into_iter()
            .map(|w| match w.as_str() {
                "/etc/sftp-share/authorized_keys" => keys_file.display().to_string(),
                "/var/lib/sftp/share/" => scratch.join("share").display().to_string(),
                "/var/lib/sftp/keys/" => scratch.join("keys").display().to_string(),
                "127.0.0.1:2022" => format!("127.0.0.1:{port}"),
                _ => w,
            })
            .collect();
        std::fs::create_dir_all(scratch.join("share")).unwrap();
        let child = Command::new(&words[0])
            .args(&words[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rclone is installed (see scripts/setup)");
        let server = Rclone(child);
        assert!(connect_when_up(port).is_some(), "rclone did not listen on 127.0.0.1:{port}");
        server
    }
}

impl Drop for Rclone {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The sftp plugin: keys that are not public keys are refused with the
/// reason; with no key, enable says what to do and writes nothing; the
/// written keys file and unit, run as they are, serve the one folder to the
/// given key only (a real `sftp` puts and gets a file; another key is
/// refused; nothing outside the share is seen, not even through a link in
/// it), and read-only when asked.
#[test]
fn sftp_serves_one_folder_to_the_keys_given() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = super::sandbox_with_tor();
    sandbox.ok(&["plugin", "add", fixtures::SFTP, "--yes"]);
    for (bad, why) in [
        ("command=\"sh\" ssh-ed25519 AAAA", "a key must start with its type (ssh-ed25519, ssh-rsa"),
        ("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQC7", "is not an ssh-ed25519 key"),
        ("ssh-ed25519 not*base64", "second word must be the key itself"),
    ] {
        let refused = sandbox.fails(&["sftp", "set-option", "keys", bad]);
        assert!(refused.contains(why), "{bad}: {refused}");
    }
    let refused = sandbox.fails(&["sftp", "enable"]);
    assert!(refused.contains("no one could connect: set `keys`"), "{refused}");
    let keys_file = sandbox.path("/etc/sftp-share/authorized_keys");
    assert!(!keys_file.exists(), "a refused enable writes nothing");
    assert!(!sandbox.path("/run/systemd/system/tails-server-sftp.service").exists());

    let scratch = tempfile::tempdir().unwrap();
    let (alice, alice_pub) = tails_server_testkit::ssh_key(scratch.path(), "alice");
    let (bob, _) = tails_server_testkit::ssh_key(scratch.path(), "bob");
    sandbox.ok(&["sftp", "set-option", "keys", &format!("{alice_pub}, ")]);
    sandbox.ok(&["sftp", "enable"]);
    // Under --root, no group is made: root's alone (the system test checks the group).
    assert_eq!(std::fs::metadata(&keys_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&keys_file).unwrap().contains(&format!("\n{alice_pub}\n")));
    let unit_path = sandbox.path("/run/systemd/system/tails-server-sftp.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert!(unit.contains("\"--read-only=false\""), "{unit}");

    let port = free_port();
    let sent = scratch.path().join("sent");
    std::fs::write(&sent, format!("shared {}", std::process::id()).repeat(10_000)).unwrap();
    let back = scratch.path().join("back");
    {
        let _rclone = Rclone::start(&unit, &keys_file, scratch.path(), port);
        let said = tails_server_testkit::sftp(
            &alice,
            "127.0.0.1",
            port,
            None,
            &format!("put {} file\nget file {}\n-ls /etc\nls /\n", sent.display(), back.display()),
        )
        .expect("alice puts and gets");
        assert_eq!(std::fs::read(&sent).unwrap(), std::fs::read(&back).unwrap());
        assert!(said.contains("\"/etc\" not found"), "nothing outside the share: {said}");
        assert!(scratch.path().join("share/file").exists());
        let refused = tails_server_testkit::sftp(&bob, "127.0.0.1", port, None, "ls\n")
            .expect_err("bob's key is not given");
        assert!(refused.contains("Permission denied"), "{refused}");
        // A link in the folder (made by whoever can write it) leads nowhere.
        std::os::unix::fs::symlink("/etc/passwd", scratch.path().join("share/passwd")).unwrap();
        let said = tails_server_testkit::sftp(
            &alice,
            "127.0.0.1",
            port,
            None,
            &format!("-get passwd {}\n", scratch.path().join("leaked").display()),
        )
        .unwrap();
        assert!(
            said.contains("\"/passwd\" not found") && !scratch.path().join("leaked").exists(),
            "{said}"
        );
    }
    sandbox.ok(&["sftp", "set-option", "read-only", "true"]);
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert!(unit.contains("\"--read-only=true\""), "{unit}");
    let _rclone = Rclone::start(&unit, &keys_file, scratch.path(), port);
    tails_server_testkit::sftp(
        &alice,
        "127.0.0.1",
        port,
        None,
        &format!("get file {}\n", back.display()),
    )
    .expect("read-only still reads");
    let refused = tails_server_testkit::sftp(
        &alice,
        "127.0.0.1",
        port,
        None,
        &format!("put {} other\n", sent.display()),
    )
    .expect_err("read-only");
    assert!(refused.contains("Failure") || refused.contains("denied"), "{refused}");
}

/// A plugin built for contract 0.3.0 (a unit the host writes) is added,
/// validated (seeing the onion address), configured and asked for its
/// connection text through the 0.3 shim; its unit is a user of its own
/// without 0.4's login account.
#[test]
fn a_contract_0_3_plugin_runs_through_the_shim() {
    let sandbox = super::sandbox_with_tor();
    let added = sandbox.ok(&["plugin", "add", fixtures::CONTRACT_0_3, "--yes"]);
    assert!(added.contains("Built for the older contract tails:server@0.3.0"), "{added}");
    // Every sentence true: a 0.3 plugin's host-written unit runs the program
    // it names (python3 here), not only one its packages ship.
    assert!(
        !added.contains("only a program one of its Debian packages ships")
            && added.contains("run `/usr/bin/python3 -m http.server"),
        "{added}"
    );
    assert!(
        added.contains("as a user of its own (unit tails-server-notes.service)")
            && !added.contains("login"),
        "{added}"
    );
    let address =
        serde_json::from_str::<serde_json::Value>(&sandbox.ok(&["notes", "info", "--json"]))
            .unwrap()["address"]
            .as_str()
            .unwrap()
            .to_string();
    let refused = sandbox.fails(&["notes", "set-option", "title", &format!("at {address}")]);
    assert!(refused.contains(&format!("must not contain the address {address}")), "{refused}");
    sandbox.ok(&["notes", "set-option", "title", "Our notes"]);
    let enabled = sandbox.run(&["notes", "enable"], "");
    assert!(enabled.status.success(), "{}", text(&enabled.stderr));
    assert!(
        text(&enabled.stderr).contains("notes: info: writing the title (contract 0.3)"),
        "{}",
        text(&enabled.stderr)
    );
    assert_eq!(std::fs::read_to_string(sandbox.path("/etc/notes/title")).unwrap(), "Our notes\n");
    let unit =
        std::fs::read_to_string(sandbox.path("/run/systemd/system/tails-server-notes.service"))
            .unwrap();
    assert!(
        unit.contains(
            "ExecStart=\"/usr/bin/python3\" \"-m\" \"http.server\" \"--bind\" \"127.0.0.1\""
        ),
        "{unit}"
    );
    assert!(
        unit.contains("DynamicUser=yes\nSupplementaryGroups=tails-secrets-notes\n")
            && !unit.contains("User=tails-login"),
        "{unit}"
    );
    let connection = sandbox.ok(&["notes", "connection-info", "--no-qr"]);
    assert!(
        connection.contains(&format!("Notes: http://{address}/ (1 client keys)")),
        "{connection}"
    );
    sandbox.ok(&["notes", "disable"]);
}

/// The ssh plugin: consent names the login account; with no key, enable
/// says what to do; the written sshd configuration passes sshd's own check
/// (`sshd -t`, host keys made as the unit's set-up makes them) with keys
/// only, no forwarding, and only the login account; the unit runs as that
/// account; connection-info names it.
#[test]
fn ssh_config_passes_sshds_own_check() {
    let sandbox = super::sandbox_with_tor();
    let added = sandbox.ok(&["plugin", "add", fixtures::SSH, "--yes"]);
    assert!(added.contains("a login account (tails-login-ssh, shell /bin/bash): the people it lets in get a shell as that user"), "{added}");
    let refused = sandbox.fails(&["ssh", "enable"]);
    assert!(refused.contains("no one could connect: set `keys` to the public key of at least one person (tails-server ssh set-option keys"), "{refused}");
    let scratch = tempfile::tempdir().unwrap();
    let (_, alice_pub) = tails_server_testkit::ssh_key(scratch.path(), "alice");
    sandbox.ok(&["ssh", "set-option", "keys", &alice_pub]);
    sandbox.ok(&["ssh", "enable"]);
    let written = std::fs::read_to_string(sandbox.path("/etc/ssh-onion/sshd_config")).unwrap();
    let keys_file = sandbox.path("/etc/ssh-onion/authorized_keys");
    assert!(std::fs::read_to_string(&keys_file).unwrap().contains(&alice_pub));
    let unit =
        std::fs::read_to_string(sandbox.path("/run/systemd/system/tails-server-ssh.service"))
            .unwrap();
    assert!(
        unit.contains("User=tails-login-ssh\nGroup=tails-secrets-ssh\n")
            && !unit.contains("DynamicUser"),
        "{unit}"
    );
    assert!(
        unit.contains("ExecStartPre=\"/usr/bin/ssh-keygen\" \"-A\" \"-f\" \"/var/lib/ssh/host\""),
        "{unit}"
    );

    // sshd checks the file as it is, with the host keys and the keys file where the test has them.
    let prefix = scratch.path().join("host");
    std::fs::create_dir_all(prefix.join("etc/ssh")).unwrap();
    let keygen = Command::new("ssh-keygen").arg("-A").arg("-f").arg(&prefix).output().unwrap();
    assert!(keygen.status.success(), "{}", text(&keygen.stderr));
    let copy = scratch.path().join("sshd_config");
    let adapted = written
        .replace("/var/lib/ssh/host/etc/ssh/", &format!("{}/etc/ssh/", prefix.display()))
        .replace("/etc/ssh-onion/authorized_keys", &keys_file.display().to_string());
    std::fs::write(&copy, adapted).unwrap();
    // Debian 13's sshd (OpenSSH 10, as on Tails 7), from the Debian 13 root.
    let sshd = |args: &[&str]| {
        tails_server_testkit::systemd_host::tails7_command(
            &[scratch.path(), keys_file.parent().unwrap()],
            "/usr/sbin/sshd",
        )
        .args(args)
        .arg(&copy)
        .output()
        .unwrap()
    };
    let check = sshd(&["-t", "-f"]);
    assert!(
        check.status.success(),
        "sshd -t refused the written file:\n{}\n{written}",
        text(&check.stderr)
    );
    // sshd's own view of the file, for the login account connecting.
    let effective = sshd(&["-T", "-C", "user=tails-login-ssh,host=client,addr=127.0.0.1", "-f"]);
    let effective = text(&effective.stdout);
    for line in [
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "usepam no",
        "allowtcpforwarding no",
        "x11forwarding no",
        "permittunnel no",
        "allowusers tails-login-ssh",
        "listenaddress 127.0.0.1:2222",
        "persourcepenalties no",
    ] {
        assert!(effective.lines().any(|l| l == line), "{line} missing from sshd -T:\n{effective}");
    }
    let address =
        serde_json::from_str::<serde_json::Value>(&sandbox.ok(&["ssh", "info", "--json"])).unwrap()
            ["address"]
            .as_str()
            .unwrap()
            .to_string();
    let connection = sandbox.ok(&["ssh", "connection-info", "--no-qr"]);
    assert!(
        connection.contains(&format!("torsocks ssh tails-login-ssh@{address}")),
        "{connection}"
    );
}
