//! The firewall: what allow-lan and allow-localhost open for each enabled
//! service's granted ports.
//!
//! The whole ruleset is rebuilt from the services' state and applied in one
//! transaction each time, so a crash cannot leave a stray rule that the next
//! run does not replace, and every rule carries our tag (`tails-server:NAME`).
//!
//! - nftables (off Tails): a table of our own, `inet tails_server`. An accept
//!   there cannot override a drop in another table's base chain, so allow-lan
//!   says when another table drops incoming packets. Without allow-lan we add
//!   a drop for the port from every interface but `lo` (a drop wins anywhere).
//! - iptables (Tails, whose ferm policy drops what it does not accept): chains
//!   of our own, jumped to from the top of INPUT (LAN) and OUTPUT (localhost,
//!   for the desktop user `amnesia`). In the tables ferm loads Tails' policy
//!   into: ferm prefers the legacy xtables tools where they are installed
//!   (Debian 13's `iptables` is the nft one), and a rule in the other
//!   tables could not let through what the policy drops.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _, Result};

use super::Proto;

pub const TAG: &str = "tails-server";
const NFT_TABLE: &str = "tails_server";
const IPT_IN: &str = "TAILS-SERVER-IN";
const IPT_OUT: &str = "TAILS-SERVER-OUT";
/// Tails' desktop user.
const DESKTOP_USER: &str = "amnesia";

/// What one enabled service needs from the firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub service: String,
    pub ports: Vec<(u16, Proto)>,
    pub lan: bool,
    pub localhost: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Nftables,
    Iptables,
}

impl Backend {
    /// iptables on Tails (its ferm policy), nftables elsewhere;
    /// `TAILS_SERVER_FIREWALL=nftables|iptables` chooses.
    pub fn detect() -> Result<Backend> {
        match std::env::var("TAILS_SERVER_FIREWALL").as_deref() {
            Ok("nftables") => Ok(Backend::Nftables),
            Ok("iptables") => Ok(Backend::Iptables),
            Ok(other) => {
                bail!("TAILS_SERVER_FIREWALL={other:?}: expected `nftables` or `iptables`")
            }
            Err(_) if super::on_tails() => Ok(Backend::Iptables),
            Err(_) => Ok(Backend::Nftables),
        }
    }
}

fn tag(service: &str) -> String {
    format!("{TAG}:{service}")
}

/// Apply exactly `openings` (and nothing else of ours) in one transaction.
pub fn apply(backend: Backend, openings: &[Opening]) -> Result<()> {
    match backend {
        Backend::Nftables => run_stdin("nft", &["-f", "-"], &nft_ruleset(openings)),
        Backend::Iptables => apply_iptables(openings),
    }
}

/// The nftables script: create-then-delete makes the delete safe when the
/// table is missing; the new table follows in the same transaction.
pub fn nft_ruleset(openings: &[Opening]) -> String {
    let mut s = format!("table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}\n");
    if openings.is_empty() {
        return s;
    }
    let tor_uid = uid_of("debian-tor");
    let trusted = match tor_uid {
        Some(uid) => format!("{{ 0, {uid} }}"),
        None => "{ 0 }".into(),
    };
    let (mut input, mut output) = (String::new(), String::new());
    for o in openings {
        let comment = tag(&o.service);
        for (port, proto) in &o.ports {
            let verdict = if o.lan { "accept" } else { "drop" };
            input += &format!(
                "    iifname != \"lo\" {proto} dport {port} {verdict} comment \"{comment}\"\n"
            );
            if o.localhost {
                output += &format!(
                    "    oifname \"lo\" {proto} dport {port} accept comment \"{comment}\"\n"
                );
            } else {
                // Only root (the host) and tor may reach it on this machine.
                output += &format!("    oifname \"lo\" {proto} dport {port} meta skuid != {trusted} reject comment \"{comment}\"\n");
            }
        }
    }
    s += &format!(
        "table inet {NFT_TABLE} {{\n  chain input {{\n    type filter hook input priority filter - 5; policy accept;\n{input}  }}\n  \
         chain output {{\n    type filter hook output priority filter - 5; policy accept;\n{output}  }}\n}}\n"
    );
    s
}

/// The iptables rules of our chains, for `iptables-restore --noflush` (a
/// chain line flushes that chain; the commit is atomic).
/// `desktop_uid`: Tails' desktop user (`amnesia`), whom allow-localhost lets
/// reach the port; without one there is no such rule to add.
pub fn iptables_rules(openings: &[Opening], desktop_uid: Option<u32>) -> String {
    let mut s = format!("*filter\n:{IPT_IN} - [0:0]\n:{IPT_OUT} - [0:0]\n");
    for o in openings {
        let comment = tag(&o.service);
        for (port, proto) in &o.ports {
            if o.lan {
                s += &format!("-A {IPT_IN} ! -i lo -p {proto} --dport {port} -m comment --comment \"{comment}\" -j ACCEPT\n");
            }
            if let (true, Some(uid)) = (o.localhost, desktop_uid) {
                s += &format!(
                    "-A {IPT_OUT} -o lo -p {proto} --dport {port} -m owner --uid-owner {uid} -m comment --comment \"{comment}\" -j ACCEPT\n"
                );
            }
        }
    }
    s + "COMMIT\n"
}

