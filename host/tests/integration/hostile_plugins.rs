//! Plugins that try what they must not. Each must get a clear error, write
//! nothing outside the grants (the `--root` tree is compared byte for byte),
//! leave the audit trail, and the host must go on working.

use std::os::unix::fs::symlink;

use tails_server_testkit::{changes, fixtures, snapshot, Sandbox};

use super::BIN;

/// Add `fixture` (with extra `plugin add` arguments), let `setup` prepare the
/// root, run `NAME enable`, and check that it failed saying all of `expect`,
/// that the root is unchanged, and that the host still works afterwards.
fn enable_is_refused(fixture: &str, name: &str, add_args: &[&str], setup: impl Fn(&Sandbox), expect: &[&str]) -> (Sandbox, String) {
    let mut sandbox = Sandbox::new(BIN);
    sandbox.env("TAILS_SERVER_CALL_TIMEOUT_MS", "1000");
    let mut args = vec!["plugin", "add", fixture, "--yes"];
    args.extend_from_slice(add_args);
    sandbox.ok(&args);
    setup(&sandbox);
    let before = snapshot(&sandbox.root);

    let out = sandbox.fails(&[name, "enable"]);
    for e in expect {
        assert!(out.contains(e), "expected {e:?} in:\n{out}");
    }
    assert_eq!(changes(&before, &snapshot(&sandbox.root)), Vec::<String>::new(), "the root changed:\n{out}");
    assert!(sandbox.ok(&[name, "status"]).contains("enabled: false"));

    // The host goes on: another plugin adds and runs (validate-option).
    sandbox.ok(&["plugin", "add", fixtures::MUMBLE, "--yes"]);
    sandbox.ok(&["mumble", "set-option", "welcome-message", "still here"]);
    assert!(sandbox.ok(&["list"]).contains("mumble"));
    (sandbox, out)
}

fn audit_has(sandbox: &Sandbox, plugin: &str, outcome: &str, target: &str) {
    let log = sandbox.audit_log();
    let found = log
        .lines()
        .any(|l| l.contains(&format!("plugin=\"{plugin}\"")) && l.contains(&format!("outcome={outcome}")) && l.contains(target));
    assert!(found, "no {outcome} line for {target} of {plugin} in the audit log:\n{log}");
}

#[test]
fn undeclared_package_is_denied() {
    let (s, _) = enable_is_refused(fixtures::HOSTILE_UNDECLARED_PACKAGE, "hostile-undeclared-package", &[], |_| {}, &[
        "denied",
        "package `netcat-openbsd` was not declared by the plugin",
    ]);
    audit_has(&s, "hostile-undeclared-package", "denied", "netcat-openbsd");
}

#[test]
fn declared_but_ungranted_package_is_denied() {
    let (s, _) = enable_is_refused(
        fixtures::HOSTILE_UNGRANTED_PACKAGE,
        "hostile-ungranted-package",
        &["--deny", "package:hostile-extra"],
        |_| {},
        &["package `hostile-extra` was declared but not granted by the user"],
    );
    assert!(s.ok(&["plugin", "show", "hostile-ungranted-package"]).contains("refused  package:hostile-extra"));
    audit_has(&s, "hostile-ungranted-package", "denied", "hostile-extra");
}

#[test]
fn write_outside_the_grants_is_denied() {
    let (s, _) = enable_is_refused(fixtures::HOSTILE_WRITE_OUTSIDE, "hostile-write-outside", &[], |_| {}, &["path `/etc/passwd` was not declared"]);
    audit_has(&s, "hostile-write-outside", "denied", "/etc/passwd");
}

#[test]
fn dot_dot_and_absolute_path_tricks_are_refused() {
    let (s, out) = enable_is_refused(fixtures::HOSTILE_PATH_TRICKS, "hostile-path-tricks", &[], |s| {
        std::fs::create_dir_all(s.path("/etc/hostile/sub")).unwrap();
    }, &["contains `.` or `..`", "is not absolute", "empty component", "control characters", "is empty"]);
    assert!(!out.contains("WRITTEN") && !out.contains("READ"), "{out}");
    assert_eq!(out.matches("refused \"").count(), 11, "every trick must be refused:\n{out}");
    audit_has(&s, "hostile-path-tricks", "invalid", "/etc/hostile/../passwd");
}

