//! Harnesses for Tails Server's integration tests (the tests themselves live
//! in `cli/tests/`, where cargo hands them the `tails-server` binary).
//!
//! - [`fixtures`]: paths of the plugin components built by `build.rs`: the
//!   first-party plugins and the hostile fixtures, one per refusal.
//! - [`Sandbox`]: a `--root` tree and a state folder in a temporary folder,
//!   and the real binary run against them.
//! - [`snapshot`]/[`changes`]: compare a tree byte for byte before and after.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

pub mod npm_registry;
pub mod systemd_host;
pub mod tails_host;
/// The private Tor network (shared with `plugin try`).
pub use tails_server_trial::tornet;

pub mod fixtures {
    //! Paths of the built components (`MUMBLE`, `WEB`, `HOSTILE_PANIC`, ...).
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}

/// A dpkg status file in which these packages are installed.
pub fn dpkg_status(installed: &[&str]) -> String {
    installed
        .iter()
        .map(|p| format!("Package: {p}\nStatus: install ok installed\nVersion: 1.0\n\n"))
        .collect()
}

pub struct Sandbox {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub state: PathBuf,
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl Sandbox {
    /// A fresh root with a few system files (so that "unchanged" means
    /// something) and a dpkg database listing lighttpd and mumble-server.
    pub fn new(bin: impl AsRef<Path>) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let state = tmp.path().join("state");
        for (path, contents) in [
            ("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
            ("etc/shadow", "root:*:19000:0:99999:7:::\n"),
            ("etc/outside.conf", "do not touch\n"),
            ("etc/outside-dir/keep.conf", "do not touch either\n"),
            ("var/lib/dpkg/status", &dpkg_status(&["lighttpd", "mumble-server"])),
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, contents).unwrap();
        }
        // No tor unless a test gives one (see `sandbox_with_tor`): never pick up
        // a tor of the machine's, never start one.
        let no_tor = format!("unix:{}", tmp.path().join("no-tor").display());
        Sandbox {
            _tmp: tmp,
            root,
            state,
            bin: bin.as_ref().to_path_buf(),
            env: vec![("TAILS_SERVER_TOR_CONTROL".into(), no_tor)],
        }
    }

    /// Set an environment variable for every later command.
    pub fn env(&mut self, key: &str, value: &str) {
        self.env.push((key.into(), value.into()));
    }

    pub fn path(&self, system_path: &str) -> PathBuf {
        self.root.join(system_path.trim_start_matches('/'))
    }

    pub fn command_as(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_remove("TAILS_SERVER_CALL_TIMEOUT_MS")
            .env_remove("TAILS_SERVER_MEMORY_MIB")
            .env("TAILS_SERVER_ROOT", &self.root)
            .env("TAILS_SERVER_STATE_DIR", &self.state);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Run the binary with `stdin` as its standard input.
    pub fn run_with(&self, program: &Path, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command_as(program, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tails-server");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        self.run_with(&self.bin, args, stdin)
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, "");
        assert!(
            out.status.success(),
            "tails-server {args:?} failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Run and require failure (exit 1); returns stdout and stderr together.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, "");
        assert_eq!(
            out.status.code(),
            Some(1),
            "tails-server {args:?} should fail:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout) + &text(&out.stderr)
    }

    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(self.state.join("audit.log")).unwrap_or_default()
    }
}

/// A folder of shipped plugins (name, built file), laid out as an installed
/// Tails Server has them, for `TAILS_SERVER_PLUGINS_DIR`.
pub fn shipped_folder(plugins: &[(&str, &str)]) -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("tempdir");
    for (name, built) in plugins {
        std::fs::copy(built, folder.path().join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("{built}: {e}"));
    }
    folder
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every entry under `dir`: kind, mode, owner, and content hash or link target.
pub fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut tree = BTreeMap::new();
    walk(dir, dir, &mut tree);
    tree
}

fn walk(base: &Path, dir: &Path, tree: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(base).unwrap().display().to_string();
        let mode = meta.permissions().mode() & 0o7777;
        let what = if meta.file_type().is_symlink() {
            format!("link -> {}", std::fs::read_link(&path).unwrap().display())
        } else if meta.is_dir() {
            walk(base, &path, tree);
            format!("dir {mode:o} {}:{}", meta.uid(), meta.gid())
        } else {
            let hash = hex::encode(Sha256::digest(std::fs::read(&path).unwrap()));
            format!("file {mode:o} {}:{} {hash}", meta.uid(), meta.gid())
        };
        tree.insert(rel, what);
    }
}

