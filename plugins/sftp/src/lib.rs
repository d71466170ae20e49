//! SFTP: one shared folder that the people whose SSH public keys the owner
//! adds reach with any SFTP client (OpenSSH's `sftp`, FileZilla, GNOME
//! Files), read-write or read-only. Served by rclone's SFTP server, run by a
//! unit the host writes as a user of its own.
//!
//! Why not a second sshd: sshd's `ChrootDirectory` needs root, and a service
//! never runs as root. An sshd run as an ordinary user would show an SFTP
//! client the whole (read-only) system. rclone serves the one folder it is
//! given and nothing above it, speaks no shell (only checksums and `df`), and
//! takes keys only: a password is never accepted (rclone checks one only when
//! it is given both a user and a password, and this plugin gives neither).

use tails_server_sdk::{
    config, export, invalid, network, Capabilities, ConnectionRequest, ConnectionText, Error, OptionSetting, OptionSpec,
    OptionValue, Options, PortRequest, Protocol, Service, ServiceInfo, ServiceUnit, UnitSpec,
};

const KEYS: &str = "/etc/sftp-share/authorized_keys";
const DATA: &str = "/var/lib/sftp/";
const SHARE: &str = "/var/lib/sftp/share/";
/// rclone makes the server's host keys (RSA, ECDSA, Ed25519) at its first
/// start, in `serve-sftp/` under its cache folder, and reuses them after.
const HOST_KEYS: &str = "/var/lib/sftp/keys/";
const PORT: u16 = 2022;
const MAX_KEYS: usize = 50;

/// The key types OpenSSH makes and rclone's server accepts.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Standard base64 (with `=` padding) decoded; None when it is not that.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let body = text.trim_end_matches('=');
    if bytes.len() - body.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in body.as_bytes() {
        acc = (acc << 6) | u32::from(value(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// One public key as a line of an authorized_keys file (`TYPE BASE64
/// [name]`), or what is wrong with it. The key's blob must name the same
/// type as its first word, as OpenSSH writes it; options (`command=`…) are
/// not accepted.
fn key_line(entry: &str) -> Result<String, String> {
    let mut words = entry.split_whitespace();
    let kind = words.next().unwrap_or("");
    if !KEY_TYPES.contains(&kind) {
        return Err(format!(
            "a key must start with its type ({}), as in the .pub file",
            KEY_TYPES.join(", ")
        ));
    }
    let blob = words.next().and_then(base64_decode).ok_or("a key's second word must be the key itself (base64)")?;
    let named = blob.get(..4).map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize).and_then(|n| blob.get(4..4 + n));
    if named != Some(kind.as_bytes()) {
        return Err(format!("the key after `{kind}` is not an {kind} key (copied only in part?)"));
    }
    let name: Vec<&str> = words.collect();
    let body = entry.split_whitespace().nth(1).unwrap_or_default();
    Ok(if name.is_empty() { format!("{kind} {body}") } else { format!("{kind} {body} {}", name.join(" ")) })
}

/// The keys of the `keys` option: entries separated by commas.
fn key_lines(value: &str) -> Result<Vec<String>, String> {
    let entries: Vec<&str> = value.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
    if entries.len() > MAX_KEYS {
        return Err(format!("at most {MAX_KEYS} keys"));
    }
    entries.iter().enumerate().map(|(i, e)| key_line(e).map_err(|why| format!("key {}: {why}", i + 1))).collect()
}

struct Sftp;

impl Service for Sftp {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "sftp".into(),
            name_in_gui: Some("SFTP Share".into()),
            description: "A shared folder for the people whose SSH keys you add, reached with an SFTP client (rclone)".into(),
            client_application: "sftp (OpenSSH) through Tor".into(),
            client_application_in_gui: Some("An SFTP client (sftp, FileZilla) through Tor".into()),
            documentation: "https://rclone.org/commands/rclone_serve_sftp/".into(),
            unit: ServiceUnit::HostWritten(
                UnitSpec::new("/usr/bin/rclone")
                    .arg("serve")
                    .arg("sftp")
                    .arg(SHARE)
                    .arg("--addr")
                    .arg("{listen-address}:{target-port}")
                    .arg("--authorized-keys")
                    .arg(KEYS)
                    .arg("--read-only={read-only}")
                    .arg("--cache-dir")
                    .arg(HOST_KEYS)
                    // No rclone configuration: it serves a local folder.
                    .arg("--config")
                    .arg("/dev/null")
                    .data_folder(DATA)
                    .setup_command(&["/usr/bin/mkdir", "-p", SHARE]),
            ),
            default_target_port: PORT,
            default_virtual_port: Some(22),
            icon_name: "folder-remote".into(),
            persistent_paths: vec![SHARE.into(), HOST_KEYS.into()],
            options: vec![
                OptionSpec::text(
                    "keys",
                    "People's SSH keys",
                    "The public keys of the people who may connect, each the line of their .pub file (ssh-ed25519 AAAA… name), separated by commas",
                    "",
                ),
                OptionSpec::boolean("read-only", "Read-only", "People may download but not upload, rename or delete", false),
            ],
            capabilities: Capabilities {
                packages: vec!["rclone".into()],
                npm_packages: vec![],
                config_paths: vec![KEYS.into()],
                ports: vec![PortRequest::tcp(PORT, "the shared folder (SFTP)")],
            },
        }
    }

    fn validate_option(name: String, value: OptionValue, _onion_address: String) -> Result<(), Error> {
        match (name.as_str(), &value) {
            ("keys", OptionValue::Text(keys)) => key_lines(keys).map(|_| ()).map_err(invalid),
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let lines = key_lines(o.text("keys")).map_err(invalid)?;
        // rclone would refuse to start with none; say what to do instead.
        if lines.is_empty() {
            return Err(invalid("no one could connect: set `keys` to the public key of at least one person (tails-server sftp set-option keys \"ssh-ed25519 AAAA… name\")"));
        }
        let file = format!("# Written by Tails Server from the sftp service's `keys` option; edits are replaced.\n{}\n", lines.join("\n"));
        // Who may connect is the owner's business: root and the service's own group only.
        config::write(KEYS, &file, true)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let o = Options(&request.options);
        let (address, port) = (&request.address, request.virtual_port);
        let access = if o.boolean("read-only") { "read-only" } else { "read and write" };
        let port_flag = if port == 22 { String::new() } else { format!("-P {port} ") };
        ConnectionText {
            text: format!(
                "SFTP: {address}, port {port} ({access}); any user name, your key is what lets you in.\n\
                 On Tails: torsocks sftp {port_flag}share@{address}\n\
                 Elsewhere, through Tor's SOCKS port: sftp {port_flag}-o ProxyCommand='nc -X 5 -x 127.0.0.1:9050 %h %p' share@{address}\n"
            ),
            gui_text: format!(
                "Connect an SFTP client through Tor to <tt>{address}</tt>, port {port} ({access}), with the SSH key you gave.\n\
                 On Tails: <tt>torsocks sftp {port_flag}share@{address}</tt>"
            ),
        }
    }
}

export!(Sftp);

