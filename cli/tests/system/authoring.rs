//! For plugin authors: `plugin new` in each language writes a project that
//! builds with its one command and passes `plugin try` as generated; `plugin
//! try` (its own private Tor network and test host, in a network namespace
//! of its own) reaches each through Tor with the client's key, says what the
//! page said, and leaves nothing running.

use std::path::{Path, PathBuf};
use std::process::Command;

use tails_server_testkit::fixtures;

use super::{World, BIN};

/// The target folder beside the tests' own: the Rust project's dependencies
/// are compiled once, not at every run.
fn rust_target() -> PathBuf {
    Path::new(BIN).parent().unwrap().parent().unwrap().join("plugin-new")
}

/// Processes whose command line mentions `text` (tors, hosts).
fn running(text: &str) -> Vec<String> {
    let out = Command::new("pgrep").args(["-af", text]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("pgrep"))
        .map(str::to_string)
        .collect()
}

pub fn plugin_new_projects_build_and_pass_plugin_try(_: &World) {
    let scratch = tempfile::tempdir().unwrap();
    let mut built = Vec::new();
    for language in ["rust", "python", "js"] {
        let name = format!("hello-{language}");
        let out = Command::new(BIN)
            .args(["plugin", "new", &name, "--lang", language, "--in"])
            .arg(scratch.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "plugin new --lang {language}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let project = scratch.path().join(&name);
        let mut build = Command::new(project.join("build"));
        // The test's namespace has no network: cargo resolves from the
        // crates the workspace's own build downloaded (the SDK's).
        build.env("CARGO_TARGET_DIR", rust_target()).env("CARGO_NET_OFFLINE", "true");
        // The test build's flags are not the author's.
        for var in [
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "CARGO_BUILD_TARGET",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
        ] {
            build.env_remove(var);
        }
        let out = build.output().unwrap();
        assert!(
            out.status.success(),
            "{name}/build: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let wasm = project.join(format!("{name}.wasm"));
        assert!(wasm.is_file(), "{name}/build made no {}", wasm.display());
        built.push(wasm);
    }

    // With them, a plugin that cannot be tried here: it needs a Debian
    // package this machine does not have (the host has no network).
    let tors_before = running("tornet").len();
    let out = Command::new(BIN)
        .args(["plugin", "try"])
        .args(&built)
        .arg(fixtures::HOSTILE_WRITE_OUTSIDE)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "one plugin was not reached:\n{said}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("not every plugin was reached through Tor: see above"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("✗ hostile-write-outside needs Debian packages that are not installed on this machine: hostile-extra. The test host has no network to fetch them"),
        "{said}"
    );
    for language in ["rust", "python", "js"] {
        assert!(
            said.contains(&format!("The page says: Hello from hello-{language}, through Tor")),
            "hello-{language}:\n{said}"
        );
        // The plugin's own log line, from the host's log.
        assert!(
            said.contains(&format!(
                "hello-{language}: info: writing /etc/hello-{language}/lighttpd.conf"
            )),
            "hello-{language}'s log:\n{said}"
        );
    }
    assert_eq!(said.matches("✓ reached through Tor with the client's key.").count(), 3, "{said}");
    assert!(said.contains("HTTP: HTTP/1.0 200 OK"), "{said}");
    assert!(!said.contains('█'), "no QR codes in what plugin try shows:\n{said}");
    // Everything it started is gone: its tors, its host's systemd.
    assert_eq!(
        running("tornet").len(),
        tors_before,
        "plugin try left a tor running: {:?}",
        running("tornet")
    );
    assert!(
        running("systemd-host-boot").is_empty(),
        "plugin try left a host: {:?}",
        running("systemd-host-boot")
    );

    // A file plugin add would refuse is refused before anything starts.
    let bogus = scratch.path().join("bogus.wasm");
    std::fs::write(&bogus, b"\0asm not really").unwrap();
    let out =
        Command::new(BIN).args(["plugin", "try"]).arg(&built[0]).arg(&bogus).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("bogus.wasm would not be added: "), "{said}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("Starting a private Tor network"),
        "nothing started"
    );

    // Not as root: refused before anything starts.
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--", BIN, "plugin", "try"])
        .arg(&built[0])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("plugin try needs root"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
