//! A private Tor network on loopback: 3 directory authorities (also relays),
//! 3 relays, the "system tor" that Tails Server drives, and a client tor with a
//! SOCKS port. Recipe and facts: `../shared/tor-testnet.md`.
//!
//! Every node is stopped by its pid: on `Drop`, and, for a network kept in a
//! `static` (never dropped), by an `atexit` handler when the test process
//! exits. `__OwningControllerProcess` = this process is the last resort, if
//! the process dies without exiting.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the network may take to bootstrap (measured: about 40 s).
const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(240);

pub struct Node {
    pub name: String,
    pub dir: PathBuf,
    torrc: PathBuf,
    pub control_port: u16,
    child: Mutex<Option<Child>>,
}

pub struct TorNet {
    _tmp: tempfile::TempDir,
    nodes: Vec<Node>,
    /// SOCKS port of the client tor (with ExtendedErrors).
    pub client_socks: u16,
}

/// A port nothing listens on now and that this process has not handed out
/// before: the kernel may give the same free port to two quick binds, and two
/// nodes sharing a port means one tor exits (before it opens its log).
fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no unused loopback port after 100 tries");
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.stderr(Stdio::inherit()).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl TorNet {
    /// Start the network and wait (polling, bounded) until the service and
    /// client tors have bootstrapped.
    pub fn start() -> TorNet {
        let tmp = tempfile::Builder::new().prefix("tornet").tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        let owner = std::process::id();
        let common = |name: &str, dir: &Path, control: u16| {
            format!(
                "TestingTorNetwork 1\nDataDirectory {dir}\nNickname {name}\nControlPort 127.0.0.1:{control}\n\
                 CookieAuthentication 1\nAssumeReachable 1\nPathsNeededToBuildCircuits 0.67\n\
                 TestingDirAuthVoteHSDir *\nTestingDirAuthVoteGuard *\nTestingDirAuthVoteExit *\n\
                 TestingMinExitFlagThreshold 0\nV3AuthNIntervalsValid 2\nShutdownWaitLength 0\n\
                 PidFile {dir}/pid\nLog notice file {dir}/notice.log\n__OwningControllerProcess {owner}\n",
                dir = dir.display()
            )
        };

        // Authorities: keys, certificates, fingerprints.
        struct Auth {
            name: String,
            or_port: u16,
            dir_port: u16,
            v3ident: String,
            fingerprint: String,
        }
        let mut auths = Vec::new();
        for i in 0..3 {
            let name = format!("auth{i}");
            let dir = base.join(&name);
            std::fs::create_dir_all(dir.join("keys")).unwrap();
            let (or_port, dir_port) = (free_port(), free_port());
            let mut gencert = Command::new("tor-gencert");
            gencert
                .current_dir(&dir)
                .args([
                    "--create-identity-key",
                    "--passphrase-fd",
                    "0",
                    "-i",
                    "keys/authority_identity_key",
                    "-s",
                    "keys/authority_signing_key",
                ])
                .args([
                    "-c",
                    "keys/authority_certificate",
                    "-m",
                    "12",
                    "-a",
                    &format!("127.0.0.1:{dir_port}"),
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::null());
            let mut child = gencert.spawn().expect("tor-gencert (package tor)");
            child.stdin.take().unwrap().write_all(b"\n").unwrap();
            assert!(child.wait().unwrap().success());
            let cert = std::fs::read_to_string(dir.join("keys/authority_certificate")).unwrap();
            let v3ident = cert
                .lines()
                .find_map(|l| l.strip_prefix("fingerprint "))
                .unwrap()
                .trim()
                .to_string();
            let fingerprint = fingerprint_of(&dir, &name);
            auths.push(Auth { name, or_port, dir_port, v3ident, fingerprint });
        }
        let dir_authorities: String = auths
            .iter()
            .map(|a| {
                format!(
                    "DirAuthority {} orport={} no-v2 v3ident={} 127.0.0.1:{} {}\n",
                    a.name, a.or_port, a.v3ident, a.dir_port, a.fingerprint
                )
            })
            .collect();

        let mut nodes = Vec::new();
        let add = |name: &str, extra: String, nodes: &mut Vec<Node>| {
            let dir = base.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let control_port = free_port();
            let torrc = dir.join("torrc");
            std::fs::write(
                &torrc,
                format!("{}{dir_authorities}{extra}", common(name, &dir, control_port)),
            )
            .unwrap();
            nodes.push(Node {
                name: name.into(),
                dir,
                torrc,
                control_port,
                child: Mutex::new(None),
            });
        };
        for a in &auths {
            let extra = format!(
                "SocksPort 0\nORPort 127.0.0.1:{}\nDirPort 127.0.0.1:{}\nAddress 127.0.0.1\nAuthoritativeDirectory 1\n\
                 V3AuthoritativeDirectory 1\nContactInfo test@example.invalid\nV3AuthVotingInterval 20\nV3AuthVoteDelay 4\n\
                 V3AuthDistDelay 4\nTestingV3AuthInitialVotingInterval 20\nTestingV3AuthInitialVoteDelay 4\nTestingV3AuthInitialDistDelay 4\n",
                a.or_port, a.dir_port
            );
            add(&a.name, extra, &mut nodes);
        }
        for i in 0..3 {
            let extra = format!(
                "SocksPort 0\nORPort 127.0.0.1:{}\nDirPort 127.0.0.1:{}\nAddress 127.0.0.1\n",
                free_port(),
                free_port()
            );
            add(&format!("relay{i}"), extra, &mut nodes);
        }
        add("service", "SocksPort 0\n".into(), &mut nodes);
        let client_socks = free_port();
        let auth_dir = base.join("client-auth");
        std::fs::create_dir_all(&auth_dir).unwrap();
        std::fs::set_permissions(&auth_dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        add(
            "client",
            format!(
                "SocksPort 127.0.0.1:{client_socks} ExtendedErrors\nClientOnionAuthDir {}\n",
                auth_dir.display()
            ),
            &mut nodes,
        );

        let net = TorNet { _tmp: tmp, nodes, client_socks };
        for i in 0..net.nodes.len() {
            net.launch(i);
        }
        net.wait_bootstrapped("service");
        net.wait_bootstrapped("client");
        net
    }

    fn index(&self, name: &str) -> usize {
        self.nodes.iter().position(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"))
    }

    /// The folder holding every node's files (control cookies among them).
    pub fn dir(&self) -> &Path {
        self._tmp.path()
    }

    /// The lines that join a tor elsewhere to this network (its
    /// authorities), as every node's torrc has them.
    pub fn dir_authority_lines(&self) -> String {
        let torrc = std::fs::read_to_string(&self.node("service").torrc).unwrap();
        torrc.lines().filter(|l| l.starts_with("DirAuthority ")).map(|l| format!("{l}\n")).collect()
    }

    /// Every port the authorities and relays listen on (ORPort, DirPort):
    /// what a tor in another network namespace must reach.
    pub fn relay_ports(&self) -> Vec<u16> {
        let mut ports = Vec::new();
        for node in &self.nodes {
            for line in std::fs::read_to_string(&node.torrc).unwrap().lines() {
                if let Some(port) = line
                    .strip_prefix("ORPort 127.0.0.1:")
                    .or_else(|| line.strip_prefix("DirPort 127.0.0.1:"))
                {
                    ports.push(port.parse().unwrap());
                }
            }
        }
        ports
    }

    pub fn node(&self, name: &str) -> &Node {
        &self.nodes[self.index(name)]
    }

    fn launch(&self, i: usize) {
        let node = &self.nodes[i];
        // What tor says before its log file is open (a port it cannot bind, say).
        let early = std::fs::File::create(node.dir.join("stdout.log")).unwrap();
        let child = Command::new("tor")
            .arg("-f")
            .arg(&node.torrc)
            .stdout(early)
            .stderr(Stdio::null())
            .spawn()
            .expect("tor");
        stop_at_exit(child.id());
        *node.child.lock().unwrap() = Some(child);
    }

    /// `tails-server`'s view of the service tor: `TAILS_SERVER_TOR_CONTROL`.
    pub fn service_control(&self) -> String {
        format!("127.0.0.1:{}", self.node("service").control_port)
    }

    /// Poll `status/bootstrap-phase` (bounded) until PROGRESS=100.
    pub fn wait_bootstrapped(&self, name: &str) {
        let node = self.node(name);
        let exited =
            || node.child.lock().unwrap().as_mut().and_then(|c| c.try_wait().ok().flatten());
        let deadline = Instant::now() + BOOTSTRAP_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline && exited().is_none() {
            if let Ok(reply) = self.control(name, "GETINFO status/bootstrap-phase") {
                if reply.contains("PROGRESS=100") {
                    return;
                }
                last = reply;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let exited = exited();
        let early = std::fs::read_to_string(node.dir.join("stdout.log")).unwrap_or_default();
        let log = std::fs::read_to_string(node.dir.join("notice.log")).unwrap_or_default();
        panic!("tor {name} did not bootstrap within {BOOTSTRAP_TIMEOUT:?} (exited: {exited:?}): {last}\n{early}\n{log}");
    }

    /// Stop the service tor (by its pid) and start it again on the same data.
    pub fn restart_service_tor(&self) {
        let i = self.index("service");
        if let Some(mut child) = self.nodes[i].child.lock().unwrap().take() {
            reaped(&mut child);
        }
        self.launch(i);
        self.wait_bootstrapped("service");
    }

    /// One command on a node's control port (cookie authentication); the reply.
    pub fn control(&self, name: &str, command: &str) -> std::io::Result<String> {
        let node = self.node(name);
        let cookie = std::fs::read(node.dir.join("control_auth_cookie"))?;
        let stream = TcpStream::connect(("127.0.0.1", node.control_port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let mut ask = |line: &str| -> std::io::Result<String> {
            writer.write_all(format!("{line}\r\n").as_bytes())?;
            let mut reply = String::new();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l)? == 0 {
                    return Err(std::io::Error::other("closed"));
                }
                let done = l.len() > 3 && l.as_bytes()[3] == b' ';
                reply.push_str(&l);
                if done {
                    return Ok(reply);
                }
            }
        };
        ask(&format!("AUTHENTICATE {}", hex::encode(cookie)))?;
        ask(command)
    }

    /// Give the client tor a key for `address` (or take it away with `None`);
    /// either way the client's cached descriptor for it is dropped.
    pub fn client_key(&self, address: &str, private_base32: Option<&str>) {
        let id = address.trim_end_matches(".onion");
        let _ = self.control("client", &format!("ONION_CLIENT_AUTH_REMOVE {id}"));
        if let Some(key) = private_base32 {
            let raw = data_encoding::BASE32_NOPAD.decode(key.as_bytes()).expect("base32 key");
            let b64 = data_encoding::BASE64.encode(&raw);
            let reply = self
                .control("client", &format!("ONION_CLIENT_AUTH_ADD {id} x25519:{b64}"))
                .unwrap();
            // 250 OK, 251 (replaced an older key) or 252 (also decrypted a cached descriptor).
            assert!(["250", "251", "252"].iter().any(|ok| reply.starts_with(ok)), "{reply}");
        }
    }
}

impl Drop for TorNet {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.get_mut().unwrap().take() {
                reaped(&mut child);
            }
        }
    }
}

/// Pids of the tors this process started, killed when it exits.
static AT_EXIT: Mutex<Vec<u32>> = Mutex::new(Vec::new());

pub(crate) fn stop_at_exit(pid: u32) {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    extern "C" fn kill_all() {
        if let Ok(pids) = AT_EXIT.lock() {
            for pid in pids.iter() {
                // SAFETY: kill(2) on a pid of a child this process started.
                unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
            }
        }
    }
    // SAFETY: registering a plain extern "C" function.
    REGISTERED.call_once(|| unsafe {
        libc::atexit(kill_all);
    });
    AT_EXIT.lock().unwrap().push(pid);
}

/// A child that was waited for: its pid may be reused, never kill it later.
fn reaped(child: &mut Child) {
    let pid = child.id();
    let _ = child.kill();
    let _ = child.wait();
    AT_EXIT.lock().unwrap().retain(|p| *p != pid);
}

fn fingerprint_of(dir: &Path, nick: &str) -> String {
    let out = run(Command::new("tor")
        .args(["--ignore-missing-torrc", "-f", "/nonexistent", "--datadirectory"])
        .arg(dir)
        .args(["--orport", "1", "--nickname", nick, "--list-fingerprint"]));
    let last = out.lines().last().unwrap_or("");
    last.split_once(' ').map(|(_, fp)| fp.replace(' ', "")).unwrap_or_default()
}

/// What a SOCKS5 connection through the client tor gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Fetch {
    /// The HTTP response.
    Page(String),
    /// SOCKS refused with this reply code (0xF4: no client key, 0xF5: wrong
    /// key, 0xF0: descriptor not found, ...).
    Refused(u8),
}

/// GET `/` from `host:port` through the SOCKS port (bounded by timeouts).
pub fn fetch(socks_port: u16, host: &str, port: u16) -> Fetch {
    match connect(socks_port, host, port) {
        Ok(mut s) => {
            s.write_all(format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).unwrap();
            let mut page = String::new();
            let _ = s.read_to_string(&mut page);
            Fetch::Page(page)
        }
        Err(code) => Fetch::Refused(code),
    }
}

/// SOCKS 0x01, "general failure": a circuit that failed to build on this
/// small network (seen about once in five runs right after a service is
/// published again); a person would try again.
const GENERAL_FAILURE: u8 = 1;
/// SOCKS 0x06, "TTL expired": tor gave up on circuits that timed out (seen
/// about once in three runs of the catalog's twelve services).
const TIMED_OUT: u8 = 6;

/// A stream to `host:port` through the client tor's SOCKS port, for a real
/// client's protocol; the SOCKS reply code when refused. Reads time out.
/// Only a general failure is tried again (three times at most): the
/// onion-specific refusals (0xF0-0xF7, ExtendedErrors) and a timeout come
/// back at once, for the tests that expect a refusal.
pub fn connect(socks_port: u16, host: &str, port: u16) -> Result<TcpStream, u8> {
    connect_retrying(socks_port, host, port, &[GENERAL_FAILURE])
}

/// A stream for a client that has what it needs to get in: a circuit that
/// timed out is tried again too (three times at most, as a person would);
/// a refusal panics with its code.
pub fn connect_expecting(socks_port: u16, host: &str, port: u16) -> TcpStream {
    connect_patiently(socks_port, host, port)
        .unwrap_or_else(|code| panic!("SOCKS refused with {code:#x}"))
}

/// [`connect_expecting`], with a refusal's code as the error.
pub fn connect_patiently(socks_port: u16, host: &str, port: u16) -> Result<TcpStream, u8> {
    connect_retrying(socks_port, host, port, &[GENERAL_FAILURE, TIMED_OUT])
}

/// What a SOCKS reply code from tor means, in words.
pub fn socks_words(code: u8) -> String {
    let words = match code {
        GENERAL_FAILURE => "a circuit failed to build",
        TIMED_OUT => "the connection timed out",
        0x05 => "the service refused the connection (nothing listens on its port?)",
        0xF0 => "the onion service's descriptor was not found (not published?)",
        0xF2 => "the introduction to the onion service failed",
        0xF3 => "the rendezvous with the onion service failed",
        0xF4 => "the onion service wants a client key, and none was given",
        0xF5 => "the onion service refused the client key",
        0xF6 => "the onion address is not valid",
        _ => "refused",
    };
    format!("{words} (SOCKS reply {code:#04x})")
}

fn connect_retrying(socks_port: u16, host: &str, port: u16, again: &[u8]) -> Result<TcpStream, u8> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match connect_once(socks_port, host, port) {
            Err(code) if again.contains(&code) && attempts < 3 => {
                std::thread::sleep(Duration::from_secs(3))
            }
            other => return other,
        }
    }
}

