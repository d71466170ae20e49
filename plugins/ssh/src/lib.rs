//! SSH: a shell on this computer for the people whose public keys the owner
//! adds, from OpenSSH's sshd: an instance of its own, with its own
//! configuration, port and host keys, never the system's (`/etc/ssh` is
//! neither read nor changed).
//!
//! No service runs as root, so this sshd runs as the service's login account
//! (contract 0.4's `login-shell`): it can let in only that account, and the
//! shell it gives runs under the unit's confinement (the system read-only but
//! the home folder, no privileges to gain, only this computer to talk to).
//! Passwords are off: keys only.

use tails_server_sdk::{
    config, export, network, ssh, standard, Capabilities, ConnectionRequest, ConnectionText, Error,
    OptionSetting, OptionValue, Options, PortRequest, Protocol, Service, ServiceInfo, ServiceUnit,
    UnitSpec,
};

const CONFIG: &str = "/etc/ssh-onion/sshd_config";
const KEYS: &str = "/etc/ssh-onion/authorized_keys";
/// The login account's home and the service's data folder.
const HOME: &str = "/var/lib/ssh/";
/// `ssh-keygen -A -f PREFIX` makes the host keys that are missing, in PREFIX/etc/ssh/.
const HOST_KEY_PREFIX: &str = "/var/lib/ssh/host";
const HOST_KEYS: &str = "/var/lib/ssh/host/etc/ssh/";
const PORT: u16 = 2222;

struct Ssh;

impl Service for Ssh {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "ssh".into(),
            name_in_gui: Some("SSH".into()),
            description: "A shell on this computer for the people whose SSH keys you add (OpenSSH), confined to its own folder".into(),
            client_application: "ssh (OpenSSH) through Tor".into(),
            client_application_in_gui: Some("ssh, through Tor".into()),
            documentation: "https://man.openbsd.org/sshd_config".into(),
            unit: ServiceUnit::HostWritten(
                UnitSpec::new("/usr/sbin/sshd")
                    .arg("-D")
                    .arg("-e")
                    .arg("-f")
                    .arg(CONFIG)
                    .data_folder(HOME)
                    .login_shell()
                    .setup_command(&["/usr/bin/mkdir", "-p", HOST_KEYS])
                    .setup_command(&["/usr/bin/ssh-keygen", "-A", "-f", HOST_KEY_PREFIX]),
            ),
            default_target_port: PORT,
            default_virtual_port: Some(22),
            icon_name: "utilities-terminal".into(),
            persistent_paths: vec![HOME.into()],
            options: vec![ssh::keys_option("log in")],
            capabilities: Capabilities {
                packages: vec!["openssh-server".into()],
                npm_packages: vec![],
                config_paths: vec![CONFIG.into(), KEYS.into()],
                ports: vec![PortRequest::tcp(PORT, "a shell (SSH)")],
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
        let keys = ssh::authorized_keys_file("ssh", &o)?;
        let host_keys: String = ["ed25519", "ecdsa", "rsa"]
            .iter()
            .map(|t| format!("HostKey {HOST_KEYS}ssh_host_{t}_key\n"))
            .collect();
        let conf = format!(
            "# Written by Tails Server from the ssh service's options; edits are replaced.\n\
             # An sshd of its own, run as the service's login account: not /etc/ssh's.\n\
             Port {port}\n\
             ListenAddress {host}\n\
             {host_keys}\
             PidFile none\n\
             AllowUsers {user}\n\
             AuthorizedKeysFile {KEYS}\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             PermitRootLogin no\n\
             StrictModes yes\n\
             # A shell, not a tunnel: no forwarding of any kind.\n\
             AllowTcpForwarding no\n\
             AllowStreamLocalForwarding no\n\
             AllowAgentForwarding no\n\
             X11Forwarding no\n\
             PermitTunnel no\n\
             GatewayPorts no\n\
             PermitUserEnvironment no\n\
             PrintMotd no\n\
             # Every Tor client comes from 127.0.0.1: OpenSSH's penalties per\n\
             # source address (on by default since 9.8) would let one visitor's\n\
             # failed logins lock everyone out.\n\
             PerSourcePenalties no\n\
             Subsystem sftp internal-sftp\n",
            port = o.port(standard::TARGET_PORT),
            host = o.text(standard::LISTEN_ADDRESS),
            user = o.text(standard::LOGIN_USER),
        );
        config::write(CONFIG, &conf, false)?;
        config::write(KEYS, &keys, true)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let o = Options(&request.options);
        let (address, port, user) =
            (&request.address, request.virtual_port, o.text(standard::LOGIN_USER));
        let port_flag = if port == 22 { String::new() } else { format!("-p {port} ") };
        ConnectionText {
            text: format!(
                "SSH: {user}@{address}, port {port}, with the key you gave (no passwords).\n\
                 On Tails: torsocks ssh {port_flag}{user}@{address}\n\
                 Elsewhere, through Tor's SOCKS port: ssh {port_flag}-o ProxyCommand='nc -X 5 -x 127.0.0.1:9050 %h %p' {user}@{address}\n"
            ),
            gui_text: format!("In a terminal, through Tor: <tt>torsocks ssh {port_flag}{user}@{address}</tt>, with the SSH key you gave."),
        }
    }
}

export!(Ssh);
