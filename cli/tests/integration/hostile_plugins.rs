//! Plugins that try what they must not. Each must get a clear error, write
//! nothing outside the grants (the `--root` tree is compared byte for byte),
//! leave the audit trail, and the host must go on working.

use std::os::unix::fs::symlink;

use tails_server_testkit::{changes, fixtures, snapshot, text, Sandbox};

use super::BIN;

/// Add `fixture` (with extra `plugin add` arguments), let `setup` prepare the
/// root, run `NAME enable`, and check that it failed saying all of `expect`,
/// that the root is unchanged, and that the host still works afterwards.
fn enable_is_refused(
    fixture: &str,
    name: &str,
    add_args: &[&str],
    setup: impl Fn(&Sandbox),
    expect: &[&str],
) -> (Sandbox, String) {
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
    assert_eq!(
        changes(&before, &snapshot(&sandbox.root)),
        Vec::<String>::new(),
        "the root changed:\n{out}"
    );
    assert!(sandbox.ok(&[name, "status"]).contains("enabled: false"));

    // The host goes on: another plugin adds and runs (validate-option).
    sandbox.ok(&["plugin", "add", fixtures::MUMBLE, "--yes"]);
    sandbox.ok(&["mumble", "set-option", "welcome-message", "still here"]);
    assert!(sandbox.ok(&["list"]).contains("mumble"));
    (sandbox, out)
}

fn audit_has(sandbox: &Sandbox, plugin: &str, outcome: &str, target: &str) {
    let log = sandbox.audit_log();
    let found = log.lines().any(|l| {
        l.contains(&format!("plugin=\"{plugin}\""))
            && l.contains(&format!("outcome={outcome}"))
            && l.contains(target)
    });
    assert!(found, "no {outcome} line for {target} of {plugin} in the audit log:\n{log}");
}

#[test]
fn undeclared_package_is_denied() {
    let (s, _) = enable_is_refused(
        fixtures::HOSTILE_UNDECLARED_PACKAGE,
        "hostile-undeclared-package",
        &[],
        |_| {},
        &["denied", "package `netcat-openbsd` was not declared by the plugin"],
    );
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
    assert!(s
        .ok(&["plugin", "show", "hostile-ungranted-package"])
        .contains("refused  package:hostile-extra"));
    audit_has(&s, "hostile-ungranted-package", "denied", "hostile-extra");
}

#[test]
fn write_outside_the_grants_is_denied() {
    let (s, _) = enable_is_refused(
        fixtures::HOSTILE_WRITE_OUTSIDE,
        "hostile-write-outside",
        &[],
        |_| {},
        &["path `/etc/passwd` was not declared"],
    );
    audit_has(&s, "hostile-write-outside", "denied", "/etc/passwd");
}

#[test]
fn dot_dot_and_absolute_path_tricks_are_refused() {
    let (s, out) = enable_is_refused(
        fixtures::HOSTILE_PATH_TRICKS,
        "hostile-path-tricks",
        &[],
        |s| {
            std::fs::create_dir_all(s.path("/etc/hostile/sub")).unwrap();
        },
        &[
            "contains `.` or `..`",
            "is not absolute",
            "empty component",
            "control characters",
            "is empty",
        ],
    );
    assert!(!out.contains("WRITTEN") && !out.contains("READ"), "{out}");
    assert_eq!(out.matches("refused \"").count(), 11, "every trick must be refused:\n{out}");
    audit_has(&s, "hostile-path-tricks", "invalid", "/etc/hostile/../passwd");
}

#[test]
fn symlink_planted_in_a_granted_folder_is_not_followed() {
    let (_, out) = enable_is_refused(
        fixtures::HOSTILE_SYMLINK_ESCAPE,
        "hostile-symlink-escape",
        &[],
        |s| {
            std::fs::create_dir_all(s.path("/etc/hostile")).unwrap();
            symlink(s.path("/etc/outside.conf"), s.path("/etc/hostile/link.conf")).unwrap();
            symlink(s.path("/etc/outside-dir"), s.path("/etc/hostile/linkdir")).unwrap();
        },
        &["symbolic link"],
    );
    assert!(!out.contains("WRITTEN") && !out.contains("READ"), "{out}");
    assert_eq!(
        out.matches("refused").count(),
        4,
        "writes and reads through both links must be refused:\n{out}"
    );
}

