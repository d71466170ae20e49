//! `tails-server plugin try`: a plugin tried for real on the author's
//! machine, in a private Tor network and a disposable systemd host (the
//! machinery the system tests and the demo run in: [`tornet`], [`host`]).
//!
//! Everything lives in a network namespace of this process's own (no name,
//! so nothing to delete: it goes when the last process in it ends), the
//! host's root is an overlay whose writes stay in RAM, and every tor and the
//! host's systemd are stopped by pid. The host has no network beyond the
//! private Tor network: a package the plugin installs must already be on
//! this machine.

pub mod host;
pub mod tornet;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use tails_server_types::display;

use host::{Item, SystemdHost};
use tornet::TorNet;

/// Where the tails-server program lives inside a host (where the autostart
/// unit runs it).
pub const INSIDE_BIN: &str = "/usr/bin/tails-server";

/// What a server says, at most, is read and shown (escaped) from it.
const READ_AT_MOST: usize = 64 << 10;
/// How long a server may take to answer a request through Tor.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `--keep` leaves everything up when nobody presses Enter.
const KEEP_AT_MOST: Duration = Duration::from_secs(3600);

/// Try each plugin file in turn (added, enabled, reached through Tor with the
/// client's key, disabled, removed) in one Tor network and one host.
/// `installed`: the Debian packages this machine has (the host can install
/// nothing else). `say` gets every line to show, as it happens (plugin words
/// already escaped). True when every plugin was reached.
pub fn run(
    program: &Path,
    plugins: &[PathBuf],
    installed: &BTreeSet<String>,
    keep: bool,
    say: &mut dyn FnMut(&str),
) -> Result<bool> {
    preflight(plugins)?;
    machinery("making a network namespace", private_network)??;
    say("Starting a private Tor network (about 30 to 60 s)…");
    let net = machinery("the private Tor network", TorNet::start)?;
    let mut items = vec![
        Item::Bind(net.dir().to_path_buf(), net.dir().display().to_string()),
        Item::Copy(program.to_path_buf(), INSIDE_BIN.into()),
        Item::Mask("tails-server-autostart.service".into()),
        Item::Mask("tails-serverd.service".into()),
    ];
    items.extend(empty_state());
    let inside: Vec<String> = (0..plugins.len()).map(|i| format!("/root/try/{i}.wasm")).collect();
    for (file, inside) in plugins.iter().zip(&inside) {
        items.push(Item::Copy(file.clone(), inside.clone()));
    }
    say("Booting a disposable systemd test host (an overlay of this machine's root, in RAM)…");
    let host = machinery("the test host", || SystemdHost::boot(&items))?;
    let trial = Trial { host: &host, net: &net, installed };
    let mut all = true;
    for (file, inside) in plugins.iter().zip(&inside) {
        say("");
        say(&format!("== {}", file.display()));
        all &= trial.one(inside, keep, say)?;
    }
    if keep {
        say("");
        say("Left up for poking (as root, in another terminal):");
        say(&format!(
            "  nsenter -t {} -m -p -n -- env TAILS_SERVER_TOR_CONTROL={} tails-server list",
            host.pid,
            net.service_control()
        ));
        say(&format!("  nsenter -t {} -m -p -n -- journalctl -b --no-pager", host.pid));
        say(&format!(
            "  nsenter -t {} -n -- curl --socks5-hostname 127.0.0.1:{} http://ADDRESS/   (the client tor has each client key)",
            std::process::id(),
            net.client_socks
        ));
        say("Press Enter to remove everything (it goes by itself in an hour).");
        wait_for_enter(KEEP_AT_MOST);
    }
    say("Removing the test host and the Tor network.");
    drop(host);
    drop(net);
    Ok(all)
}

/// Tails Server's own folders, empty inside a host: its root is this
/// machine's, which may have services of its own; none of them is seen or
/// started inside.
pub fn empty_state() -> Vec<Item> {
    ["/var/lib/tails-server", "/etc/tails-server", "/var/cache/tails-server"]
        .map(|own| Item::Empty(own.into()))
        .into()
}

struct Trial<'a> {
    host: &'a SystemdHost,
    net: &'a TorNet,
    installed: &'a BTreeSet<String>,
}