fn connect_once(socks_port: u16, host: &str, port: u16) -> Result<TcpStream, u8> {
    let mut s = TcpStream::connect(("127.0.0.1", socks_port)).expect("client SOCKS port");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    s.write_all(&[5, 1, 0]).unwrap();
    let mut hello = [0u8; 2];
    s.read_exact(&mut hello).unwrap();
    assert_eq!(hello, [5, 0]);
    let mut req = vec![5, 1, 0, 3, host.len() as u8];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut reply = [0u8; 10];
    // tor's own limit on a stream that waits (SocksTimeout, 2 minutes) is
    // ours too; when it is ours that runs out first, the answer is the same
    // as tor's: the stream timed out.
    match s.read_exact(&mut reply) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            return Err(TIMED_OUT)
        }
        other => other.unwrap(),
    }
    if reply[1] != 0 {
        return Err(reply[1]);
    }
    Ok(s)
}

/// Serve `body` over HTTP on 127.0.0.1:`port` from a thread, for as long as
/// the process runs (the listener is the test's own).
pub fn serve(port: u16, body: &'static str) {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("port {port} is taken: {e}"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                    .as_bytes(),
            );
        }
    });
}

/// A lone tor that never connects (DisableNetwork), to see how the host
/// handles a tor that is not bootstrapped. Stopped by its pid on drop.
pub struct OfflineTor {
    _tmp: tempfile::TempDir,
    child: Child,
    pub control_port: u16,
}

impl OfflineTor {
    pub fn start() -> OfflineTor {
        let tmp = tempfile::Builder::new().prefix("offline-tor").tempdir().unwrap();
        let control_port = free_port();
        let child = Command::new("tor")
            .args([
                "--ignore-missing-torrc",
                "-f",
                "/nonexistent",
                "--DisableNetwork",
                "1",
                "--SocksPort",
                "0",
                "--CookieAuthentication",
                "1",
            ])
            .arg("--DataDirectory")
            .arg(tmp.path())
            .args([
                "--ControlPort",
                &format!("127.0.0.1:{control_port}"),
                "--__OwningControllerProcess",
                &std::process::id().to_string(),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("tor");
        stop_at_exit(child.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", control_port)).is_err()
            || !tmp.path().join("control_auth_cookie").exists()
        {
            assert!(Instant::now() < deadline, "offline tor did not open its control port");
            std::thread::sleep(Duration::from_millis(100));
        }
        OfflineTor { _tmp: tmp, child, control_port }
    }
}

impl Drop for OfflineTor {
    fn drop(&mut self) {
        reaped(&mut self.child);
    }
}
