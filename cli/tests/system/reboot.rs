//! Persistence and autostart across reboots: a second (and third) test host
//! boots over the same persistent folder, as Tails over its Persistent
//! Storage; the state folder and everything else were in the first host's RAM.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use tails_server_testkit::fixtures;

use super::{mumble_answers, path_when_up, Boot, Host, World};

fn boot(w: &World, persistent: &Path) -> Host {
    boot_with(w, persistent, false)
}

/// Boot a host over `persistent` with autostart, and wait (bounded) until
/// autostart has done its work; `npm_cache`: see [`Boot::npm_cache`].
pub fn boot_with(w: &World, persistent: &Path, npm_cache: bool) -> Host {
    boot_autostarted(w, Boot { persistent: Some(persistent), npm_cache, ..Boot::default() })
}

/// Boot a host as `boot` says, with autostart, and wait (bounded) until
/// autostart has succeeded.
pub fn boot_autostarted(w: &World, boot: Boot) -> Host {
    let (host, state) = until_autostart_ends(w, boot);
    assert_eq!(state, "active", "autostart: {state}\n{}", autostart_journal(&host));
    host
}

/// Boot over `persistent`, and wait (bounded) until autostart has succeeded or failed.
fn boot_until_autostart_ends(w: &World, persistent: &Path, npm_cache: bool) -> (Host, String) {
    until_autostart_ends(w, Boot { persistent: Some(persistent), npm_cache, ..Boot::default() })
}

