//! IRC: a chat server (ngIRCd) that only people with the address and the
//! server password can join. Every client arrives through Tor, so from
//! 127.0.0.1: the per-address limits are lifted, and the server is named
//! after its own onion address (an IRC server name needs a dot).

use tails_server_sdk::{
    config, export, invalid, network, standard, Capabilities, ConnectionRequest, ConnectionText,
    Error, OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol, Service,
    ServiceInfo, ServiceUnit,
};

const CONFIG: &str = "/etc/ngircd/ngircd.conf";
const PORT: u16 = 6667;

struct Irc;

impl Service for Irc {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "irc".into(),
            name_in_gui: Some("IRC Chat".into()),
            description: "A chat server for IRC clients (ngIRCd), joined with a server password"
                .into(),
            client_application: "an IRC client (HexChat, irssi) using Tor".into(),
            client_application_in_gui: Some("HexChat".into()),
            documentation: "https://ngircd.barton.de/documentation.php.en".into(),
            unit: ServiceUnit::Packaged("ngircd.service".into()),
            default_target_port: PORT,
            default_virtual_port: None,
            icon_name: "internet-chat".into(),
            persistent_paths: vec![CONFIG.into()],
            options: vec![
                OptionSpec::secret(
                    "server-password",
                    "Server password",
                    "Password every client must give to connect",
                ),
                OptionSpec::text(
                    "welcome-message",
                    "Welcome message",
                    "Shown to clients when they connect (one line)",
                    "Welcome to this IRC server running on Tails.",
                ),
                OptionSpec::integer(
                    "max-users",
                    "Maximum users",
                    "How many clients may be connected at once",
                    1,
                    1000,
                    100,
                ),
            ],
            capabilities: Capabilities {
                packages: vec!["ngircd".into()],
                npm_packages: vec![],
                config_paths: vec![CONFIG.into()],
                ports: vec![PortRequest::tcp(PORT, "chat (IRC)")],
            },
        }
    }

    fn validate_option(
        name: String,
        value: OptionValue,
        _onion_address: String,
    ) -> Result<(), Error> {
        match (name.as_str(), &value) {
            // Given as `PASS <password>`: one word of printable ASCII.
            ("server-password", OptionValue::Secret(s))
                if s.is_empty() || s.len() > 64 || !s.chars().all(|c| c.is_ascii_graphic()) =>
            {
                Err(invalid("must be 1 to 64 printable ASCII characters without spaces"))
            }
            ("welcome-message", OptionValue::Text(s))
                if s.len() > 300 || s.chars().any(char::is_control) =>
            {
                Err(invalid("must be one line of at most 300 characters"))
            }
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let conf = format!(
            "# Written by Tails Server from the irc service's options; edits are replaced.\n\
             [Global]\n\
             \tName = {name}\n\
             \tInfo = IRC on Tails Server\n\
             \tListen = {host}\n\
             \tPorts = {port}\n\
             \tPassword = {password}\n\
             \tMotdPhrase = {welcome}\n\
             \tPidFile = /run/ngircd/ngircd.pid\n\
             \tServerUID = irc\n\
             \tServerGID = irc\n\
             [Limits]\n\
             \tMaxConnections = {users}\n\
             # Every client comes through Tor, from 127.0.0.1.\n\
             \tMaxConnectionsIP = 0\n\
             \tMaxJoins = 10\n\
             [Options]\n\
             \tPAM = no\n\
             \tDNS = no\n\
             \tIdent = no\n\
             \tMorePrivacy = yes\n\
             \tOperCanUseMode = no\n",
            name = o.text(standard::ONION_ADDRESS),
            host = o.text(standard::LISTEN_ADDRESS),
            port = o.port(standard::TARGET_PORT),
            password = o.text("server-password"),
            welcome = o.text("welcome-message"),
            users = o.integer("max-users"),
        );
        // The file holds the server password: root's and ngircd's group's only.
        config::write(CONFIG, &conf, true)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let o = Options(&request.options);
        let url = format!("irc://{}:{}/", request.address, request.virtual_port);
        let password = o.text("server-password");
        ConnectionText {
            text: format!(
                "IRC: {url}\nServer password: {password}\n\
                 In the IRC client, use Tor's SOCKS proxy (on Tails 127.0.0.1:9050) and no TLS (the onion already encrypts).\n"
            ),
            gui_text: format!(
                "Connect an IRC client such as HexChat to <tt>{url}</tt> through Tor's SOCKS proxy (127.0.0.1:9050), without TLS.\n\
                 Server password: <tt>{password}</tt>"
            ),
        }
    }
}

export!(Irc);
