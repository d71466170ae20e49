//! From Tails 6 to Tails 7 with nothing lost: services kept in Persistent
//! Storage with Tails 6's release, on Tails 6's base (the Debian 12 root),
//! come back working when the same Persistent Storage boots Tails 7 (the
//! Debian 13 root) with this release.
//!
//! Tails 6's release is this build with the three first-party plugins whose
//! package names or paths Tails 7 changed built as that release shipped them
//! (their `tails6` feature: mumble's /etc/mumble-server.ini, the wikis'
//! php8.2-* packages).

use std::os::unix::fs::PermissionsExt;

use tails_server_testkit::fixtures;

use super::catalog::{
    mediawiki_api, mediawiki_edit, mediawiki_read, reach, wiki_edit, wiki_read, xmpp_clients,
    Browser,
};
use super::reboot::boot_autostarted;
use super::{mumble_handshake, Boot, World};

const SERVICES: [&str; 4] = ["mumble", "wiki", "mediawiki", "xmpp"];

pub fn tails6_persistent_storage_comes_back_on_tails7(w: &World) {
    let storage = tempfile::tempdir_in("/var/tmp").unwrap();
    let list = storage.path().join("live-additional-software.conf");
    std::fs::write(&list, "# the user's own\nvim\n").unwrap();
    let conf = storage.path().join("persistence.conf");
    std::fs::write(&conf, "/home/amnesia/Persistent\tsource=Persistent\n").unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    let kept = storage.path().join("tails-server");
    let nonce = format!("tails6-{}", std::process::id());

    // Tails 6: the plugins its release shipped, where an installed Tails Server has them.
    let shipped = |name: &str| format!("/usr/share/tails-server/plugins/{name}.wasm");
    let tails6_plugins = vec![
        (fixtures::TAILS6_MUMBLE.into(), shipped("mumble")),
        (fixtures::TAILS6_WIKI.into(), shipped("wiki")),
        (fixtures::TAILS6_MEDIAWIKI.into(), shipped("mediawiki")),
    ];
    let connections: Vec<serde_json::Value> = {
        let a = boot_autostarted(
            w,
            Boot {
                persistent: Some(storage.path()),
                tails6: true,
                files: tails6_plugins,
                ..Boot::default()
            },
        );
        assert!(a.sys.read("/etc/debian_version").starts_with("12."), "Tails 6 is Debian 12");
        a.add_plugins(&SERVICES);
        for service in SERVICES {
            a.ok(&[service, "set-option", "persistence", "true"]);
            a.ok(&[service, "set-option", "autostart", "true"]);
        }
        a.ok(&["mumble", "set-option", "server-password", "tails6 voice"]);
        a.ok(&["wiki", "set-option", "admin-password", "tails6-wiki-password"]);
        a.ok(&["mediawiki", "set-option", "admin-password", "tails6-mediawiki-password"]);
        for service in SERVICES {
            a.ok(&[service, "enable"]);
        }
        // Tails 6's mumble (1.3) reads the file Tails 6's plugin writes.
        assert!(a.sys.read("/etc/mumble-server.ini").contains("serverpassword=\"tails6 voice\""));
        let mumble = reach(w, &a, "mumble");
        assert_eq!(
            mumble_handshake(w, &mumble, 64738, "tails6 voice"),
            "ServerSync",
            "Tails 6's mumble asks for its password"
        );
        let wiki = reach(w, &a, "wiki");
        wiki_edit(
            w,
            &wiki,
            "admin",
            "tails6-wiki-password",
            "kept",
            &format!("{nonce} in the wiki"),
        );
        let mediawiki = reach(w, &a, "mediawiki");
        let mut admin = Browser::new(w, &mediawiki);
        let site = mediawiki_api(&mut admin, &[("action", "query"), ("meta", "siteinfo")], false);
        assert!(
            site["query"]["general"]["generator"]
                .as_str()
                .unwrap_or("")
                .starts_with("MediaWiki 1.39"),
            "{site}"
        );
        mediawiki_edit(
            &mut admin,
            "tails6-mediawiki-password",
            "Kept",
            &format!("{nonce} in MediaWiki"),
        );
        let xmpp = reach(w, &a, "xmpp");
        assert_eq!(
            xmpp_clients(w, &xmpp, &nonce, "register").unwrap(),
            format!("received {nonce}")
        );
        let software = std::fs::read_to_string(&list).unwrap();
        assert!(
            software.contains("\nphp8.2-cgi\n") && software.contains("\nphp8.2-sqlite3\n"),
            "Tails 6's PHP:\n{software}"
        );
        SERVICES
            .iter()
            .map(|s| serde_json::from_str(&a.ok(&[s, "connection-info", "--json"])).unwrap())
            .collect()
    }; // shut down; Tails 7 boots next, with this release

    // On Tails 7 Additional Software installs the kept packages at boot, in
    // its own time: prosody is not installed yet when autostart runs (purged
    // from this boot's root, its account with it), and comes from apt
    // (Debian 13's .deb kept by scripts/setup) at xmpp's enable.
    let prosody = super::packages::kept_deb("prosody");
    let later = storage.path().join("additional-software-later.conf");
    std::fs::write(&later, "[Service]\nExecStartPre=/usr/bin/dpkg --purge prosody\n").unwrap();
    let files = vec![
        (
            later,
            "/etc/systemd/system/tails-server-autostart.service.d/additional-software-later.conf"
                .into(),
        ),
        (
            prosody.clone(),
            format!("/var/cache/apt/archives/{}", prosody.file_name().unwrap().to_string_lossy()),
        ),
    ];
    let b =
        boot_autostarted(w, Boot { persistent: Some(storage.path()), files, ..Boot::default() });
    assert!(b.sys.read("/etc/debian_version").starts_with("13."), "Tails 7 is Debian 13");
    let said = b.sys.sh("journalctl -u tails-server-autostart.service --no-pager");
    assert!(
        said.contains("installed: prosody"),
        "prosody came at enable, after the kept copies were brought back:\n{said}"
    );
    for (service, before) in SERVICES.iter().zip(&connections) {
        let now: serde_json::Value =
            serde_json::from_str(&b.ok(&[service, "connection-info", "--json"])).unwrap();
        assert_eq!(now["address"], before["address"], "{service}: same onion address");
        assert_eq!(
            now["clients"][0]["private-key"], before["clients"][0]["private-key"],
            "{service}: same client key"
        );
        assert_eq!(b.info(service)["enabled"], true, "{service}: autostarted");
        let replaced =
            said.contains(&format!("{service}: its plugin is now the one this Tails Server ships"));
        assert_eq!(
            replaced,
            *service != "xmpp",
            "{service}: replaced only where Tails 7's plugin differs:\n{said}"
        );
    }
    let kept_record = |name: &str| {
        std::fs::read_to_string(kept.join(format!("plugins/{name}/plugin.json"))).unwrap()
    };
    assert!(
        kept_record("mumble").contains("/etc/mumble/mumble-server.ini"),
        "Persistent Storage keeps Tails 7's plugin"
    );
    assert!(
        !kept_record("wiki").contains("php8.2") && !kept_record("mediawiki").contains("php8.2")
    );

    // Mumble: the password in effect, from the file mumble 1.5 reads.
    assert!(b
        .sys
        .read("/etc/mumble/mumble-server.ini")
        .contains("serverpassword=\"tails6 voice\""));
    let mumble = reach(w, &b, "mumble");
    assert_eq!(mumble_handshake(w, &mumble, 64738, "tails6 voice"), "ServerSync");
    let refused = mumble_handshake(w, &mumble, 64738, "guessed");
    assert!(refused.starts_with("Reject 4 "), "the password is asked for: {refused}");
    // The pages, through Tor.
    let wiki = reach(w, &b, "wiki");
    assert_eq!(
        wiki_read(w, &wiki, "kept").trim(),
        format!("{nonce} in the wiki"),
        "the wiki's page is kept"
    );
    let mediawiki = reach(w, &b, "mediawiki");
    let mut reader = Browser::new(w, &mediawiki);
    let site = mediawiki_api(&mut reader, &[("action", "query"), ("meta", "siteinfo")], false);
    assert!(
        site["query"]["general"]["generator"].as_str().unwrap_or("").starts_with("MediaWiki 1.43"),
        "{site}"
    );
    assert_eq!(
        mediawiki_read(&mut reader, "Kept").trim(),
        format!("{nonce} in MediaWiki"),
        "MediaWiki's page, in its updated database"
    );
    let journal = b.sys.sh("journalctl -u tails-server-mediawiki.service --no-pager");
    assert!(journal.contains("updating the wiki's database for MediaWiki 1.43"), "{journal}");
    // The XMPP accounts.
    let xmpp = reach(w, &b, "xmpp");
    // Its configuration file, kept with Tails 6's group number (another
    // account on Tails 7), is readable by prosody again, and its data
    // folder is prosody's: both waited for the package to say its numbers.
    assert_eq!(b.sys.sh("stat -c %U:%G /etc/prosody/prosody.cfg.lua").trim(), "root:prosody");
    assert_eq!(b.sys.sh("stat -c %U /var/lib/prosody").trim(), "prosody");
    assert_eq!(
        xmpp_clients(w, &xmpp, &nonce, "login").expect("the accounts are kept"),
        format!("received {nonce}")
    );
    // Additional Software installs packages that exist on Tails 7; the
    // person's own lines stay.
    let software = std::fs::read_to_string(&list).unwrap();
    assert!(!software.contains("php8.2"), "{software}");
    for package in
        ["php-cgi", "php-sqlite3", "mumble-server", "dokuwiki", "mediawiki", "prosody", "lighttpd"]
    {
        assert!(
            software.lines().any(|l| l == package),
            "{package} in Additional Software's list:\n{software}"
        );
    }
    assert!(software.starts_with("# the user's own\nvim\n"), "{software}");
    for (service, before) in SERVICES.iter().zip(&connections) {
        b.ok(&[service, "disable"]);
        w.tor.client_key(before["address"].as_str().unwrap(), None);
    }
}