impl Trial<'_> {
    /// tails-server inside the host, using the private network's tor.
    fn cli(&self, args: &[&str]) -> Output {
        self.host
            .command(INSIDE_BIN)
            .args(args)
            .env("TAILS_SERVER_TOR_CONTROL", self.net.service_control())
            .stdin(Stdio::null())
            .output()
            .expect("nsenter")
    }

    /// Say a command's output, indented, stderr (where the plugin's log is)
    /// too; without QR codes and blank lines.
    fn show(&self, out: &Output, say: &mut dyn FnMut(&str)) {
        let qr = |line: &str| line.contains(['█', '▀', '▄']);
        for line in text(&out.stdout).lines().chain(text(&out.stderr).lines()) {
            if !line.trim().is_empty() && !qr(line) {
                say(&format!("   {line}"));
            }
        }
    }

    fn one(&self, inside: &str, keep: bool, say: &mut dyn FnMut(&str)) -> Result<bool> {
        say("$ tails-server plugin add FILE --yes");
        let added = self.cli(&["plugin", "add", inside, "--yes"]);
        self.show(&added, say);
        let Some(name) = text(&added.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Added ")?.strip_suffix('.').map(str::to_string))
        else {
            say("✗ not added: see above.");
            return Ok(false);
        };
        let capabilities = self.capabilities(&name);
        // The host has no network: apt there can install only what this
        // machine has (its root is the host's lower layer).
        let missing: Vec<&str> = capabilities
            .iter()
            .filter_map(|c| c.strip_prefix("package:"))
            .filter(|p| !self.installed.contains(*p))
            .collect();
        if !missing.is_empty() {
            say(&format!(
                "✗ {name} needs Debian packages that are not installed on this machine: {}. The test host has no network to fetch them: install them first (`sudo apt-get install {}`), then try again.",
                missing.join(", "),
                missing.join(" ")
            ));
            self.cli(&["plugin", "remove", &name]);
            return Ok(false);
        }
        if capabilities.iter().any(|c| c.starts_with("npm:")) {
            say(&format!("✗ {name} installs npm packages, which plugin try cannot do yet: the test host has no network."));
            self.cli(&["plugin", "remove", &name]);
            return Ok(false);
        }

        say(&format!("$ tails-server {name} enable"));
        let enabled = self.cli(&[&name, "enable"]);
        self.show(&enabled, say);
        let unit = capabilities
            .iter()
            .find_map(|c| c.strip_prefix("unit:"))
            .map(str::to_string)
            .unwrap_or(format!("tails-server-{name}.service"));
        let reached = enabled.status.success() && self.reach(&name, say)?;
        if !reached {
            say(&format!("The service's log ({unit}, last 15 lines):"));
            let log =
                self.host.run("journalctl", &["-u", &unit, "-n", "15", "--no-pager", "-o", "cat"]);
            self.show(&log, say);
        }
        if !keep && enabled.status.success() {
            say(&format!("$ tails-server {name} disable"));
            self.show(&self.cli(&[&name, "disable"]), say);
        }
        if !keep {
            self.cli(&["plugin", "remove", &name]);
        }
        say(if reached {
            "✓ reached through Tor with the client's key."
        } else {
            "✗ not reached: see above."
        });
        Ok(reached)
    }

    /// The capabilities `plugin show` lists (`package:X`, `unit:X`, ...).
    fn capabilities(&self, name: &str) -> Vec<String> {
        let shown: serde_json::Value =
            serde_json::from_slice(&self.cli(&["plugin", "show", name, "--json"]).stdout)
                .unwrap_or_default();
        shown["capabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["capability"].as_str().map(str::to_string))
            .collect()
    }

    /// Connect to the published port through the client tor, with the
    /// first client's key; say what the server answered.
    fn reach(&self, name: &str, say: &mut dyn FnMut(&str)) -> Result<bool> {
        let info: serde_json::Value =
            serde_json::from_slice(&self.cli(&[name, "connection-info", "--json"]).stdout)
                .unwrap_or_default();
        let (Some(address), Some(port)) = (info["address"].as_str(), info["port"].as_u64()) else {
            say("✗ connection-info gave no address");
            return Ok(false);
        };
        let key = info["clients"][0]["private-key"].as_str();
        machinery("giving the client tor the key", || self.net.client_key(address, key))?;
        say(&format!(
            "Connecting to {address} port {port} through Tor{}…",
            if key.is_some() { " with the client's key" } else { "" }
        ));
        let mut stream =
            match tornet::connect_patiently(self.net.client_socks, address, port as u16) {
                Ok(stream) => stream,
                Err(code) => {
                    say(&format!("✗ Tor could not connect: {}", tornet::socks_words(code)));
                    return Ok(false);
                }
            };
        // A server that speaks first (SSH, ...) says something at once; to
        // the others, an HTTP request.
        stream.set_read_timeout(Some(Duration::from_secs(3)))?;
        let mut first = [0u8; 512];
        let heard = match stream.read(&mut first) {
            Ok(n) if n > 0 => first[..n].to_vec(),
            _ => {
                let _ = stream
                    .write_all(format!("GET / HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes());
                stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
                let mut answer = Vec::new();
                let _ = stream.take(READ_AT_MOST as u64).read_to_end(&mut answer);
                answer
            }
        };
        if heard.is_empty() {
            say("✗ connected, but the server said nothing (neither first nor to an HTTP request)");
            return Ok(false);
        }
        let heard = String::from_utf8_lossy(&heard);
        if let Some(status) = heard.lines().next().filter(|l| l.starts_with("HTTP/")) {
            say(&format!("HTTP: {}", escaped(status)));
            let body = heard.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
            let words = visible_text(body);
            if !words.is_empty() {
                say(&format!("The page says: {}", escaped(&words)));
            }
        } else {
            say(&format!("The server said: {}", escaped(heard.lines().next().unwrap_or(""))));
        }
        Ok(true)
    }
}

/// Refusals before anything starts: who may, with what, which files.
fn preflight(plugins: &[PathBuf]) -> Result<()> {
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("plugin try needs root: it makes a network namespace and boots systemd in it (sudo tails-server plugin try FILE.wasm)");
    }
    if plugins.is_empty() {
        bail!("plugin try needs at least one plugin file (FILE.wasm)");
    }
    for file in plugins {
        let meta =
            std::fs::metadata(file).map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?;
        if !meta.is_file() {
            bail!("{} is not a file", file.display());
        }
    }
    for (tool, package) in [
        ("tor", "tor"),
        ("tor-gencert", "tor"),
        ("unshare", "util-linux"),
        ("nsenter", "util-linux"),
        ("ip", "iproute2"),
        ("journalctl", "systemd"),
    ] {
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(tool).is_file()));
        if !found {
            bail!("plugin try needs `{tool}`: sudo apt-get install {package}");
        }
    }
    if !Path::new("/lib/systemd/systemd").exists() {
        bail!("plugin try needs systemd (/lib/systemd/systemd): sudo apt-get install systemd");
    }
    Ok(())
}