fn until_autostart_ends(w: &World, mut boot: Boot) -> (Host, String) {
    boot.autostart = true;
    boot.files.push((fixtures::DATA_FOLDER.into(), "/root/starts.wasm".to_string()));
    let host = w.host(boot);
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let state = host.sys.active_state("tails-server-autostart.service");
        if state == "active" || state == "failed" {
            return (host, state);
        }
        assert!(Instant::now() < deadline, "autostart: {state}\n{}", autostart_journal(&host));
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub fn autostart_journal(host: &Host) -> String {
    host.sys.sh("journalctl -u tails-server-autostart.service --no-pager | tail -30")
}

/// Our Persistent Storage feature, as Tails' persistence.conf holds it.
const FEATURE: &str = "/var/lib/tails-server/persistent\tsource=tails-server";

pub fn persistence_and_autostart_across_reboots(w: &World) {
    let storage = tempfile::tempdir_in("/var/tmp").unwrap();
    let list = storage.path().join("live-additional-software.conf");
    std::fs::write(&list, "# the user's own\nvim\n").unwrap();
    let kept = storage.path().join("tails-server");
    // Tails' own lines, 0600 as tps keeps the file.
    let conf = storage.path().join("persistence.conf");
    let tails_own = "/home/amnesia/Persistent\tsource=Persistent\n";
    std::fs::write(&conf, tails_own).unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();

    let (address, key, clients) = {
        let a = boot(w, storage.path());
        a.add_plugins(&["mumble", "web"]);
        a.ok(&["plugin", "add", "/root/starts.wasm", "--yes"]);
        for service in ["mumble", "web", "starts"] {
            a.ok(&[service, "set-option", "persistence", "true"]);
        }
        a.ok(&["mumble", "set-option", "autostart", "true"]);
        a.ok(&["starts", "set-option", "autostart", "true"]);
        a.ok(&["mumble", "set-option", "server-password", "kept across reboots"]);
        a.ok(&["mumble", "enable"]);
        a.ok(&["web", "enable"]);
        let info = a.info("mumble");
        let connection: serde_json::Value =
            serde_json::from_str(&a.ok(&["mumble", "connection-info", "--json"])).unwrap();
        // What is kept is a feature Tails' Persistent Storage settings show.
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), format!("{tails_own}{FEATURE}\n"));
        assert_eq!(
            std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777,
            0o600,
            "tps checks the mode"
        );
        assert_eq!(std::fs::read_to_string(kept.join("format")).unwrap(), "1\n");
        let software = std::fs::read_to_string(&list).unwrap();
        assert_eq!(software, "# the user's own\nvim\nmumble-server\nlighttpd\n");
        let state = kept.join("services/mumble/state.json");
        assert_eq!(
            std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
            0o600,
            "keys are stored 0600"
        );
        assert!(kept.join("files/mumble/etc/mumble/mumble-server.ini").exists());
        // The persistent folder is mounted from Persistent Storage: murmur's
        // database and anything written there later are kept at once, with
        // no tails-server command in between (a power cut loses nothing).
        assert!(a
            .sys
            .sh("findmnt -n -o TARGET /var/lib/mumble-server")
            .contains("/var/lib/mumble-server"));
        assert!(kept.join("files/mumble/var/lib/mumble-server/mumble-server.sqlite").exists());
        a.sys.sh("echo written-while-running > /var/lib/mumble-server/marker");
        assert_eq!(
            std::fs::read_to_string(kept.join("files/mumble/var/lib/mumble-server/marker"))
                .unwrap(),
            "written-while-running\n"
        );
        // A unit the host writes, with a user of its own: its data folder is
        // systemd's /var/lib/private/NAME, mounted from Persistent Storage.
        a.ok(&["starts", "enable"]);
        let starts = path_when_up(8095, "/starts");
        assert_eq!(starts.matches("start as ").count(), 1, "{starts}");
        assert!(a
            .sys
            .sh("findmnt -n -o TARGET /var/lib/private/tails-server-starts")
            .contains("/var/lib/private/tails-server-starts"));
        assert_eq!(
            a.sys.sh("readlink /var/lib/tails-server-starts").trim(),
            "private/tails-server-starts",
            "systemd's link"
        );
        (
            info["address"].as_str().unwrap().to_string(),
            connection["clients"][0]["private-key"].clone(),
            info["clients"].clone(),
        )
    }; // power cut: the host and its RAM are gone

    {
        let b = boot(w, storage.path());
        let mumble = b.info("mumble");
        assert_eq!(mumble["enabled"], true, "autostart on: enabled again");
        assert_eq!(mumble["address"], address.as_str(), "same onion address");
        assert_eq!(mumble["clients"], clients);
        assert_eq!(mumble["options"]["server-password"], "kept across reboots");
        let connection: serde_json::Value =
            serde_json::from_str(&b.ok(&["mumble", "connection-info", "--json"])).unwrap();
        assert_eq!(connection["clients"][0]["private-key"], key, "same client key");
        assert_eq!(b.sys.active_state("mumble-server.service"), "active");
        assert!(b
            .sys
            .read("/etc/mumble/mumble-server.ini")
            .contains("serverpassword=\"kept across reboots\""));
        assert!(mumble_answers(64738));
        assert!(w.published(&address));
        assert_eq!(
            b.sys.read("/var/lib/mumble-server/marker"),
            "written-while-running\n",
            "mounted again at boot"
        );
        // The starts of the first boot are there, and this boot's user (a new
        // dynamic user, chowned to by systemd) could add its own.
        assert_eq!(b.sys.active_state("tails-server-starts.service"), "active");
        let starts = path_when_up(8095, "/starts");
        assert_eq!(starts.matches("start as ").count(), 2, "{starts}");
        let lines =
            std::fs::read_to_string(kept.join("files/starts/var/lib/tails-server-starts/starts"))
                .unwrap();
        assert_eq!(lines.lines().count(), 2, "kept in Persistent Storage: {lines}");
        b.ok(&["starts", "disable"]);
        b.ok(&["plugin", "remove", "starts"]);
        assert!(!kept.join("files/starts").exists() && !kept.join("services/starts").exists());

        let web = b.info("web");
        assert_eq!(web["enabled"], false, "autostart off: restored but not enabled");
        assert_eq!(
            b.sys.active_state("lighttpd.service"),
            "inactive",
            "its package's unit does not run on its own"
        );

        // Turning persistence off asks first; no answer is a no.
        let refused = b.ts(&["web", "set-option", "persistence", "false"]);
        assert!(
            !refused.status.success()
                && String::from_utf8_lossy(&refused.stderr).contains("nothing was deleted")
        );
        assert!(kept.join("services/web/state.json").exists());
        b.ok(&["web", "set-option", "persistence", "false", "--yes"]);
        assert!(!kept.join("services/web").exists() && !kept.join("plugins/web").exists());
        assert_eq!(
            std::fs::read_to_string(&list).unwrap(),
            "# the user's own\nvim\nmumble-server\n"
        );
    }

    // The person turns the feature off in Tails' settings (its line goes):
    // the next boot brings nothing back, says what is missing and what to
    // do, and deletes nothing.
    std::fs::write(&conf, tails_own).unwrap();
    let (c, state) = boot_until_autostart_ends(w, storage.path(), false);
    assert_eq!(
        state,
        "failed",
        "autostart says the feature is missing:\n{}",
        autostart_journal(&c)
    );
    let said = autostart_journal(&c);
    assert!(said.contains("Tails Server's Persistent Storage feature is off"), "{said}");
    assert!(
        said.contains("(mumble)")
            && said.contains("Nothing was deleted")
            && said.contains("tails-server autostart --feature-on"),
        "{said}"
    );
    assert!(!c.ok(&["list"]).contains("mumble"), "nothing was brought back");
    assert_eq!(c.sys.active_state("mumble-server.service"), "inactive");
    assert!(
        kept.join("services/mumble/state.json").exists() && kept.join("files/mumble").exists(),
        "nothing was deleted"
    );
    // As the message says: the feature comes back, and so does the service.
    c.ok(&["autostart", "--feature-on"]);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), format!("{tails_own}{FEATURE}\n"));
    assert_eq!(c.sys.active_state("mumble-server.service"), "active");
    let services = c.ok(&["list"]);
    assert!(
        services.contains("mumble") && !services.contains("web"),
        "only what was kept came back:\n{services}"
    );
    assert_eq!(c.info("mumble")["address"], address.as_str());
    c.ok(&["mumble", "disable"]);
    // Persistence off: the folder is unmounted and its data copied back into
    // place (RAM, on Tails), then deleted from Persistent Storage.
    c.ok(&["mumble", "set-option", "persistence", "false", "--yes"]);
    assert!(
        !c.sys.run("findmnt", &["/var/lib/mumble-server"]).status.success(),
        "no longer mounted"
    );
    assert_eq!(c.sys.read("/var/lib/mumble-server/marker"), "written-while-running\n");
    assert!(!kept.join("files/mumble").exists() && !kept.join("services/mumble").exists());
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        tails_own,
        "nothing kept: the feature is gone, Tails' lines stay"
    );
}
