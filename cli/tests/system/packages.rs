//! Packages for real: apt installs a missing package (from a .deb kept by
//! scripts/setup, as the host has no network), after waiting for the dpkg
//! lock and saying who holds it, and after finishing an interrupted dpkg.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use tails_server_testkit::fixtures;

use super::{http_get, Boot, World};

/// Debian 13's .debs the tests install (lighttpd, prosody), kept by scripts/setup.
const DEBS: &str = "/var/cache/tails-server-tests/trixie-debs";

/// Debian 13's .deb of `package`, kept by scripts/setup.
pub fn kept_deb(package: &str) -> std::path::PathBuf {
    std::fs::read_dir(DEBS)
        .ok()
        .and_then(|d| {
            d.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_")))
            })
        })
        .unwrap_or_else(|| panic!("no {package} .deb in {DEBS}: run scripts/setup"))
}

pub fn packages_are_installed_with_apt_after_waiting_for_the_lock(w: &World) {
    let deb = kept_deb("lighttpd");
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    let files = vec![
        (deb.clone(), format!("/var/cache/apt/archives/{name}")),
        (fixtures::TAILS6_WIKI.into(), "/root/tails6-wiki.wasm".into()),
    ];
    let host = w.host(Boot { files, ..Boot::default() });
    // MediaWiki (of the catalog) depends on a web server: it goes too.
    host.sys.sh("dpkg --remove mediawiki lighttpd >/dev/null");
    // A machine may have a policy-rc.d of its own (Docker images do); the
    // host's copy goes, so that what keeps lighttpd from starting is ours.
    host.sys.sh("rm -f /usr/sbin/policy-rc.d");
    let removed_at = host.sys.sh("date +%s").trim().to_string();
    host.add_plugins(&["web"]);
    assert_eq!(host.info("web")["installed"], false);

    // An interrupted dpkg run leaves its journal in updates/.
    host.sys.sh("touch /var/lib/dpkg/updates/0001");
    // Someone else holds the package manager for a while.
    let mut holder = host
        .sys
        .command("python3")
        .args(["-c", "import fcntl,time; f=open('/var/lib/dpkg/lock-frontend','w'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(4)"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "locked");

    let out = host.ok(&["web", "enable"]);
    holder.wait().unwrap();
    assert!(
        out.contains("Waiting for the package manager: process")
            && out.contains("(python3) holds the dpkg lock"),
        "{out}"
    );
    assert!(out.contains("previous dpkg run was interrupted; finishing it first"), "{out}");
    assert!(out.contains("✓ packages: installed: lighttpd"), "{out}");
    let info = host.info("web");
    assert_eq!(info["installed"], true, "dpkg's status says installed");
    assert_eq!(info["running"], true);
    assert!(http_get(8080).starts_with("HTTP/1."), "the freshly installed lighttpd answers");
    // Its package did not start it with its default configuration: only the
    // host did, once configured (policy-rc.d, held while apt runs).
    let journal =
        host.sys.sh(&format!("journalctl -u lighttpd.service --no-pager --since @{removed_at}"));
    assert_eq!(journal.matches("Started lighttpd").count(), 1, "{journal}");
    assert_eq!(
        host.sys.sh("test -e /usr/sbin/policy-rc.d; echo $?").trim(),
        "1",
        "policy-rc.d is gone once apt is done"
    );
    let audit = host.sys.read("/var/lib/tails-server/audit.log");
    assert!(audit.contains("install-packages") && audit.contains("lighttpd"), "{audit}");
    host.ok(&["web", "disable"]);

    // A package this release does not have (Tails 6's wiki asks for Debian
    // 12's php8.2-cgi): refused at enable, naming it and the release, with
    // nothing changed.
    host.ok(&["plugin", "add", "/root/tails6-wiki.wasm", "--yes"]);
    let system = || {
        host.sys.sh("ls /etc/systemd/system /run/systemd/system; nft list ruleset; dpkg-query -W -f '${Package}\\n'")
    };
    let before = system();
    let refused = host.fails(&["wiki", "enable"]);
    assert!(
        refused.contains(
            "apt knows no package named exactly `php8.2-cgi` on Debian GNU/Linux 13 (trixie)"
        ),
        "{refused}"
    );
    let info = host.info("wiki");
    assert_eq!(
        (info["enabled"].as_bool(), info["running"].as_bool()),
        (Some(false), Some(false)),
        "{info}"
    );
    assert!(!w.published(info["address"].as_str().unwrap()), "no onion service");
    assert_eq!(system(), before, "no unit, rule or package changed");
}
