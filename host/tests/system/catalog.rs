//! The service catalog, each service driven by its real client through the
//! private Tor network with the client's key, in one host boot.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tails_server_testkit::tornet;

use super::{Boot, Host, World};

/// The onion address and the first client's key, and tor told about the key.
fn reach(w: &World, host: &Host, service: &str) -> String {
    let info: serde_json::Value = serde_json::from_str(&host.ok(&[service, "connection-info", "--json"])).unwrap();
    let address = info["address"].as_str().unwrap().to_string();
    w.tor.client_key(&address, info["clients"][0]["private-key"].as_str());
    address
}

/// A raw IRC client: lines in and out, PINGs answered, every read bounded.
struct Irc {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Irc {
    fn connect(w: &World, address: &str, port: u16) -> Irc {
        let stream = tornet::connect(w.tor.client_socks, address, port).unwrap_or_else(|code| panic!("SOCKS refused with {code:#x}"));
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Irc { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream }
    }

    fn send(&mut self, line: &str) {
        self.writer.write_all(format!("{line}\r\n").as_bytes()).unwrap();
    }

    /// Read until a line `wanted` accepts (Ok) or an `ERROR` line (Err), at most 200 lines.
    fn until(&mut self, wanted: impl Fn(&str) -> bool) -> Result<String, String> {
        for _ in 0..200 {
            let mut line = String::new();
            if self.reader.read_line(&mut line).map_err(|e| format!("reading: {e}"))? == 0 {
                return Err("the server closed the connection".into());
            }
            let line = line.trim_end().to_string();
            if let Some(token) = line.strip_prefix("PING ") {
                self.send(&format!("PONG {token}"));
            } else if line.starts_with("ERROR") {
                return Err(line);
            } else if wanted(&line) {
                return Ok(line);
            }
        }
        Err("no answer in 200 lines".into())
    }