/// A network namespace of this thread's own (and of everything it starts),
/// with only loopback up: the Tor network and the host talk on it alone.
fn private_network() -> Result<()> {
    // SAFETY: unshare(2) of the calling thread's network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        bail!("unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
    }
    let up = Command::new("ip").args(["link", "set", "lo", "up"]).output()?;
    if !up.status.success() {
        bail!("ip link set lo up: {}", text(&up.stderr));
    }
    Ok(())
}

/// Run a piece of the machinery, which reports a failure by panicking (it
/// is the system tests' too): the panic's words become this error.
fn machinery<T>(what: &str, f: impl FnOnce() -> T) -> Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.map_err(|panic| {
        let words = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        anyhow!("{what} failed: {words}")
    })
}

fn wait_for_enter(at_most: Duration) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_line(&mut String::new());
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(at_most);
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A server's words on one line, escaped as a plugin's are, cut at 200
/// characters: it is the plugin's server, not ours.
fn escaped(s: &str) -> String {
    let s = s.trim();
    let mut out = display::line(&s.chars().take(200).collect::<String>());
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// The words of an HTML page without its tags (roughly: enough to see
/// which page came).
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_words_are_shown_escaped_and_short() {
        assert_eq!(escaped("HTTP/1.0 200 OK\u{1b}[31m"), "HTTP/1.0 200 OK\\e[31m");
        assert_eq!(escaped("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(escaped(&"x".repeat(300)).chars().count(), 201);
        assert_eq!(
            visible_text("<!doctype html>\n<h1>Hello &amp; <b>bye</b></h1>"),
            "Hello &amp; bye"
        );
    }

    #[test]
    fn a_panic_in_the_machinery_becomes_an_error() {
        let e = machinery("the test host", || panic!("did not boot: {}", 42)).unwrap_err();
        assert_eq!(e.to_string(), "the test host failed: did not boot: 42");
        assert_eq!(machinery("x", || 7).unwrap(), 7);
    }
}