/// The xtables tool ferm uses (`iptables` → `iptables-legacy` where it
/// exists, as ferm chooses), so that our chains are beside Tails' policy.
fn xtables(tool: &str) -> String {
    let legacy = tool.replacen("iptables", "iptables-legacy", 1);
    let found =
        ["/usr/sbin", "/sbin"].iter().any(|dir| std::path::Path::new(dir).join(&legacy).exists());
    if found {
        legacy
    } else {
        tool.to_string()
    }
}

fn apply_iptables(openings: &[Opening]) -> Result<()> {
    let (iptables, restore) = (xtables("iptables"), xtables("iptables-restore"));
    let jumps = [("INPUT", IPT_IN), ("OUTPUT", IPT_OUT)];
    if openings.is_empty() {
        for (chain, ours) in jumps {
            let jump = ["-j", ours, "-m", "comment", "--comment", TAG];
            while Command::new(&iptables)
                .args(["-w", "-C", chain])
                .args(jump)
                .output()
                .is_ok_and(|o| o.status.success())
            {
                run(&iptables, &[&["-w", "-D", chain][..], &jump[..]].concat())?;
            }
            // The chain may not exist: that is the clean state already.
            let _ = Command::new(&iptables).args(["-w", "-F", ours]).output();
            let _ = Command::new(&iptables).args(["-w", "-X", ours]).output();
        }
        return Ok(());
    }
    let mut rules = iptables_rules(openings, uid_of(DESKTOP_USER));
    for (chain, ours) in jumps {
        let present = Command::new(&iptables)
            .args(["-w", "-C", chain, "-j", ours, "-m", "comment", "--comment", TAG])
            .output()
            .is_ok_and(|o| o.status.success());
        if !present {
            rules = rules.replace(
                "COMMIT\n",
                &format!("-I {chain} 1 -j {ours} -m comment --comment {TAG}\nCOMMIT\n"),
            );
        }
    }
    run_stdin(&restore, &["-w", "--noflush"], &rules)
}

/// Base input chains of other nftables tables whose policy is drop: they drop
/// what our table accepts. Empty when nft cannot tell.
pub fn other_dropping_tables() -> Vec<String> {
    let Ok(out) = Command::new("nft").args(["list", "ruleset"]).output() else { return Vec::new() };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut table = String::new();
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("table ") {
            table = rest.trim_end_matches(" {").to_string();
        } else if line.contains("hook input")
            && line.contains("policy drop")
            && !table.ends_with(NFT_TABLE)
        {
            found.push(table.clone());
        }
    }
    found
}

fn uid_of(user: &str) -> Option<u32> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == user).then(|| f.nth(1)?.parse().ok()).flatten()
    })
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn run_stdin(program: &str, args: &[&str], input: &str) -> Result<()> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {program} (is it installed?)"))?;
    child.stdin.take().expect("piped").write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{program} refused the firewall rules: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(lan: bool, localhost: bool) -> Opening {
        Opening { service: "web".into(), ports: vec![(8080, Proto::Tcp)], lan, localhost }
    }

    #[test]
    fn nft_ruleset_follows_the_options() {
        let empty = nft_ruleset(&[]);
        assert_eq!(empty, "table inet tails_server\ndelete table inet tails_server\n");
        let lan = nft_ruleset(&[web(true, true)]);
        assert!(
            lan.contains("iifname != \"lo\" tcp dport 8080 accept comment \"tails-server:web\""),
            "{lan}"
        );
        assert!(lan.contains("oifname \"lo\" tcp dport 8080 accept"), "{lan}");
        let closed = nft_ruleset(&[web(false, false)]);
        assert!(
            closed.contains("iifname != \"lo\" tcp dport 8080 drop comment \"tails-server:web\""),
            "{closed}"
        );
        assert!(closed.contains("meta skuid != { 0"), "{closed}");
        // Every rule line carries the tag.
        for line in closed.lines().filter(|l| l.contains("dport")) {
            assert!(line.contains("comment \"tails-server:web\""), "{line}");
        }
    }

    #[test]
    fn iptables_rules_open_only_what_is_allowed() {
        let mumble = Opening {
            service: "mumble".into(),
            ports: vec![(64738, Proto::Udp)],
            lan: false,
            localhost: true,
        };
        let rules = iptables_rules(&[web(true, false), mumble.clone()], Some(1000));
        assert!(rules.contains("-A TAILS-SERVER-IN ! -i lo -p tcp --dport 8080 -m comment --comment \"tails-server:web\" -j ACCEPT"), "{rules}");
        assert!(!rules.contains("-A TAILS-SERVER-OUT -o lo -p tcp --dport 8080"), "{rules}");
        assert!(
            rules.contains(
                "-A TAILS-SERVER-OUT -o lo -p udp --dport 64738 -m owner --uid-owner 1000"
            ),
            "{rules}"
        );
        assert!(!rules.contains("-A TAILS-SERVER-IN ! -i lo -p udp --dport 64738"), "{rules}");
        // No desktop user: no localhost rule.
        assert!(!iptables_rules(&[mumble], None).contains("TAILS-SERVER-OUT -o lo"));
        assert!(rules.ends_with("COMMIT\n"));
    }
}
