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
    config, export, network, ssh, Capabilities, ConnectionRequest, ConnectionText, Error,
    OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol, Service, ServiceInfo,
    ServiceUnit, UnitSpec,
};

const KEYS: &str = "/etc/sftp-share/authorized_keys";
const DATA: &str = "/var/lib/sftp/";
const SHARE: &str = "/var/lib/sftp/share/";
/// rclone makes the server's host keys (RSA, ECDSA, Ed25519) at its first
/// start, in `serve-sftp/` under its cache folder, and reuses them after.
const HOST_KEYS: &str = "/var/lib/sftp/keys/";
const PORT: u16 = 2022;
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
                ssh::keys_option("connect"),
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

    fn validate_option(
        name: String,
        value: OptionValue,
        _onion_address: String,
    ) -> Result<(), Error> {
        match (name.as_str(), &value) {
            (ssh::KEYS, OptionValue::Text(keys)) => ssh::validate_keys(keys),
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let file = ssh::authorized_keys_file("sftp", &o)?;
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
