//! The Debian packages (`scripts/package --profile dev`, which `scripts/test`
//! runs first) installed with apt in a bare test host set up like Tails: an
//! unprivileged `amnesia` user whom polkit lets act (as Tails' administration
//! password would), tor reachable through a control port (on Tails through
//! onion-grater, which is not in Debian: the daemon is pointed at the private
//! network's service tor instead, as in the daemon's test). As amnesia: the
//! version, the man page, completions, then web added, enabled and fetched
//! through Tor, all through the daemon the package installed. Then the
//! packages removed and purged: nothing of Tails Server is left (units,
//! firewall rules, onion services, files) but the configuration file it wrote
//! for lighttpd, a Debian package that stays installed (see the end).

use std::path::{Path, PathBuf};

use tails_server_testkit::systemd_host::tor_control_dropin;
use tails_server_testkit::tornet::{fetch, Fetch};

use super::daemon::eventually;
use super::{Boot, Host, World, INSIDE_BIN};

const USER: &str = "amnesia";
const PAGE: &str = "<h1>Served by the packaged Tails Server</h1>";

/// The two packages, built from the sources the test binary was built from.
fn debs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/package/debs");
    let mut found = Vec::new();
    for package in ["tails-server_", "tails-server-gui_"] {
        let deb = std::fs::read_dir(&dir)
            .ok()
            .and_then(|entries| entries.flatten().map(|e| e.path()).find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(package) && n.to_string_lossy().ends_with(".deb"))))
            .unwrap_or_else(|| panic!("no {package}*.deb in {}: build the packages with `scripts/package --profile dev` (scripts/test does)", dir.display()));
        // Made from these sources, or it tests another build.
        let made = std::fs::metadata(&deb).and_then(|m| m.modified()).unwrap();
        if let Some(newer) = newest_source().filter(|(when, _)| *when > made) {
            panic!(
                "{} is older than {}: run `scripts/package --profile dev` again",
                deb.display(),
                newer.1.display()
            );
        }
        found.push(deb);
    }
    found
}

/// The most recently changed file of what goes into the packages.
fn newest_source() -> Option<(std::time::SystemTime, PathBuf)> {
    fn walk(dir: &Path, newest: &mut Option<(std::time::SystemTime, PathBuf)>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target" && n != "tests" && n != "benches")
                {
                    walk(&path, newest);
                }
            } else if let Ok(when) = entry.metadata().and_then(|m| m.modified()) {
                if newest.as_ref().is_none_or(|(w, _)| when > *w) {
                    *newest = Some((when, path));
                }
            }
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut newest = None;
    for dir in [
        "cli/src",
        "core/src",
        "daemon/src",
        "dbus/src",
        "gui/src",
        "plugins",
        "sdk",
        "wit",
        "data",
    ] {
        walk(&workspace.join(dir), &mut newest);
    }
    newest
}

/// What of Tails Server is on the host: files named after it in the places
/// a package, the daemon or a service writes, our units known to systemd,
/// our firewall rules, files that say Tails Server wrote them.
fn traces(host: &Host) -> Vec<String> {
    let script = r#"
find /etc /usr /lib/systemd /var/lib /var/cache /opt /run/systemd -xdev -name '*tails-server*' 2>/dev/null
find /etc /usr /lib/systemd /var/lib /var/cache /opt /run/systemd -xdev -name '*org.tails.Server*' 2>/dev/null
systemctl list-units --all --plain --no-legend 'tails-server*' | sed 's/^/unit: /'
grep -rl --exclude-dir=proc 'Written by Tails Server\|Added by Tails Server' /etc /lib/systemd /run/systemd 2>/dev/null | sed 's/^/written: /'
true
"#;
    let mut found: Vec<String> =
        host.sys.sh(script).lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();
    if host.nft_rules().contains("tails-server") {
        found.push(format!("nftables rules:\n{}", host.nft_rules()));
    }
    found
}

