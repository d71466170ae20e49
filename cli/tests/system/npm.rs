//! npm as a second package source, for real: the plugin's npm packages (and
//! their dependency) come from a loopback registry through the real `npm`,
//! land in the service's own folder without any install script running, and
//! the unit the plugin wrote runs them with nodejs.

use std::path::Path;

use tails_server_testkit::fixtures::NPM_HELLO;
use tails_server_testkit::npm_registry::{pack, NpmRegistry};
use tails_server_testkit::systemd_host::unit_path;

use super::{page_when_up, Boot, World};

const PORT: u16 = 8091;
const UNIT: &str = "tails-server-hello.service";
const FOLDER: &str = "/opt/tails-server/hello";
const SCRIPT_MARKER: &str = "/tmp/tails-server-hello-install-script-ran";

pub fn npm_packages_are_installed_into_the_service_folder_and_run(w: &World) {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/npm-hello/npm");
    let registry = NpmRegistry::start(vec![
        pack(&sources.join("tails-server-hello-greeting")),
        pack(&sources.join("tails-server-hello")),
    ]);
    let host = w.host(Boot {
        files: vec![(NPM_HELLO.into(), "/root/hello.wasm".into())],
        ..Boot::default()
    });
    let added = host.ok(&["plugin", "add", "/root/hello.wasm", "--yes"]);
    assert!(
        added.contains("install the npm package tails-server-hello 1.0.0 from the npm registry into /opt/tails-server/hello, without running its install scripts"),
        "{added}"
    );
    assert!(host
        .ok(&["plugin", "show", "hello"])
        .contains("granted  npm:tails-server-hello@1.0.0"));
    assert_eq!(host.info("hello")["installed"], false, "nothing in the npm folder yet");

    // The registry cannot be reached: a clear error, and nothing half-done.
    let offline =
        [("npm_config_registry", "http://127.0.0.1:9/"), ("npm_config_fetch_retries", "0")];
    let out = host.ts_command(&["hello", "enable"]).envs(offline).output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("npm install tails-server-hello@1.0.0 failed")
            && said.contains("ECONNREFUSED"),
        "{said}"
    );
    assert!(said.contains("npm config get registry"), "{said}");
    let info = host.info("hello");
    assert_eq!(
        (info["enabled"].clone(), info["installed"].clone()),
        (false.into(), false.into()),
        "{said}"
    );
    assert_ne!(host.sys.active_state(UNIT), "active");
    assert!(
        host.nft_rules().lines().all(|l| !l.contains("tails-server:hello")),
        "no rule left behind"
    );

    let out = host.ok_with(&[("npm_config_registry", &registry.url)], &["hello", "enable"]);
    assert!(out.contains("✓ packages: installed: nodejs, npm, tails-server-hello@1.0.0 (npm, in /opt/tails-server/hello)"), "{out}");
    let served = registry.served();
    for path in [
        "/tails-server-hello/-/tails-server-hello-1.0.0.tgz",
        "/tails-server-hello-greeting/-/tails-server-hello-greeting-1.0.2.tgz",
    ] {
        assert!(
            served.iter().any(|p| p == path),
            "npm fetched {path} from the loopback registry: {served:?}"
        );
    }
    let info = host.info("hello");
    assert_eq!((info["installed"].clone(), info["running"].clone()), (true.into(), true.into()));
    let manifest = host.sys.read(&format!("{FOLDER}/package.json"));
    assert!(
        manifest.contains(r#""tails-server-hello": "1.0.0""#) && !manifest.contains("greeting\""),
        "only the granted package:\n{manifest}"
    );
    assert!(host
        .sys
        .read(&format!("{FOLDER}/node_modules/tails-server-hello-greeting/package.json"))
        .contains("1.0.2"));
    assert!(
        host.sys.run("test", &["-e", SCRIPT_MARKER]).status.code() == Some(1),
        "the package's postinstall script did not run"
    );
    // Run by nodejs as the unit's own unprivileged user, from the npm folder.
    let page = page_when_up(PORT);
    assert!(page.contains("hello from npm (greeted by tails-server-hello-greeting)"), "{page}");
    let pid = host.sys.dbus_property(&unit_path(UNIT), "Service", "MainPID");
    let owner = host.sys.sh(&format!("stat -c %u /proc/{pid} && readlink /proc/{pid}/exe"));
    assert!(!owner.starts_with("0\n") && owner.contains("node"), "{owner}");

    // A changed option rewrites the unit file: systemd reads it again.
    host.ok(&["hello", "set-option", "greeting", "changed greeting"]);
    let page = page_when_up(PORT);
    assert!(page.contains("changed greeting (greeted by"), "{page}");
    assert_eq!(host.sys.dbus_property(&unit_path(UNIT), "Unit", "NeedDaemonReload"), "false");

    host.ok(&["hello", "disable"]);
    assert_eq!(host.sys.active_state(UNIT), "inactive");
    host.ok(&["plugin", "remove", "hello"]);
    assert_eq!(
        host.sys.run("test", &["-e", FOLDER]).status.code(),
        Some(1),
        "plugin remove deletes the npm folder"
    );
}
