//! Builds the first-party plugins and the hostile fixture plugins as
//! `wasm32-wasip2` components, so that `cargo test` always runs against the
//! current WIT contract, SDK and plugin sources. The paths land in
//! `$OUT_DIR/fixtures.rs` (see `src/lib.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// The first-party plugins, one folder each under `plugins/`.
const FIRST_PARTY: &[&str] = &[
    "mumble",
    "web",
    "irc",
    "gobby",
    "xmpp",
    "icecast",
    "etherpad",
    "drop",
    "wiki",
    "mediawiki",
    "sftp",
    "ssh",
];

/// The first-party plugins with a `tails6` feature (see `main`).
const TAILS6: &[&str] = &["mumble", "wiki", "mediawiki"];

/// Each feature of `fixture-hostile` is one misbehaving plugin.
const HOSTILE: &[&str] = &[
    "undeclared-package",
    "ungranted-package",
    "write-outside",
    "path-tricks",
    "symlink-escape",
    "undeclared-port",
    "endless-loop",
    "memory-bomb",
    "panic",
    "sleep-describe",
    "sleep-configure",
    "sleep-validate",
    "sleep-connection-info",
    "audit-flood",
    "stage-flood",
    "escape-error",
    "escape-connection-text",
    "escape-description",
    "many-options",
    "tor-dash-package",
    "regex-package",
    "cron-path",
    "host-binary",
    "var-run",
    "persistent-elsewhere",
    "persistent-undeclared",
    "tor-port",
    "target-port-undeclared",
    "unit-path",
    "unit-own",
    "secret-in-unit",
    "unit-program-etc",
    "unit-tor",
    "unit-ssh",
    "root-run-paths",
    "system-ports",
    "package-names",
    "impostor",
    "shared-user",
    "login-named-user",
    "others-places",
    "root-parsed",
    "not-its-own",
];

/// The key the test kit signs first-party plugins and fixtures with. A test
/// key, committed so that builds are reproducible; releases are signed with
/// the project's own key, kept offline.
const TEST_PUBLISHER_SEED: [u8; 32] = *b"tails-server test publisher key!";
/// Another publisher, for the impostor fixture.
const OTHER_PUBLISHER_SEED: [u8; 32] = *b"somebody else's publisher key!!!";