pub fn debian_packages_install_serve_amnesia_and_leave_nothing(w: &World) {
    let debs = debs();
    let scratch = tempfile::tempdir().unwrap();
    let mut files: Vec<(PathBuf, String)> = debs
        .iter()
        .map(|d| (d.clone(), format!("/var/tmp/debs/{}", d.file_name().unwrap().to_string_lossy())))
        .collect();
    files.push(tor_control_dropin(
        "tails-serverd.service",
        &w.tor.service_control(),
        scratch.path(),
    ));
    // This machine's Rust toolchain and crate cache, for the Rust SDK's check.
    let binds =
        ["/root/.cargo", "/root/.rustup"].map(|d| (PathBuf::from(d), d.to_string())).to_vec();
    let host = w.host(Boot { bare: true, files, binds, ..Boot::default() });
    let before = traces(&host);
    // This machine's test caches and the test's drop-in, nothing installed.
    assert!(
        !before
            .iter()
            .any(|t| t.starts_with("/usr") || t.starts_with("/lib") || t.starts_with("unit:")),
        "a bare host: {before:?}"
    );
    // amnesia is the root's (uid 1000, as on Tails).
    host.sys.sh(&format!("mkdir -p /var/www/html && echo '{PAGE}' > /var/www/html/index.html"));

    // Installed as on Tails: apt with the packages' files (everything they
    // depend on is already there, as Tails has it; the host has no network).
    let installed = host.sys.sh(
        "cd /var/tmp/debs && apt-get install -y ./tails-server_*.deb ./tails-server-gui_*.deb 2>&1",
    );
    assert!(
        installed.contains("Setting up tails-server ")
            && installed.contains("Setting up tails-server-gui "),
        "{installed}"
    );
    for (path, mode) in [
        ("/usr/bin/tails-server", "755"),
        ("/usr/libexec/tails-serverd", "755"),
        ("/usr/bin/tails-server-gui", "755"),
        ("/usr/share/tails-server/plugins/web.wasm", "644"),
        ("/etc/onion-grater.d/tails-server.yml", "644"),
    ] {
        assert_eq!(host.sys.sh(&format!("stat -c %a {path}")).trim(), mode, "{path}");
    }
    assert_eq!(
        host.sys.sh("systemctl is-enabled tails-server-autostart.service || true").trim(),
        "enabled",
        "the boot unit is enabled by the package"
    );

    // What a person reads before anything else.
    let version = host.user_ok(USER, &["--version"]);
    assert_eq!(version.trim(), format!("tails-server {}", env!("CARGO_PKG_VERSION")));
    let man = host.sys.sh("MANWIDTH=100 man -P cat tails-server 2>/dev/null");
    assert!(
        man.contains("SERVICE COMMANDS")
            && man.contains("connection-info")
            && man.contains("/var/lib/tails-server"),
        "man tails-server:\n{man}"
    );
    // Bash completes the verbs and, after a shipped service's name, its
    // commands: the function bash-completion would call, called as it would.
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let script = format!(
            ". /usr/share/bash-completion/completions/tails-server; f=$(complete -p tails-server | sed -E 's/.*-F ([^ ]+) .*/\\1/'); \
             COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=({}); COMP_CWORD={}; \"$f\" tails-server '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words.join(" "),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2]
        );
        let out = host.as_user(USER, "bash", &["-c", &script]);
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    assert!(
        complete("tails-server plug").lines().any(|l| l == "plugin"),
        "bash: tails-server plug<Tab>: {}",
        complete("tails-server plug")
    );
    assert!(
        complete("tails-server we").lines().any(|l| l == "web"),
        "bash: a shipped service's name: {}",
        complete("tails-server we")
    );
    assert!(
        complete("tails-server web ena").lines().any(|l| l == "enable"),
        "bash: web ena<Tab>: {}",
        complete("tails-server web ena")
    );
    for file in [
        "/usr/share/zsh/vendor-completions/_tails-server",
        "/usr/share/fish/vendor_completions.d/tails-server.fish",
    ] {
        assert!(host.sys.sh(&format!("cat {file}")).contains("connection-info"), "{file}");
    }

    // An author starts plugins from the installed SDK (/usr/share/tails-server/sdk):
    // as a user, a Python one (its build script calls the installed SDK's;
    // componentize-py is not in the Debian 13 root, so it is not built
    // here: the authoring test builds every language); as root, a Rust
    // one, checked against the installed Rust SDK and contract with this
    // machine's toolchain and crate cache, bound in.
    let made = host.user_ok(USER, &["plugin", "new", "hello", "--lang", "python", "--in", "/tmp"]);
    assert!(made.contains("Wrote /tmp/hello: plugin.py, build."), "{made}");
    assert!(host
        .sys
        .read("/tmp/hello/build")
        .contains("\"/usr/share/tails-server/sdk/python/build\" plugin.py hello.wasm"));
    host.sys.sh(
        "test -x /usr/share/tails-server/sdk/python/build && test -d /usr/share/tails-server/wit",
    );
    host.sys.sh("tails-server plugin new hello-rust --lang rust --in /root");
    let checked = host.sys.run(
        "sh",
        &["-c", "cd /root/hello-rust && CARGO_NET_OFFLINE=true RUSTUP_HOME=/root/.rustup /root/.cargo/bin/cargo check -q --target wasm32-wasip2 2>&1"],
    );
    assert!(
        checked.status.success(),
        "the installed Rust SDK: {}",
        String::from_utf8_lossy(&checked.stdout)
    );

    // amnesia, allowed by polkit, through the daemon the package installed
    // (started by D-Bus activation: the package made dbus read its files).
    host.sys.sh(&tails_server_testkit::systemd_host::polkit_grant(
        USER,
        &[
            "org.tails.server.read",
            "org.tails.server.manage",
            "org.tails.server.secrets",
            "org.tails.server.plugins",
        ],
    ));
    eventually("amnesia's polkit rule", || {
        host.as_user(USER, INSIDE_BIN, &["list"]).status.success()
    });
    assert!(host.user_ok(USER, &["plugin", "add", "web", "--yes"]).contains("Added web."));
    host.user_ok(USER, &["web", "enable"]);
    let info: serde_json::Value =
        serde_json::from_str(&host.user_ok(USER, &["web", "connection-info", "--json"])).unwrap();
    let address = info["address"].as_str().expect("an address").to_string();
    let key = info["clients"][0]["private-key"].as_str().expect("a client key").to_string();
    assert!(w.published(&address));
    w.tor.client_key(&address, Some(&key));
    match fetch(w.tor.client_socks, &address, 80) {
        Fetch::Page(page) => assert!(page.contains(PAGE), "{page}"),
        other => panic!("the page through Tor: {other:?}"),
    }
    w.tor.client_key(&address, None);
    assert!(host.nft_rules().contains("tails-server:web"), "web's firewall rules while enabled");

    // Removed: every service is disabled first (unpublished, rules gone, its
    // units stopped), the daemon stops, the files go; the state stays.
    let removed = host.sys.sh("apt-get remove -y tails-server-gui tails-server 2>&1");
    assert!(
        removed.contains("web is disabled"),
        "the package disabled web before going:\n{removed}"
    );
    assert!(!w.published(&address), "web's onion service is gone");
    assert_eq!(
        host.sys
            .sh("systemctl is-active lighttpd.service tails-serverd.service || true")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["inactive", "inactive"]
    );
    assert!(
        host.sys.sh("test -d /var/lib/tails-server && echo kept").contains("kept"),
        "remove keeps the state for a reinstall"
    );
    // Purged: the state and the configuration go too.
    host.sys.sh("apt-get purge -y tails-server-gui tails-server 2>&1");
    let test_rule = "/etc/polkit-1/rules.d/50-tails-server-test.rules";
    let left: Vec<String> =
        traces(&host).into_iter().filter(|t| !before.contains(t) && t != test_rule).collect();
    // What stays, on purpose: the configuration file of a package that
    // enable installed (lighttpd's), as Tails Server wrote it. The package
    // is Debian's and stays installed; Debian's own configuration would have
    // it listen on every interface at its next start, ours on 127.0.0.1.
    let (kept, left): (Vec<String>, Vec<String>) = left.into_iter().partition(|t| {
        t.strip_prefix("written: ")
            .is_some_and(|path| host.sys.run("dpkg", &["-S", path]).status.success())
    });
    assert!(left.is_empty(), "left behind after purge:\n{}", left.join("\n"));
    assert_eq!(
        kept,
        ["written: /etc/lighttpd/lighttpd.conf"],
        "only lighttpd's configuration stays, as written"
    );
}