#[test]
fn symlink_planted_in_a_granted_folder_is_not_followed() {
    let (_, out) = enable_is_refused(fixtures::HOSTILE_SYMLINK_ESCAPE, "hostile-symlink-escape", &[], |s| {
        std::fs::create_dir_all(s.path("/etc/hostile")).unwrap();
        symlink(s.path("/etc/outside.conf"), s.path("/etc/hostile/link.conf")).unwrap();
        symlink(s.path("/etc/outside-dir"), s.path("/etc/hostile/linkdir")).unwrap();
    }, &["symbolic link"]);
    assert!(!out.contains("WRITTEN") && !out.contains("READ"), "{out}");
    assert_eq!(out.matches("refused").count(), 4, "writes and reads through both links must be refused:\n{out}");
}

#[test]
fn undeclared_port_is_denied() {
    let (s, _) = enable_is_refused(fixtures::HOSTILE_UNDECLARED_PORT, "hostile-undeclared-port", &[], |_| {}, &["port 4444/tcp was not declared"]);
    audit_has(&s, "hostile-undeclared-port", "denied", "4444/tcp");
}

#[test]
fn endless_loop_is_stopped_at_the_deadline() {
    enable_is_refused(fixtures::HOSTILE_ENDLESS_LOOP, "hostile-endless-loop", &[], |_| {}, &["plugin `hostile-endless-loop` ran longer than 1s in `configure`"]);
}

#[test]
fn memory_bomb_is_stopped_at_the_cap() {
    enable_is_refused(fixtures::HOSTILE_MEMORY_BOMB, "hostile-memory-bomb", &[], |_| {}, &["tried to use more than 64 MiB of memory"]);
}

#[test]
fn panic_is_an_error_for_that_plugin_only() {
    enable_is_refused(fixtures::HOSTILE_PANIC, "hostile-panic", &[], |_| {}, &["crashed in `configure`", "hostile plugin panicked on purpose"]);
}

/// `plugin add` must refuse the file, store nothing and change nothing.
fn add_is_refused(file: &str, expect: &[&str]) {
    let sandbox = Sandbox::new(BIN);
    let before = snapshot(&sandbox.root);
    let out = sandbox.fails(&["plugin", "add", file, "--yes"]);
    for e in expect {
        assert!(out.contains(e), "expected {e:?} in:\n{out}");
    }
    assert_eq!(changes(&before, &snapshot(&sandbox.root)), Vec::<String>::new());
    assert!(sandbox.ok(&["plugin", "list"]).contains("No plugins added"));
    let cached = std::fs::read_dir(sandbox.state.join("cache")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(cached, 0, "nothing may be cached for a refused plugin");
    sandbox.ok(&["plugin", "add", fixtures::WEB, "--yes"]);
    sandbox.ok(&["web", "info"]);
}

#[test]
fn component_importing_an_unknown_interface_is_refused() {
    add_is_refused(fixtures::FOREIGN_IMPORT, &["imports `fixture:foreign/shell", "which Tails Server does not provide"]);
}

#[test]
fn component_for_another_contract_version_is_refused_naming_both() {
    add_is_refused(fixtures::FUTURE_CONTRACT, &["tails:server@0.9.0", "this Tails Server speaks tails:server@0.2.0"]);
}

#[test]
fn corrupt_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let noise = tmp.path().join("noise.wasm");
    std::fs::write(&noise, b"#!/bin/sh\nrm -rf /\n").unwrap();
    add_is_refused(noise.to_str().unwrap(), &["not a WebAssembly file"]);

    let core = tmp.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    add_is_refused(core.to_str().unwrap(), &["core WebAssembly module, not a component"]);

    let real = std::fs::read(fixtures::MUMBLE).unwrap();
    let truncated = tmp.path().join("truncated.wasm");
    std::fs::write(&truncated, &real[..real.len() / 2]).unwrap();
    add_is_refused(truncated.to_str().unwrap(), &["not a valid WebAssembly component"]);

    let missing = tmp.path().join("missing.wasm");
    let sandbox = Sandbox::new(BIN);
    assert!(sandbox.fails(&["plugin", "add", missing.to_str().unwrap()]).contains("cannot read"));
}