fn main() {
    let kit = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = kit.parent().unwrap().to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out: share <target>/wasm
    // across rebuilds so that only what changed is rebuilt.
    let wasm_target = out.ancestors().nth(4).unwrap().join("wasm");
    for watched in ["wit", "sdk", "plugins", "tests/fixtures"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", workspace.join("signature").display());

    // The demo (`scripts/demo` sets TAILS_SERVER_DEMO) runs the web plugin
    // only: it gets that one, and none of the tests' fixtures, which would
    // be most of a newcomer's first wait.
    println!("cargo:rerun-if-env-changed=TAILS_SERVER_DEMO");
    let demo = env::var_os("TAILS_SERVER_DEMO").is_some();
    let first_party: &[&str] = if demo { &["web"] } else { FIRST_PARTY };
    // Plugins in other languages, built as their authors would: each SDK's
    // build (`scripts/setup` installs each language's tools). Their tools are
    // not cargo, so they run beside the cargo builds below.
    let languages = [
        ("python", "pysite.py", "pysite"),
        ("js", "jssite.js", "jssite"),
        ("c", "csite.c", "csite"),
    ];
    let sdk_builds: Vec<_> = if demo {
        Vec::new()
    } else {
        languages
            .iter()
            .map(|&(language, source, name)| {
                let (workspace, wasm_target) = (workspace.clone(), wasm_target.clone());
                (
                    language,
                    name,
                    std::thread::spawn(move || {
                        sdk_build(&workspace, &wasm_target, language, source, name)
                    }),
                )
            })
            .collect()
    };
    let mut consts = String::new();
    // One cargo for every build without features: its jobs share the cores.
    let fixtures: &[&str] = if demo {
        &[]
    } else {
        &["foreign-import", "future-contract", "npm-hello", "data-folder", "contract-0-3"]
    };
    let packages: Vec<String> = first_party
        .iter()
        .map(|p| format!("tails-server-plugin-{p}"))
        .chain(fixtures.iter().map(|f| format!("fixture-{f}")))
        .collect();
    let built = build_all(&workspace, &wasm_target, &packages, None);
    for (plugin, built) in first_party.iter().zip(&built) {
        consts += &install_signed(built, &out, plugin, &TEST_PUBLISHER_SEED);
    }
    // contract-0-3: a plugin built for contract 0.3 (unsigned): a unit the
    // host writes, without 0.4's login account.
    for (fixture, built) in fixtures.iter().zip(&built[first_party.len()..]) {
        consts += &install(built, &out, fixture);
    }
    let listed: Vec<String> =
        first_party.iter().map(|p| format!("({p:?}, {})", p.to_uppercase())).collect();
    consts += &format!("/// Every first-party plugin: its name and built file.\npub const FIRST_PARTY: &[(&str, &str)] = &[{}];\n", listed.join(", "));
    consts += &format!(
        "pub const TEST_PUBLISHER: &str = {:?};\n",
        tails_server_signature::publisher_of(&TEST_PUBLISHER_SEED).fingerprint()
    );
    if demo {
        fs::write(out.join("fixtures.rs"), consts).unwrap();
        return;
    }
    // The plugins whose package names or paths changed with Tails 7, as the
    // Tails 6 release shipped them: the migration test keeps services with
    // them on Debian 12 and boots their Persistent Storage on Tails 7.
    for plugin in TAILS6 {
        let built = build(
            &workspace,
            &wasm_target,
            &format!("tails-server-plugin-{plugin}"),
            Some("tails6"),
        );
        consts += &install_signed(&built, &out, &format!("tails6-{plugin}"), &TEST_PUBLISHER_SEED);
    }
    // Plugins built for contract 0.2 (unsigned, as they were): the web plugin
    // of that release, a hostile one naming another service's unit, and one
    // keeping a folder it does not declare (0.2 did not ask it to).
    for (feature, name) in [
        ("site", "contract-0-2"),
        ("takeover", "contract-0-2-takeover"),
        ("kept-folder", "contract-0-2-kept-folder"),
    ] {
        let built = build(&workspace, &wasm_target, "fixture-contract-0-2", Some(feature));
        consts += &install(&built, &out, name);
    }
    for version in ["v1", "v2"] {
        let built = build(&workspace, &wasm_target, "fixture-versioned", Some(version));
        consts += &install(&built, &out, &format!("versioned-{version}"));
    }
    for feature in HOSTILE {
        let built = build(&workspace, &wasm_target, "fixture-hostile", Some(feature));
        let seed = if ["impostor", "shared-user"].contains(feature) {
            &OTHER_PUBLISHER_SEED
        } else {
            &TEST_PUBLISHER_SEED
        };
        consts += &install_signed(&built, &out, &format!("hostile-{feature}"), seed);
        // The same, signed with the key the test kit signs first-party
        // plugins with (public: it is in this repository): still not
        // first-party, which only the shipped bytes are.
        if ["impostor", "shared-user"].contains(feature) {
            consts += &install_signed(
                &built,
                &out,
                &format!("hostile-{feature}-test-key"),
                &TEST_PUBLISHER_SEED,
            );
        }
    }
    // The first-party web plugin as somebody else built it: unsigned.
    consts += &install(
        &wasm_target.join("wasm32-wasip2/release/tails_server_plugin_web.wasm"),
        &out,
        "web-unsigned",
    );
    for (language, name, built) in sdk_builds {
        let built =
            built.join().unwrap_or_else(|_| panic!("building the {language} example failed"));
        consts += &install(&built, &out, &format!("{language}-{name}"));
    }
    fs::write(out.join("fixtures.rs"), consts).unwrap();
}

/// `sdk/LANGUAGE/build sdk/LANGUAGE/example/SOURCE`, into `<target>/wasm/LANGUAGE/NAME.wasm`.
fn sdk_build(
    workspace: &Path,
    wasm_target: &Path,
    language: &str,
    source: &str,
    name: &str,
) -> PathBuf {
    let folder = wasm_target.join(language);
    fs::create_dir_all(&folder).unwrap();
    let built = folder.join(format!("{name}.wasm"));
    let status = Command::new(workspace.join("sdk").join(language).join("build"))
        .arg(workspace.join("sdk").join(language).join("example").join(source))
        .arg(&built)
        .current_dir(&folder)
        .status()
        .unwrap_or_else(|e| panic!("could not run sdk/{language}/build: {e}"));
    assert!(status.success(), "building sdk/{language}/example/{source} failed (scripts/setup installs each language's tools)");
    built
}

fn build(workspace: &Path, target_dir: &Path, package: &str, feature: Option<&str>) -> PathBuf {
    build_all(workspace, target_dir, &[package.to_string()], feature).remove(0)
}

/// Build `packages` for wasm32-wasip2 in one cargo run; their files, in order.
fn build_all(
    workspace: &Path,
    target_dir: &Path,
    packages: &[String],
    feature: Option<&str>,
) -> Vec<PathBuf> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace).args(["build", "--release", "--target", "wasm32-wasip2"]);
    for package in packages {
        cmd.args(["--package", package]);
    }
    cmd.arg("--target-dir").arg(target_dir);
    if let Some(feature) = feature {
        cmd.args(["--no-default-features", "--features", feature]);
    }
    // Flags meant for the native build must not leak into the wasm one.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("could not run cargo for the wasm fixtures");
    assert!(
        status.success(),
        "building {} for wasm32-wasip2 failed; is the target installed? (`rustup target add wasm32-wasip2`)",
        packages.join(", ")
    );
    packages
        .iter()
        .map(|p| {
            target_dir.join("wasm32-wasip2/release").join(format!("{}.wasm", p.replace('-', "_")))
        })
        .collect()
}

/// Sign the component and install it (see [`install`]).
fn install_signed(built: &Path, out: &Path, name: &str, seed: &[u8; 32]) -> String {
    let signed = tails_server_signature::sign(&fs::read(built).unwrap(), seed);
    let tmp = out.join(format!("{name}.signed"));
    fs::write(&tmp, signed).unwrap();
    let line = install(&tmp, out, name);
    fs::remove_file(&tmp).unwrap();
    line
}

/// Copy the component into OUT_DIR (a feature build overwrites the last one) and
/// return a `pub const` naming it.
fn install(built: &Path, out: &Path, name: &str) -> String {
    let dest = out.join(format!("{name}.wasm"));
    fs::copy(built, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
    let ident = name.to_uppercase().replace('-', "_");
    format!("pub const {ident}: &str = {:?};\n", dest.display().to_string())
}