/// What differs between two snapshots, one line per path.
pub fn changes(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, was) in before {
        match after.get(path) {
            None => out.push(format!("removed {path}")),
            Some(now) if now != was => out.push(format!("changed {path}: {was} => {now}")),
            _ => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        out.push(format!("added {path}"));
    }
    out
}

/// The steps `enable` prints, in order.
pub const ENABLE_STEPS: [&str; 5] = ["packages", "configure", "unit", "firewall", "publish"];

/// The seconds `enable` printed for a step (`✓ unit: ... [0.120 s]`), for benches.
pub fn enable_step_seconds(enable_output: &str, step: &str) -> f64 {
    let line = enable_output
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("✓ {step}:")))
        .expect("a line per step");
    line.rsplit_once('[')
        .and_then(|(_, t)| t.trim_end_matches(" s]").parse::<f64>().ok())
        .expect("a time")
}

/// A new SSH key pair (ed25519, no passphrase) made by OpenSSH's ssh-keygen
/// in `dir`: the private key's path and the public key's line.
pub fn ssh_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen (openssh-client)");
    assert!(out.status.success(), "ssh-keygen: {}", text(&out.stderr));
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap().trim().to_string();
    (key, public)
}

/// OpenSSH's `sftp` in batch mode (each line of `commands` one command; a
/// leading `-` lets the batch go on after it fails) as `share@host:port`
/// with the key `identity`, through `proxy` (a ProxyCommand) when given; at
/// most 120 s. Ok(what it printed) when every command succeeded, else Err
/// with what it printed and its errors.
pub fn sftp(
    identity: &Path,
    host: &str,
    port: u16,
    proxy: Option<&str>,
    commands: &str,
) -> Result<String, String> {
    let mut batch = tempfile::NamedTempFile::new().unwrap();
    batch.write_all(commands.as_bytes()).unwrap();
    let mut cmd = openssh("sftp", identity, proxy);
    cmd.arg("-b").arg(batch.path()).args(["-P", &port.to_string()]).arg(format!("share@{host}"));
    outcome(cmd)
}

/// OpenSSH's `ssh` running `command` as `user@host:port`, as [`sftp`] does.
pub fn ssh(
    identity: &Path,
    user: &str,
    host: &str,
    port: u16,
    proxy: Option<&str>,
    command: &str,
) -> Result<String, String> {
    let mut cmd = openssh("ssh", identity, proxy);
    cmd.args(["-p", &port.to_string()]).arg(format!("{user}@{host}")).arg(command);
    outcome(cmd)
}

/// An OpenSSH client under a 120 s deadline, with only `identity` to offer,
/// no questions asked, through `proxy` when given.
fn openssh(tool: &str, identity: &Path, proxy: Option<&str>) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "120", tool, "-i"]).arg(identity);
    // Each test host's server has keys of its own; the onion address already authenticates it.
    cmd.args([
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
    ]);
    if let Some(proxy) = proxy {
        cmd.arg("-o").arg(format!("ProxyCommand={proxy}"));
    }
    cmd
}

/// Run the client; a SOCKS failure of its proxy (`nc -X 5`: a circuit that
/// failed or timed out on the small test network) is tried again, three
/// times at most, as `tornet::connect_expecting` does.
fn outcome(mut cmd: Command) -> Result<String, String> {
    for attempt in 1..=3 {
        let out = cmd.output().expect("OpenSSH's client (openssh-client)");
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        if out.status.success() {
            return Ok(said);
        }
        if attempt == 3 || !said.contains("SOCKSv5 error") {
            return Err(said);
        }
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
    unreachable!("the last attempt returns")
}

/// Base64 (standard alphabet, padded): HTTP Basic and SASL PLAIN credentials in tests.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// The middle value (the upper one of an even count), for benches.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
    }
}
