//! The service catalog, each service driven by its real client through the
//! private Tor network with the client's key, in one host boot.

use std::io::{BufRead, BufReader, Write};
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

    // IRC (ngIRCd): two clients log in with the server password and see each
    // other's messages in a channel; a wrong password is refused.
    host.add_plugins(&["irc"]);
    host.ok(&["irc", "set-option", "server-password", "tails-irc-test"]);
    host.ok(&["irc", "set-option", "welcome-message", "Hello from the test host"]);
    host.ok(&["irc", "enable"]);
    assert_eq!(host.sys.active_state("ngircd.service"), "active");
    // The password's file: root's and the group ngircd runs as (User=irc), no one else's.
    assert_eq!(host.sys.sh("stat -c '%U:%G %a' /etc/ngircd/ngircd.conf").trim(), "root:irc 640");
    let address = reach(w, &host, "irc");
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

    host.ok(&["irc", "disable"]);
    assert_eq!(host.sys.active_state("ngircd.service"), "inactive");
    assert!(!host.nft_rules().contains("tails-server:irc"), "{}", host.nft_rules());
    assert!(!w.published(&address), "the onion is gone");
    w.tor.client_key(&address, None);
}