#[test]
fn undeclared_port_is_denied() {
    let (s, _) = enable_is_refused(
        fixtures::HOSTILE_UNDECLARED_PORT,
        "hostile-undeclared-port",
        &[],
        |_| {},
        &["port 4444/tcp was not declared"],
    );
    audit_has(&s, "hostile-undeclared-port", "denied", "4444/tcp");
}

#[test]
fn endless_loop_is_stopped_at_the_deadline() {
    enable_is_refused(
        fixtures::HOSTILE_ENDLESS_LOOP,
        "hostile-endless-loop",
        &[],
        |_| {},
        &["plugin `hostile-endless-loop` ran longer than 1s in `configure`"],
    );
}

#[test]
fn memory_bomb_is_stopped_at_the_cap() {
    enable_is_refused(
        fixtures::HOSTILE_MEMORY_BOMB,
        "hostile-memory-bomb",
        &[],
        |_| {},
        &["tried to use more than 64 MiB of memory"],
    );
}

#[test]
fn panic_is_an_error_for_that_plugin_only() {
    enable_is_refused(
        fixtures::HOSTILE_PANIC,
        "hostile-panic",
        &[],
        |_| {},
        &["crashed in `configure`", "hostile plugin panicked on purpose"],
    );
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
    add_is_refused(
        fixtures::FOREIGN_IMPORT,
        &["imports `fixture:foreign/shell", "which Tails Server does not provide"],
    );
}

#[test]
fn component_for_another_contract_version_is_refused_naming_both() {
    add_is_refused(
        fixtures::FUTURE_CONTRACT,
        &["tails:server@0.9.0", "this Tails Server speaks tails:server@0.4.0"],
    );
}

