//! tails-serverd in a test host with the host's own dbus-daemon and polkitd:
//! a user who is not root works through it as polkit allows, sees exactly
//! what root sees in-process, follows an enable job step by step, gets clear
//! errors for bad input while the daemon keeps serving, and a daemon killed
//! in the middle of an enable is repaired by its next start.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use tails_server_testkit::tornet::{fetch, Fetch};

use super::{Boot, Host, World, BIN};

/// Tails' desktop user (uid 1000, made in the Debian 13 root as on Tails).
pub const USER: &str = "amnesia";
const PAGE: &str = "<h1>Served through tails-serverd</h1>";

/// What an installed Tails Server brings for its daemon.
pub fn daemon_files(control: &str, scratch: &Path) -> Vec<(PathBuf, String)> {
    tails_server_testkit::systemd_host::daemon_files(Path::new(BIN), control, scratch)
}

pub fn as_user(host: &Host, program: &str, args: &[&str]) -> Output {
    host.as_user(USER, program, args)
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `tails-server ARGS` as the user; must succeed. Output only (what a
/// person reads), errors shown if it fails.
fn user_ok(host: &Host, args: &[&str]) -> String {
    host.user_ok(USER, args)
}

fn user_fails(host: &Host, args: &[&str]) -> String {
    let out = as_user(host, super::INSIDE_BIN, args);
    assert!(
        !out.status.success(),
        "as {USER}: tails-server {} should have failed:\n{}",
        args.join(" "),
        text(&out)
    );
    text(&out)
}

/// The same command as root in this process (no daemon), output only.
fn root_in_process(host: &Host, args: &[&str]) -> String {
    let out = host.ts_command(args).env("TAILS_SERVER_IN_PROCESS", "1").output().unwrap();
    assert!(
        out.status.success(),
        "as root in-process: tails-server {} failed:\n{}",
        args.join(" "),
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `busctl call` to the daemon as the user.
fn bus_call(host: &Host, method: &str, args: &[&str]) -> (bool, String) {
    let mut all = vec![
        "--system",
        "call",
        "org.tails.Server",
        "/org/tails/Server",
        "org.tails.Server1",
        method,
    ];
    all.extend_from_slice(args);
    let out = as_user(host, "busctl", &all);
    (out.status.success(), text(&out))
}

/// Grant the user these polkit actions (polkitd reloads its rules itself).
pub fn grant(host: &Host, actions: &[&str]) {
    host.sys.sh(&tails_server_testkit::systemd_host::polkit_grant(USER, actions));
}

/// Wait (bounded) until `check` holds: polkitd reloads its rules on its own time.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Step lines without their timings, which differ from run to run.
fn without_timings(out: &str) -> String {
    let timing = regex::Regex::new(r" \[[0-9.]+ s\]").unwrap();
    timing.replace_all(out, "").into_owned()
}

pub fn daemon_serves_users_as_polkit_allows(w: &World) {
    let scratch = tempfile::tempdir().unwrap();
    let host = w.host(Boot {
        files: daemon_files(&w.tor.service_control(), scratch.path()),
        ..Boot::default()
    });
    // Root, no daemon running: in-process, as before.
    host.add_plugins(&["web"]);
    host.sys.sh(&format!("mkdir -p /srv/site && echo '{PAGE}' > /srv/site/index.html"));
    host.ok(&["web", "set-option", "folder", "/srv/site"]);

    // No rule: a user who is not in an active session is refused, and told why.
    let refused = user_fails(&host, &["list"]);
    assert!(
        refused.contains("not allowed to see Tails Server's services (org.tails.server.read)"),
        "{refused}"
    );
    assert!(refused.contains("administration password"), "{refused}");
    // The call started the daemon (D-Bus activation through its unit).
    assert_eq!(host.sys.active_state("tails-serverd.service"), "active");

    // Allowed to read: the same documents as root's in-process ones.
    grant(&host, &["org.tails.server.read"]);
    eventually("the read rule", || as_user(&host, super::INSIDE_BIN, &["list"]).status.success());
    for args in [
        &["list", "--json"][..],
        &["list"],
        &["plugin", "available"],
        &["plugin", "list"],
        &["plugin", "show", "web", "--json"],
        &["plugin", "show", "web"],
        &["web", "status", "--json"],
        &["web", "info"],
        &["web", "info", "--details", "--json"],
        &["web", "get-option", "folder"],
        &["web", "client", "list"],
    ] {
        assert_eq!(
            user_ok(&host, args),
            root_in_process(&host, args),
            "tails-server {}: through the daemon and in-process differ",
            args.join(" ")
        );
    }
    // Reading is not changing, nor seeing secrets.
    let refused = user_fails(&host, &["web", "enable"]);
    assert!(
        refused.contains("not allowed to manage Tails Server's services (org.tails.server.manage)"),
        "{refused}"
    );
    let refused = user_fails(&host, &["web", "info", "--show-secrets"]);
    assert!(refused.contains("org.tails.server.secrets"), "{refused}");
    assert_eq!(host.info("web")["enabled"], false, "a refused enable changed nothing");
    // What only root does is said so, with the reason.
    let refused = user_fails(&host, &["repair"]);
    assert!(
        refused.contains("`repair` runs only as root")
            && refused.contains("repairs by itself each time it starts"),
        "{refused}"
    );

    // Allowed to manage and see keys: enable through a job, step by step.
    grant(&host, &["org.tails.server.read", "org.tails.server.manage", "org.tails.server.secrets"]);
    eventually("the manage rule", || {
        as_user(&host, super::INSIDE_BIN, &["web", "info", "--show-secrets"]).status.success()
    });
    let enabled = user_ok(&host, &["web", "enable"]);
    let mut at = 0;
    for line in [
        "Enabling web:",
        "  ✓ packages:",
        "  ✓ configure:",
        "  ✓ unit:",
        "  ✓ firewall:",
        "  ✓ publish:",
        "web is enabled:",
        "Address: ",
        "Key for Tor Browser:",
    ] {
        let found = enabled[at..]
            .find(line)
            .unwrap_or_else(|| panic!("`{line}` missing or out of order in:\n{enabled}"));
        at += found + line.len();
    }
    let info = host.info("web");
    let address = info["address"].as_str().unwrap().to_string();
    assert!(w.published(&address), "published by the daemon's enable");
    let key = serde_json::from_str::<serde_json::Value>(&user_ok(
        &host,
        &["web", "connection-info", "--json"],
    ))
    .unwrap()["clients"][0]["private-key"]
        .as_str()
        .unwrap()
        .to_string();
    w.tor.client_key(&address, Some(&key));
    match fetch(w.tor.client_socks, &address, 80) {
        Fetch::Page(page) => assert!(page.contains(PAGE), "{page}"),
        other => panic!("the page through Tor with the key the daemon gave: {other:?}"),
    }
    w.tor.client_key(&address, None);

    // Clients through the daemon.
    let added = user_ok(&host, &["web", "client", "add", "bob"]);
    assert!(added.contains("Client `bob` added.") && added.contains("Client `bob`:"), "{added}");
    assert!(user_ok(&host, &["web", "client", "list"]).contains("bob"));
    assert!(user_ok(&host, &["web", "client", "remove", "bob"]).contains("Client `bob` removed."));

    // A new address through the daemon: the question is asked by the CLI,
    // a no changes nothing, a yes publishes the new one.
    let kept = as_user(&host, super::INSIDE_BIN, &["web", "rotate-address"]);
    assert!(
        !kept.status.success()
            && text(&kept).contains("A new address means every client needs the new one.")
            && text(&kept).contains("address unchanged"),
        "{}",
        text(&kept)
    );
    assert_eq!(host.info("web")["address"], address.as_str());
    let rotated = user_ok(&host, &["web", "rotate-address", "--yes"]);
    let new_address = host.info("web")["address"].as_str().unwrap().to_string();
    assert!(
        new_address != address && rotated.contains(&format!("New address: {new_address}")),
        "{rotated}"
    );
    assert!(w.published(&new_address) && !w.published(&address));
    let address = new_address;

    // The same words from both paths, for enable and disable (the packages
    // are in place for both runs; timings aside).
    let user_disable = user_ok(&host, &["web", "disable"]);
    let root_enable = root_in_process(&host, &["web", "enable"]);
    let root_disable = root_in_process(&host, &["web", "disable"]);
    let user_enable = user_ok(&host, &["web", "enable"]);
    assert_eq!(
        without_timings(&user_enable),
        without_timings(&root_enable),
        "enable: through the daemon and in-process differ"
    );
    assert_eq!(user_disable, root_disable, "disable: through the daemon and in-process differ");

    // A plugin through the daemon (inspect, then add those bytes), one
    // capability refused: it gets exactly the rest. The consent the user
    // reads is root's, word for word.
    grant(
        &host,
        &[
            "org.tails.server.read",
            "org.tails.server.manage",
            "org.tails.server.secrets",
            "org.tails.server.plugins",
        ],
    );
    eventually("the plugins rule", || {
        bus_call(&host, "RemovePlugin", &["s", "nosuch"]).1.contains("no service named")
    });
    let irc = ["plugin", "add", "irc", "--yes", "--deny", "package:ngircd"];
    let user_added = user_ok(&host, &irc);
    assert!(
        user_added.contains("Refused (--deny):") && user_added.contains("Added irc."),
        "{user_added}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&host.ok(&["plugin", "show", "irc", "--json"])).unwrap();
    for cap in shown["capabilities"].as_array().unwrap() {
        assert_eq!(cap["granted"], cap["capability"] != "package:ngircd", "{shown}");
    }
    assert!(user_ok(&host, &["plugin", "remove", "irc"]).contains("Removed irc"));
    assert_eq!(
        root_in_process(&host, &irc),
        user_added,
        "plugin add: through the daemon and in-process differ"
    );
    root_in_process(&host, &["plugin", "remove", "irc"]);
    // The file changes between inspect and add (while the consent question
    // waits for the person): the daemon refuses the other bytes.
    host.sys.sh(&format!("cp /usr/share/tails-server/plugins/irc.wasm /home/{USER}/x.wasm && chown {USER} /home/{USER}/x.wasm"));
    let mut adding = host
        .sys
        .command("runuser")
        .args([
            "-u",
            USER,
            "--",
            super::INSIDE_BIN,
            "plugin",
            "add",
            &format!("/home/{USER}/x.wasm"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = adding.stdout.take().unwrap();
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&said).contains("Allow irc to do this? [y/N]") {
        assert!(
            Instant::now() < deadline,
            "no consent question: {}",
            String::from_utf8_lossy(&said)
        );
        let mut buf = [0u8; 4096];
        let n = std::io::Read::read(&mut stdout, &mut buf).unwrap();
        assert!(n > 0, "the CLI ended before asking: {}", String::from_utf8_lossy(&said));
        said.extend_from_slice(&buf[..n]);
    }
    host.sys.sh(&format!("cp /usr/share/tails-server/plugins/web.wasm /home/{USER}/x.wasm"));
    std::io::Write::write_all(adding.stdin.as_mut().unwrap(), b"y\n").unwrap();
    let rest = wait_bounded(adding, Duration::from_secs(60));
    assert!(
        !rest.status.success()
            && text(&rest).contains("the plugin file changed since it was inspected"),
        "{}",
        text(&rest)
    );
    assert!(!user_ok(&host, &["list"]).contains("irc"), "nothing was added");
    // Not a regular file: refused without reading (a FIFO would block).
    host.sys.sh(&format!("mkfifo /home/{USER}/p.wasm && chown {USER} /home/{USER}/p.wasm"));
    let fifo = user_fails(&host, &["plugin", "add", &format!("/home/{USER}/p.wasm"), "--yes"]);
    assert!(fifo.contains("it is not a regular file"), "{fifo}");

    // Bad input over D-Bus: a clear error each, and the daemon serves on.
    let (ok, said) = bus_call(&host, "ServiceStatus", &["i", "5"]);
    assert!(
        !ok && said.contains("Signature mismatch: got `i`, expected `s`"),
        "wrong argument type: {said}"
    );
    let (ok, said) = bus_call(&host, "ServiceStatus", &["s", "nosuch"]);
    assert!(!ok && said.contains("no service named `nosuch`"), "{said}");
    let huge = "a".repeat(100_000);
    let (ok, said) = bus_call(&host, "Enable", &["s", &huge]);
    assert!(
        !ok && said.contains("is not a service name") && said.len() < 2_000,
        "a huge name: {}",
        &said[..said.len().min(300)]
    );
    let (ok, said) = bus_call(&host, "SetOption", &["ssss", "web", "folder", &huge, "false"]);
    assert!(!ok, "a huge value: {}", &said[..said.len().min(300)]);
    // Two enables of one service at once: the second is refused while the first runs.
    host.ok(&["web", "disable"]);
    let first = as_user_spawn(
        &host,
        &[
            "--system",
            "call",
            "org.tails.Server",
            "/org/tails/Server",
            "org.tails.Server1",
            "Enable",
            "s",
            "web",
        ],
    );
    let second = as_user_spawn(
        &host,
        &[
            "--system",
            "call",
            "org.tails.Server",
            "/org/tails/Server",
            "org.tails.Server1",
            "Enable",
            "s",
            "web",
        ],
    );
    let (first, second) = (
        text(&wait_bounded(first, Duration::from_secs(60))),
        text(&wait_bounded(second, Duration::from_secs(60))),
    );
    let refusals = [&first, &second]
        .iter()
        .filter(|t| t.contains("is already being enabled or disabled"))
        .count();
    assert_eq!(refusals, 1, "one enable runs, the other is refused:\n{first}\n{second}");
    let job = [&first, &second]
        .iter()
        .find_map(|t| t.strip_prefix("o \""))
        .map(|t| t.trim().trim_end_matches('"').to_string())
        .expect("a job path");
    eventually("the job to finish", || {
        let out = as_user(
            &host,
            "busctl",
            &[
                "--system",
                "get-property",
                "org.tails.Server",
                &job,
                "org.tails.Server1.Job",
                "Status",
            ],
        );
        String::from_utf8_lossy(&out.stdout).contains("succeeded")
    });
    let out = as_user(
        &host,
        "busctl",
        &[
            "--system",
            "get-property",
            "org.tails.Server",
            &job,
            "org.tails.Server1.Job",
            "StepsDone",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "u 5", "the job counted its steps");
    // Another user reads nothing of it (its words name the onion address).
    host.sys.sh("useradd --create-home tsother");
    let other = host
        .sys
        .command("runuser")
        .args([
            "-u",
            "tsother",
            "--",
            "busctl",
            "--system",
            "get-property",
            "org.tails.Server",
            &job,
            "org.tails.Server1.Job",
            "History",
        ])
        .output()
        .unwrap();
    assert!(
        !other.status.success() && text(&other).to_lowercase().contains("access denied"),
        "{}",
        text(&other)
    );
    let (ok, said) = bus_call(&host, "ServiceStatus", &["s", "web"]);
    assert!(ok && said.contains("published"), "the daemon serves on: {said}");

    // tor restarts: the daemon's watcher publishes web again at the same
    // address, with no command. How long it took is printed (a figure, not
    // an assertion; the goal is under 10 s from tor answering again).
    assert!(w.published(&address));
    w.tor.restart_service_tor();
    eventually("web published again after tor restarted", || w.published(&address));
    let mut log = String::new();
    eventually("the watcher to say it republished", || {
        log = host.sys.sh("journalctl -u tails-serverd --no-pager -o cat");
        // The figure is the watcher's line after the services' own.
        log.contains("tor watcher: web: published again at")
            && log.contains("every enabled service is published,")
    });
    let figure = log
        .lines()
        .rev()
        .find(|l| l.contains("every enabled service is published,"))
        .expect("the watcher's figure");
    println!("    daemon: {figure}");

    // Killed in the middle of an enable: its next start finishes it.
    user_ok(&host, &["web", "disable"]);
    host.sys.sh("mkdir -p /etc/systemd/system/tails-serverd.service.d && printf '[Service]\\nEnvironment=TAILS_SERVER_TEST_PAUSE_AFTER=enable:unit\\n' > /etc/systemd/system/tails-serverd.service.d/pause.conf && systemctl daemon-reload && systemctl restart tails-serverd");
    let cli = host
        .sys
        .command("runuser")
        .args(["-u", USER, "--", super::INSIDE_BIN, "web", "enable"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually("the daemon to pause after the unit step", || {
        host.sys
            .sh("journalctl -u tails-serverd --no-pager -o cat")
            .contains("paused after enable:unit")
    });
    // The pause is for this start only: the next start (the CLI's next call
    // activates one) runs as installed.
    host.sys.sh("rm /etc/systemd/system/tails-serverd.service.d/pause.conf && systemctl daemon-reload && systemctl kill -s KILL tails-serverd");
    let cli = wait_bounded(cli, Duration::from_secs(60));
    assert!(!cli.status.success(), "the CLI whose daemon died reports a failure");
    assert!(
        text(&cli).contains("tails-serverd stopped before the enable of web finished"),
        "{}",
        text(&cli)
    );
    // The CLI's last call started the daemon again, which repaired first.
    let status: serde_json::Value =
        serde_json::from_str(&user_ok(&host, &["web", "status", "--json"])).unwrap();
    assert_eq!(status["enabled"], true, "{status}");
    assert_eq!(status["published"], true, "{status}");
    assert!(host.info("web")["journal"]["operation"].is_null());
    let log = host.sys.sh("journalctl -u tails-serverd --no-pager -o cat");
    assert!(
        log.contains("Finishing the interrupted enable of web:")
            && log.contains("the interrupted enable was finished"),
        "{log}"
    );
    user_ok(&host, &["web", "disable"]);
}

fn as_user_spawn(host: &Host, busctl_args: &[&str]) -> std::process::Child {
    host.sys
        .command("runuser")
        .args(["-u", USER, "--", "busctl"])
        .args(busctl_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A child's output once it ends; killed (by its pid) past the deadline.
fn wait_bounded(mut child: std::process::Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}; killed: {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}
