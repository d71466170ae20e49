//! Packages for real: apt installs a missing package (from a .deb kept by
//! scripts/setup, as the host has no network), after waiting for the dpkg
//! lock and saying who holds it, and after finishing an interrupted dpkg.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use super::{http_get, Boot, World};

/// Debian 13's lighttpd .deb, kept by scripts/setup.
const DEBS: &str = "/var/cache/tails-server-tests/trixie-debs";

pub fn packages_are_installed_with_apt_after_waiting_for_the_lock(w: &World) {
    let deb = std::fs::read_dir(DEBS)
        .ok()
        .and_then(|d| d.flatten().map(|e| e.path()).find(|p| p.to_string_lossy().contains("lighttpd_")))
        .unwrap_or_else(|| panic!("no lighttpd .deb in {DEBS}: run scripts/setup"));
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    let host = w.host(Boot { files: vec![(deb.clone(), format!("/var/cache/apt/archives/{name}"))], ..Boot::default() });
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
    assert!(out.contains("Waiting for the package manager: process") && out.contains("(python3) holds the dpkg lock"), "{out}");
    assert!(out.contains("previous dpkg run was interrupted; finishing it first"), "{out}");
    assert!(out.contains("✓ packages: installed: lighttpd"), "{out}");
    let info = host.info("web");
    assert_eq!(info["installed"], true, "dpkg's status says installed");
    assert_eq!(info["running"], true);
    assert!(http_get(8080).starts_with("HTTP/1."), "the freshly installed lighttpd answers");
    // Its package did not start it with its default configuration: only the
    // host did, once configured (policy-rc.d, held while apt runs).
    let journal = host.sys.sh(&format!("journalctl -u lighttpd.service --no-pager --since @{removed_at}"));
    assert_eq!(journal.matches("Started lighttpd").count(), 1, "{journal}");
    assert_eq!(host.sys.sh("test -e /usr/sbin/policy-rc.d; echo $?").trim(), "1", "policy-rc.d is gone once apt is done");
    let audit = host.sys.read("/var/lib/tails-server/audit.log");
    assert!(audit.contains("install-packages") && audit.contains("lighttpd"), "{audit}");
    host.ok(&["web", "disable"]);
}