/// Compiling has a wall-clock bound too, and happens before the state lock
/// is taken: a real compilation past a (here tiny) bound is given up, and
/// nothing is stored.
#[test]
fn compiling_too_long_is_given_up_without_the_lock() {
    let mut sandbox = Sandbox::new(BIN);
    sandbox.env("TAILS_SERVER_COMPILE_TIMEOUT_MS", "1");
    let before = snapshot(&sandbox.root);
    let out = sandbox.fails(&["plugin", "add", fixtures::WEB, "--yes"]);
    assert!(out.contains("compiling it took longer than 0.001 s, so it was given up"), "{out}");
    assert_eq!(changes(&before, &snapshot(&sandbox.root)), Vec::<String>::new());
    assert!(!sandbox.state.join("lock").exists(), "the state lock was never taken");
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

/// Each plugin's description tries something no description may: refused
/// at `plugin add`, naming why, storing nothing.
#[test]
fn descriptions_that_reach_past_consent_are_refused() {
    let cases: &[(&str, &[&str])] = &[
        // Class 3: names apt reads as something else.
        (fixtures::HOSTILE_TOR_DASH_PACKAGE, &["\"tor-\" is not a Debian package name"]),
        (fixtures::HOSTILE_REGEX_PACKAGE, &["\"lib.*\" is not a Debian package name"]),
        // Class 5: places whose files run as root, the host's own files, system links.
        (fixtures::HOSTILE_CRON_PATH, &["/etc/cron.d/", "cron runs its files as root"]),
        (fixtures::HOSTILE_HOST_BINARY, &["/usr/local/sbin/tails-server", "outside the places a service plugin may write"]),
        (fixtures::HOSTILE_VAR_RUN, &["/var/run/tor/", "outside the places"]),
        // Class 6: persistent paths only among the declared ones, never system places.
        (fixtures::HOSTILE_PERSISTENT_ELSEWHERE, &["persistent path", "/etc/ssh"]),
        (fixtures::HOSTILE_PERSISTENT_UNDECLARED, &["persistent path \"/var/lib/other/\" must be one of the config paths or data folders it declares"]),
        // Class 7: tor's ports; a target port it did not declare.
        (fixtures::HOSTILE_TOR_PORT, &["port 9051 may not be used", "tor's own ports"]),
        (fixtures::HOSTILE_TARGET_PORT_UNDECLARED, &["default-target-port 9051 must be one of the TCP ports it declares"]),
        // Class 4: units.
        (fixtures::HOSTILE_UNIT_PATH, &["unit \"../../etc/x.service\" must be NAME.service"]),
        (fixtures::HOSTILE_UNIT_OWN, &["unit `tails-server-autostart.service` is Tails Server's own"]),
        (fixtures::HOSTILE_UNIT_TOR, &["unit `tor@default.service` is part of the system Tails runs on"]),
        (fixtures::HOSTILE_UNIT_SSH, &["unit `ssh.service` is part of the system Tails runs on"]),
        (fixtures::HOSTILE_SECRET_IN_UNIT, &["`{pw}` is a secret"]),
        (fixtures::HOSTILE_UNIT_PROGRAM_ETC, &["program \"/etc/hostile/run.sh\" must be a system program"]),
        (fixtures::HOSTILE_LOGIN_NAMED_USER, &["a login account is for a user of its own: no `user` with `login-shell`", "a login account needs a data folder for its home"]),
        // Class 8: text a terminal would act on.
        (fixtures::HOSTILE_ESCAPE_DESCRIPTION, &["description must be one non-empty line", "without control characters"]),
        // Class 9: 100 000 options are refused without looking at each.
        (fixtures::HOSTILE_MANY_OPTIONS, &["it declares 100000 options; at most 64 are allowed"]),
        // Many at once: each is named.
        (fixtures::HOSTILE_ROOT_RUN_PATHS, &[
            "`/etc/systemd/system/evil.service` touches /etc/systemd",
            "/etc/profile.d/evil.sh",
            "/etc/apt/apt.conf.d/",
            "/etc/ld.so.conf.d/evil.conf",
            "/etc/sudoers.d/evil",
            "/etc/onion-grater.d/evil.yml",
            "/etc/polkit-1/rules.d/",
            "`/home/amnesia/.bashrc` is outside the places",
            "`/usr/local/bin/evil` is outside the places",
            "/var/lib/tails-server/",
            "`/lib/systemd/system/evil.service` is outside the places",
        ]),
        (fixtures::HOSTILE_SYSTEM_PORTS, &["port 22 may not be used", "port 53 may not be used", "port 9050 may not be used", "port 9150 may not be used", "port 5353 may not be used"]),
        (fixtures::HOSTILE_PACKAGE_NAMES, &[
            "\"tor+\" is not a Debian package name",
            "\"-tor\" is not",
            "\"Tor\" is not",
            "\"lib?\" is not",
            "\"x\" is not",
            "\"a b\" is not",
            "\"openssh-server/unstable\" is not",
        ]),
        // Class 2: waiting in WASI in describe meets the deadline too.
        (fixtures::HOSTILE_SLEEP_DESCRIBE, &["ran longer than 1s in `describe` (computing or waiting)"]),
    ];
    for (fixture, expect) in cases {
        let mut sandbox = Sandbox::new(BIN);
        sandbox.env("TAILS_SERVER_CALL_TIMEOUT_MS", "1000");
        let started = std::time::Instant::now();
        let before = snapshot(&sandbox.root);
        let out = sandbox.fails(&["plugin", "add", fixture, "--yes"]);
        for e in *expect {
            assert!(out.contains(e), "{fixture}: expected {e:?} in:\n{out}");
        }
        assert!(!out.contains('\u{1b}'), "{fixture}: raw escape in:\n{out}");
        assert_eq!(changes(&before, &snapshot(&sandbox.root)), Vec::<String>::new(), "{fixture}");
        assert!(sandbox.ok(&["plugin", "list"]).contains("No plugins added"), "{fixture}");
        // The hostile part is refused quickly; the 1 s deadline holds even
        // while the guest waits rather than computes.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{fixture} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn waiting_in_wasi_meets_the_deadline_and_frees_the_lock() {
    let (s, _) = enable_is_refused(
        fixtures::HOSTILE_SLEEP_CONFIGURE,
        "hostile-sleep-configure",
        &[],
        |_| {},
        &["ran longer than 1s in `configure` (computing or waiting)"],
    );
    // The wedged service can be removed, and nothing of it is left.
    s.ok(&["plugin", "remove", "hostile-sleep-configure"]);
    assert!(!s.ok(&["list"]).contains("hostile-sleep-configure"));

    // An enable killed while the plugin waits in `configure` (a power cut, a
    // user's Ctrl-C): repair finishes it within the deadline (undone, since
    // configure never ends), and the service can be disabled and removed.
    s.ok(&["plugin", "add", fixtures::HOSTILE_SLEEP_CONFIGURE, "--yes"]);
    let mut enable = s
        .command_as(std::path::Path::new(BIN), &["hostile-sleep-configure", "enable"])
        .spawn()
        .unwrap();
    let journal = s.state.join("services/hostile-sleep-configure/state.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&journal).unwrap_or_default().contains("\"configure\"") {
        assert!(std::time::Instant::now() < deadline, "the enable never reached configure");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    enable.kill().unwrap();
    enable.wait().unwrap();
    assert!(
        std::fs::read_to_string(&journal).unwrap().contains("\"operation\": \"enable\""),
        "interrupted mid-enable"
    );
    let started = std::time::Instant::now();
    let repaired = s.ok(&["repair"]);
    assert!(
        repaired.contains(
            "hostile-sleep-configure: the interrupted enable could not be finished and was undone"
        ),
        "{repaired}"
    );
    assert!(repaired.contains("ran longer than 1s in `configure`"), "{repaired}");
    s.ok(&["hostile-sleep-configure", "disable"]);
    s.ok(&["plugin", "remove", "hostile-sleep-configure"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
    assert!(!s.ok(&["list"]).contains("hostile-sleep-configure"));

    let mut sandbox = Sandbox::new(BIN);
    sandbox.env("TAILS_SERVER_CALL_TIMEOUT_MS", "1000");
    sandbox.ok(&["plugin", "add", fixtures::HOSTILE_SLEEP_VALIDATE, "--yes"]);
    let started = std::time::Instant::now();
    let out = sandbox.fails(&["hostile-sleep-validate", "set-option", "word", "x"]);
    assert!(out.contains("ran longer than 1s in `validate-option`"), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(
        sandbox.ok(&["hostile-sleep-validate", "get-option", "word"]).contains("hello"),
        "the value did not change"
    );
}

#[test]
fn staging_is_bounded() {
    let (_, out) = enable_is_refused(
        fixtures::HOSTILE_STAGE_FLOOD,
        "hostile-stage-flood",
        &[],
        |_| {},
        &["one configure may write at most 128 files and 8 MiB in all"],
    );
    assert!(out.contains("nothing was written"), "{out}");
}

#[test]
fn a_plugins_error_cannot_drive_the_terminal() {
    let (_, out) = enable_is_refused(
        fixtures::HOSTILE_ESCAPE_ERROR,
        "hostile-escape-error",
        &[],
        |_| {},
        &["oops\\e[2J\\e[H\\rAddress: fakefakefake.onion\\u{202e}"],
    );
    assert!(!out.contains('\u{1b}') && !out.contains('\r') && !out.contains('\u{202e}'), "{out:?}");
}

#[test]
fn refused_requests_before_consent_write_a_bounded_audit_trail() {
    let sandbox = Sandbox::new(BIN);
    // Eight refused writes of a 4 MiB path with 4 MiB of contents, then
    // 100 000 more, in `describe`: the plugin is added (it asks for nothing
    // odd), and what it caused to be kept before consent is a few KB: a few
    // lines a call, each cut short, and the count of the rest.
    sandbox.ok(&["plugin", "add", fixtures::HOSTILE_AUDIT_FLOOD, "--yes"]);
    let log = sandbox.audit_log();
    let calls = log.matches("more requests in this call were not logged").count();
    assert!(
        calls >= 1 && log.lines().count() <= calls * 5,
        "{} audit lines for {calls} calls:\n{log}",
        log.lines().count()
    );
    assert!(log.len() <= calls * 5 * 1024, "{} bytes for {calls} calls", log.len());
    assert!(log.contains("more bytes not logged"), "{log}");
    assert!(log.contains("more requests in this call were not logged"), "{log}");
    // The lines name the plugin by its hash (its name is not known yet), not the file.
    assert!(log.contains("plugin=\"sha256:") && !log.contains("hostile-audit-flood.wasm"), "{log}");
    assert!(std::fs::metadata(sandbox.state.join("audit.log")).unwrap().len() < 16 * 1024);
}

#[test]
fn a_taken_name_is_only_upgraded_by_its_publisher() {
    let sandbox = Sandbox::new(BIN);
    sandbox.ok(&["plugin", "add", fixtures::MUMBLE, "--yes"]);
    sandbox.ok(&["mumble", "set-option", "welcome-message", "mine"]);
    let state = std::fs::read(sandbox.state.join("services/mumble/state.json")).unwrap();
    // Another publisher's build named `mumble`: refused, even with --yes.
    let out = sandbox.fails(&["plugin", "add", fixtures::HOSTILE_IMPOSTOR, "--yes"]);
    assert!(
        out.contains("the name `mumble` is taken by the added plugin, signed by ed25519:"),
        "{out}"
    );
    assert!(out.contains("Only a build from the same publisher can replace it"), "{out}");
    assert_eq!(
        std::fs::read(sandbox.state.join("services/mumble/state.json")).unwrap(),
        state,
        "options, secrets and keys untouched"
    );
    assert!(sandbox.ok(&["mumble", "get-option", "welcome-message"]).contains("mine"));
    // An unsigned build of a signed plugin: refused too.
    sandbox.ok(&["plugin", "add", fixtures::WEB, "--yes"]);
    let out = sandbox.fails(&["plugin", "add", fixtures::WEB_UNSIGNED, "--yes"]);
    assert!(out.contains("this file is unsigned"), "{out}");
}

#[test]
fn a_changed_signature_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wasm = std::fs::read(fixtures::WEB).unwrap();
    wasm[20] ^= 1;
    let changed = tmp.path().join("changed.wasm");
    std::fs::write(&changed, &wasm).unwrap();
    add_is_refused(changed.to_str().unwrap(), &["signature does not match its contents"]);
}

#[test]
fn only_regular_files_are_read() {
    let sandbox = Sandbox::new(BIN);
    for special in ["/dev/zero", "/dev/stdin", "/dev/null"] {
        let out = sandbox.fails(&["plugin", "add", special]);
        assert!(out.contains("is not a regular file"), "{special}: {out}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("plugin.wasm");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    assert!(sandbox
        .fails(&["plugin", "add", fifo.to_str().unwrap()])
        .contains("is not a regular file"));
}

/// A plugin's connection text is shown escaped beside the real address (it
/// cannot clear the screen and print a fake one), and `connection-info` has a
/// deadline like every call: a plugin that never answers is stopped, the
/// address and keys (the host's) are shown all the same, and it can be
/// disabled and removed. Needs a published service, so Tor.
#[test]
fn connection_text_is_escaped_and_has_a_deadline() {
    let _share = super::tor_lock().read().unwrap_or_else(|e| e.into_inner());
    let mut sandbox = super::with_service_tor();
    sandbox.env("TAILS_SERVER_CALL_TIMEOUT_MS", "1000");

    let name = "hostile-escape-connection-text";
    sandbox.ok(&["plugin", "add", fixtures::HOSTILE_ESCAPE_CONNECTION_TEXT, "--yes"]);
    sandbox.ok(&[name, "enable"]);
    let info: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&[name, "info", "--json"])).unwrap();
    let address = info["address"].as_str().unwrap().to_string();
    let out = sandbox.ok(&[name, "connection-info", "--no-qr"]);
    assert!(!out.contains('\u{1b}') && !out.contains('\r') && !out.contains('\u{202e}'), "{out:?}");
    assert!(out.contains(&format!("{address}\\e[2J\\e[H\\rAddress: fakefakefake.onion")), "{out}");
    // Its words are marked as its own: no line of them passes for the host's.
    assert!(out.contains("In the words of the hostile-escape-connection-text plugin:\n"), "{out}");
    assert!(out.lines().any(|l| l == "  │   Key for Tor Browser:   FAKEKEY"), "{out}");
    assert!(
        !out.lines()
            .any(|l| l.trim_start().starts_with("Key for Tor Browser:") && l.contains("FAKEKEY")),
        "{out}"
    );
    // Every output and format: nothing that draws nothing, reorders or
    // controls reaches the terminal (its description and client name are
    // bidi overrides, tag characters, a soft hyphen and Hangul fillers; its
    // connection text a C1 CSI, which serde_json leaves raw).
    for command in [
        &[name, "info"][..],
        &[name, "info", "--json"],
        &[name, "info", "--details"],
        &[name, "status", "--json"],
        &[name, "connection-info", "--json"],
        &["list"],
        &["list", "--json"],
        &["plugin", "list"],
        &["plugin", "list", "--json"],
        &["plugin", "show", name],
        &["plugin", "show", name, "--json"],
    ] {
        let out = sandbox.ok(command);
        let raw: Vec<String> = out
            .chars()
            .filter(|&c| tails_server_core::display::is_dangerous(c) && c != '\n')
            .map(|c| format!("U+{:04X}", c as u32))
            .collect();
        assert!(raw.is_empty(), "{command:?}: raw {raw:?} in:\n{out}");
    }
    // JSON stays the same document: the escapes decode to the plugin's text.
    let json: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&[name, "info", "--json"])).unwrap();
    assert!(json["description"].as_str().unwrap().contains("\u{202e}txt.exe"), "{json}");
    sandbox.ok(&[name, "disable"]);
    // The next fixture declares the same folder and port: one service holds them.
    sandbox.ok(&["plugin", "remove", name]);

    let name = "hostile-sleep-connection-info";
    sandbox.ok(&["plugin", "add", fixtures::HOSTILE_SLEEP_CONNECTION_INFO, "--yes"]);
    for command in [&[name, "enable"][..], &[name, "connection-info", "--no-qr"]] {
        let started = std::time::Instant::now();
        let out = sandbox.run(command, "");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(
            stderr.contains("the plugin's own connection text cannot be shown")
                && stderr.contains("ran longer than 1s in `connection-info`"),
            "{stderr}"
        );
        let info: serde_json::Value =
            serde_json::from_str(&sandbox.ok(&[name, "info", "--json"])).unwrap();
        assert!(
            stdout.contains(&format!("Address: {}", info["address"].as_str().unwrap())),
            "{stdout}"
        );
        assert!(stdout.contains("Key for Tor Browser:"), "{stdout}");
    }
    sandbox.ok(&[name, "disable"]);
    sandbox.ok(&["plugin", "remove", name]);
    assert!(!sandbox.ok(&["list"]).contains(name));
}

/// Another publisher's plugin asking to run as the user first-party services
/// run as (`www-data`: the wiki's data and password hash) is not enabled,
/// whichever of the two comes first; first-party services share it.
#[test]
fn a_user_is_shared_only_by_one_publishers_services() {
    let add_wiki = |s: &Sandbox| {
        s.ok(&["plugin", "add", fixtures::WIKI, "--yes"]);
    };
    let (sandbox, out) = enable_is_refused(
        fixtures::HOSTILE_SHARED_USER,
        "hostile-shared-user",
        &[],
        add_wiki,
        &[
            "runs as the user www-data, and so does the service wiki from another publisher",
            "plugin remove",
        ],
    );
    // The other way round: the wiki is not enabled beside it either.
    let refused = sandbox.fails(&["wiki", "enable"]);
    assert!(
        refused.contains("so does the service hostile-shared-user from another publisher"),
        "{refused}\n{out}"
    );
    // Without it, the first-party wiki and mediawiki (both www-data) may
    // both be enabled: each gets past the check to its unit (and then stops
    // at publishing: this sandbox has no tor).
    sandbox.ok(&["plugin", "remove", "hostile-shared-user"]);
    sandbox.ok(&["plugin", "add", fixtures::MEDIAWIKI, "--yes"]);
    for service in ["wiki", "mediawiki"] {
        let out = sandbox.fails(&[service, "enable"]);
        assert!(
            out.contains(&format!("tails-server-{service}.service written"))
                && !out.contains("another publisher"),
            "{out}"
        );
    }
}

/// First-party is the shipped bytes, not a key: a plugin signed with the
/// key the shipped plugins carry (the test kit's, in this repository) is
/// another publisher's. It cannot replace the shipped mumble (its password
/// and client keys) nor run as the shipped wiki's user.
#[test]
fn the_key_the_shipped_plugins_carry_makes_nothing_first_party() {
    let shipped = tails_server_testkit::shipped_folder(&[
        ("mumble", fixtures::MUMBLE),
        ("wiki", fixtures::WIKI),
    ]);
    let mut sandbox = Sandbox::new(BIN);
    sandbox.env("TAILS_SERVER_PLUGINS_DIR", shipped.path().to_str().unwrap());
    let added = sandbox.ok(&["plugin", "add", "mumble", "--yes"]);
    assert!(added.contains("From:   first-party: the build this Tails Server ships"), "{added}");
    sandbox.ok(&["mumble", "set-option", "server-password", "ours"]);
    let state = std::fs::read(sandbox.state.join("services/mumble/state.json")).unwrap();

    let out = sandbox.fails(&["plugin", "add", fixtures::HOSTILE_IMPOSTOR_TEST_KEY, "--yes"]);
    assert!(out.contains("the name `mumble` is taken by the added plugin, first-party: the build this Tails Server ships"), "{out}");
    assert!(out.contains(&format!("this file is signed by {}", fixtures::TEST_PUBLISHER)), "{out}");
    assert_eq!(
        std::fs::read(sandbox.state.join("services/mumble/state.json")).unwrap(),
        state,
        "password and keys untouched"
    );

    // The same bytes as the shipped build, from anywhere, are that build.
    let copy = tempfile::tempdir().unwrap();
    let elsewhere = copy.path().join("mumble.wasm");
    std::fs::copy(fixtures::MUMBLE, &elsewhere).unwrap();
    assert!(sandbox
        .ok(&["plugin", "add", elsewhere.to_str().unwrap(), "--yes"])
        .contains("already added"));

    sandbox.ok(&["plugin", "add", "wiki", "--yes"]);
    let shown: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["plugin", "show", "wiki", "--json"])).unwrap();
    assert_eq!(shown["first_party"], true, "{shown}");
    let out = sandbox.ok(&["plugin", "add", fixtures::HOSTILE_SHARED_USER_TEST_KEY, "--yes"]);
    assert!(out.contains(&format!("From:   signed by {}", fixtures::TEST_PUBLISHER)), "{out}");
    let shown: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["plugin", "show", "hostile-shared-user", "--json"]))
            .unwrap();
    assert_eq!(shown["first_party"], false, "{shown}");
    let before = snapshot(&sandbox.root);
    let refused = sandbox.fails(&["hostile-shared-user", "enable"]);
    assert!(
        refused.contains(
            "runs as the user www-data, and so does the service wiki from another publisher"
        ),
        "{refused}"
    );
    assert_eq!(
        changes(&before, &snapshot(&sandbox.root)),
        Vec::<String>::new(),
        "the root changed:\n{refused}"
    );
}