    /// PASS, NICK, USER; the welcome (001) or the server's refusal.
    fn login(&mut self, password: &str, nick: &str) -> Result<String, String> {
        self.send(&format!("PASS {password}"));
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :{nick}"));
        self.until(|l| l.split(' ').nth(1) == Some("001"))
    }
}

pub fn services_work_through_tor_with_their_real_clients(w: &World) {
    let host = w.host(Boot::default());
    irc(w, &host);
    gobby(w, &host);
    xmpp(w, &host);
}

/// After `disable`: the unit stopped, the firewall rules and the onion gone.
fn disable_leaves_nothing(w: &World, host: &Host, service: &str, unit: &str, address: &str) {
    host.ok(&[service, "disable"]);
    assert_eq!(host.sys.active_state(unit), "inactive", "{unit}");
    assert!(!host.nft_rules().contains(&format!("tails-server:{service}")), "{}", host.nft_rules());
    assert!(!w.published(address), "the onion of {service} is gone");
    w.tor.client_key(address, None);
}

/// IRC (ngIRCd): two clients log in with the server password and see each
/// other's messages in a channel; a wrong password is refused.
fn irc(w: &World, host: &Host) {
    host.add_plugins(&["irc"]);
    host.ok(&["irc", "set-option", "server-password", "tails-irc-test"]);
    host.ok(&["irc", "set-option", "welcome-message", "Hello from the test host"]);
    host.ok(&["irc", "enable"]);
    assert_eq!(host.sys.active_state("ngircd.service"), "active");
    // The password's file: root's and the group ngircd runs as (User=irc), no one else's.
    assert_eq!(host.sys.sh("stat -c '%U:%G %a' /etc/ngircd/ngircd.conf").trim(), "root:irc 640");
    let address = reach(w, host, "irc");
    let mut alice = Irc::connect(w, &address, 6667);
    let welcome = alice.login("tails-irc-test", "alice").expect("alice is welcomed");
    assert!(welcome.contains("alice"), "{welcome}");
    alice.send("JOIN #tails");
    alice.until(|l| l.contains(" 366 ")).expect("alice joined");
    let mut bob = Irc::connect(w, &address, 6667);
    bob.login("tails-irc-test", "bob").expect("bob is welcomed");
    bob.send("JOIN #tails");
    bob.until(|l| l.contains(" 366 ")).expect("bob joined");
    let nonce = format!("nonce-{}", std::process::id());
    alice.send(&format!("PRIVMSG #tails :{nonce}"));
    let heard = bob.until(|l| l.contains("PRIVMSG #tails")).expect("bob hears alice");
    assert!(heard.starts_with(":alice") && heard.ends_with(&nonce), "{heard}");
    let mut mallory = Irc::connect(w, &address, 6667);
    let refused = mallory.login("guessed", "mallory").expect_err("a wrong password is refused");
    assert!(refused.contains("Access denied"), "{refused}");
    disable_leaves_nothing(w, host, "irc", "ngircd.service", &address);
}

/// An infinote client (Gobby's protocol, XMPP-like streams): what Gobby
/// sends, byte for byte, and every read bounded.
struct Infinote {
    stream: TcpStream,
    seen: String,
}

const STREAM: &str = r#"<stream:stream version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="tails">"#;

impl Infinote {
    /// Connect, authenticate with SASL PLAIN; Ok(welcome) or Err(what the server said).
    fn login(w: &World, address: &str, password: &str) -> Result<Infinote, String> {
        let stream = tornet::connect(w.tor.client_socks, address, 6523).unwrap_or_else(|code| panic!("SOCKS refused with {code:#x}"));
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut c = Infinote { stream, seen: String::new() };
        c.send(STREAM);
        c.until("</stream:features>")?;
        c.send(r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN"/>"#);
        c.until("<challenge")?;
        let credentials = base64(format!("\0gobby-test\0{password}").as_bytes());
        c.send(&format!(r#"<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">{credentials}</response>"#));
        let said = c.until_any(&["<success", "<failure"])?;
        if said.contains("<failure") {
            return Err(said);
        }
        c.send(STREAM);
        c.until("</welcome>")?;
        Ok(c)
    }

    fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).unwrap();
    }

    fn directory(&mut self, request: &str) {
        self.send(&format!(r#"<group name="InfDirectory" publisher="you">{request}</group>"#));
    }

    fn until(&mut self, wanted: &str) -> Result<String, String> {
        self.until_any(&[wanted])
    }

    /// Read until one of `wanted` has arrived (at most 1 MB); returns and
    /// forgets everything read up to the end of it.
    fn until_any(&mut self, wanted: &[&str]) -> Result<String, String> {
        loop {
            if let Some(end) = wanted.iter().filter_map(|x| self.seen.find(x).map(|i| i + x.len())).min() {
                let said: String = self.seen.drain(..end).collect();
                return Ok(said);
            }
            if self.seen.len() > 1 << 20 {
                return Err(format!("no {wanted:?} in 1 MB"));
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(format!("the server closed the connection after: {}", self.seen)),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) => return Err(format!("reading: {e} after: {}", self.seen)),
            }
        }
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// Gobby (infinoted): one client makes a document, another sees it in the
/// folder; a wrong password is refused; the document is on disk in the
/// service's folder; the password's file is root's alone.
fn gobby(w: &World, host: &Host) {
    host.add_plugins(&["gobby"]);
    host.ok(&["gobby", "set-option", "password", "tails-gobby-test"]);
    host.ok(&["gobby", "set-option", "autosave-seconds", "5"]);
    host.ok(&["gobby", "enable"]);
    assert_eq!(host.sys.active_state("tails-server-gobby.service"), "active");
    assert_eq!(host.sys.sh("stat -c '%U:%G %a' /etc/infinoted/infinoted.conf").trim(), "root:root 600");
    let address = reach(w, host, "gobby");

    let name = format!("notes-{}", std::process::id());
    let mut alice = Infinote::login(w, &address, "tails-gobby-test").expect("alice is let in");
    // infinoted aborts on add-node before the folder is explored: Gobby explores first.
    alice.directory(r#"<explore-node seq="0" id="0"/>"#);
    alice.until("<explore-end").unwrap();
    alice.directory(&format!(r#"<add-node seq="1" parent="0" type="InfText" name="{name}"/>"#));
    let added = alice.until("/>").unwrap();
    assert!(added.contains("<add-node") && added.contains(&name), "{added}");

    let mut bob = Infinote::login(w, &address, "tails-gobby-test").expect("bob is let in");
    bob.directory(r#"<explore-node seq="0" id="0"/>"#);
    let listing = bob.until("<explore-end").unwrap();
    assert!(listing.contains(&format!(r#"name="{name}""#)), "bob sees alice's document: {listing}");
    let refused = Infinote::login(w, &address, "guessed").err().expect("a wrong password is refused");
    assert!(refused.contains("not-authorized"), "{refused}");

    // On disk, in the data folder of the service's own user.
    let stored = host.sys.sh(&format!("ls /var/lib/private/gobby/documents/ 2>&1"));
    assert!(stored.contains(&format!("{name}.InfText")), "{stored}");
    disable_leaves_nothing(w, host, "gobby", "tails-server-gobby.service", &address);
}

/// Two XMPP clients (slixmpp, from Debian), registering in-band then logging
/// in, through the private Tor network; Ok(what bob received) or Err(why not).
fn xmpp_clients(w: &World, address: &str, nonce: &str, mode: &str) -> Result<String, String> {
    let client = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/xmpp.py");
    // Debian's python3: slixmpp is Debian's package.
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(client)
        .args([&w.tor.client_socks.to_string(), address, "5222", nonce, mode])
        .output()
        .expect("python3");
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        Ok(said)
    } else {
        Err(format!("{said}\n{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// XMPP (Prosody): alice and bob make their accounts at the onion address
/// and bob receives alice's message; with registration off, no new account.
fn xmpp(w: &World, host: &Host) {
    host.add_plugins(&["xmpp"]);
    host.ok(&["xmpp", "enable"]);
    assert_eq!(host.sys.active_state("prosody.service"), "active");
    let address = reach(w, host, "xmpp");
    let nonce = format!("xmpp-{}", std::process::id());
    let received = xmpp_clients(w, &address, &nonce, "register").expect("alice and bob register and talk");
    assert_eq!(received, format!("received {nonce}"));
    // The accounts are prosody's, at the onion's name (prosody encodes '.' as %2e).
    let accounts = host.sys.sh(&format!("ls /var/lib/prosody/{}/accounts/", address.replace('.', "%2e")));
    assert!(accounts.contains("alice.dat") && accounts.contains("bob.dat"), "{accounts}");

    host.ok(&["xmpp", "set-option", "registration", "false"]);
    assert_eq!(host.sys.active_state("prosody.service"), "active");
    let login = xmpp_clients(w, &address, &nonce, "login").expect("existing accounts still log in");
    assert_eq!(login, format!("received {nonce}"));
    let refused = xmpp_clients(w, &address, "newcomer", "register").expect_err("no new accounts");
    assert!(refused.contains("registration refused") || refused.contains("failed"), "{refused}");
    disable_leaves_nothing(w, host, "xmpp", "prosody.service", &address);
}

/// Persistence on for the services whose data is the point (accounts and
/// messages, documents), a power cut, a new host over the same Persistent
/// Storage: autostart brings them back at the same addresses, with the data.
pub fn catalog_data_survives_a_reboot(w: &World) {
    let storage = tempfile::tempdir_in("/var/tmp").unwrap();
    let services = ["xmpp", "gobby"];
    let nonce = format!("kept-{}", std::process::id());
    let addresses: Vec<String> = {
        let a = super::reboot::boot(w, storage.path());
        a.add_plugins(&services);
        for service in services {
            a.ok(&[service, "set-option", "persistence", "true"]);
            a.ok(&[service, "set-option", "autostart", "true"]);
        }
        a.ok(&["gobby", "set-option", "password", "kept-password"]);
        for service in services {
            a.ok(&[service, "enable"]);
        }
        let xmpp = reach(w, &a, "xmpp");
        assert_eq!(xmpp_clients(w, &xmpp, &nonce, "register").unwrap(), format!("received {nonce}"));
        let gobby = reach(w, &a, "gobby");
        let mut alice = Infinote::login(w, &gobby, "kept-password").expect("let in");
        alice.directory(r#"<explore-node seq="0" id="0"/>"#);
        alice.until("<explore-end").unwrap();
        alice.directory(&format!(r#"<add-node seq="1" parent="0" type="InfText" name="{nonce}"/>"#));
        alice.until("<add-node").unwrap();
        vec![xmpp, gobby]
    }; // power cut
    let b = super::reboot::boot(w, storage.path());
    for (service, address) in services.iter().zip(&addresses) {
        assert_eq!(b.info(service)["address"], address.as_str(), "{service}: same onion address");
        w.tor.client_key(address, None);
        reach(w, &b, service);
    }
    assert_eq!(b.sys.active_state("prosody.service"), "active");
    assert_eq!(xmpp_clients(w, &addresses[0], &nonce, "login").expect("the accounts are kept"), format!("received {nonce}"));
    let mut bob = Infinote::login(w, &addresses[1], "kept-password").expect("the password is kept");
    bob.directory(r#"<explore-node seq="0" id="0"/>"#);
    let listing = bob.until("<explore-end").unwrap();
    assert!(listing.contains(&format!(r#"name="{nonce}""#)), "the document is kept: {listing}");
    for (service, address) in services.iter().zip(&addresses) {
        b.ok(&[service, "disable"]);
        w.tor.client_key(address, None);
    }
}