/// A place or port another added service holds is refused at add, whoever
/// publishes either (this fixture is signed with the key the first-party
/// plugins carry), and nothing is stored: mumble's file, the wiki's users
/// file, the ssh service's data folder (as a login home), IRC's port. The
/// other way round too: the service is not added beside the fixture.
#[test]
fn another_services_places_and_ports_are_refused() {
    for (service, fixture, words) in [
        ("mumble", fixtures::MUMBLE, "it asks for /etc/mumble/mumble-server.ini, and /etc/mumble/mumble-server.ini belongs to the added service mumble"),
        ("wiki", fixtures::WIKI, "it asks for /var/lib/dokuwiki/acl/users.auth.php, and /var/lib/dokuwiki/acl/users.auth.php belongs to the added service wiki"),
        ("ssh", fixtures::SSH, "it asks for /var/lib/ssh/, and /var/lib/ssh/ belongs to the added service ssh"),
        ("irc", fixtures::IRC, "it asks for port 6667/tcp, which the added service irc listens on"),
    ] {
        let sandbox = Sandbox::new(BIN);
        sandbox.ok(&["plugin", "add", fixture, "--yes"]);
        let before = snapshot(&sandbox.state);
        let out = sandbox.fails(&["plugin", "add", fixtures::HOSTILE_OTHERS_PLACES, "--yes"]);
        assert!(out.contains(words), "{service}: {out}");
        assert!(out.contains(&format!("remove {service} first")), "{out}");
        let after = snapshot(&sandbox.state);
        let changed: Vec<String> = changes(&before, &after).into_iter().filter(|c| !c.contains("audit.log") && !c.contains("lock")).collect();
        assert_eq!(changed, Vec::<String>::new(), "{service}: refusing stored something");
        assert!(!sandbox.ok(&["list"]).contains("hostile-others-places"));
        // Added first, the fixture keeps the service out.
        let sandbox = Sandbox::new(BIN);
        sandbox.ok(&["plugin", "add", fixtures::HOSTILE_OTHERS_PLACES, "--yes"]);
        let out = sandbox.fails(&["plugin", "add", fixture, "--yes"]);
        assert!(out.contains("belongs to the added service hostile-others-places") || out.contains("which the added service hostile-others-places listens on"), "{service}: {out}");
    }
}
