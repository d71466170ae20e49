//! Mumble: a low-latency voice chat server (mumble-server, formerly murmur).

use tails_server_sdk::{
    config, export, invalid, network, standard, Capabilities, ConnectionRequest, ConnectionText,
    Error, OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol, Service,
    ServiceInfo, ServiceUnit,
};

/// Where mumble-server 1.5 (Debian 13) reads its configuration: its unit
/// runs `mumble-server -ini /etc/mumble/mumble-server.ini`. (1.3 read
/// /etc/mumble-server.ini; a file there is ignored now.)
#[cfg(not(feature = "tails6"))]
const CONFIG: &str = "/etc/mumble/mumble-server.ini";
/// The Tails 6 release's (Debian 12, mumble 1.3), kept for the migration
/// test, which keeps a server with that release and boots it on Tails 7.
#[cfg(feature = "tails6")]
const CONFIG: &str = "/etc/mumble-server.ini";
const DATA: &str = "/var/lib/mumble-server/";
const PORT: u16 = 64738;

struct Mumble;

impl Service for Mumble {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "mumble".into(),
            name_in_gui: Some("Mumble".into()),
            description: "A low-latency, high quality voice chat server".into(),
            client_application: "mumble".into(),
            client_application_in_gui: Some("Mumble".into()),
            documentation: "https://www.mumble.info/documentation/".into(),
            unit: ServiceUnit::Packaged("mumble-server.service".into()),
            default_target_port: PORT,
            default_virtual_port: None,
            icon_name: "mumble".into(),
            persistent_paths: vec![CONFIG.into(), DATA.into()],
            options: vec![
                OptionSpec::secret(
                    "server-password",
                    "Server password",
                    "Password that clients must enter to connect",
                ),
                OptionSpec::text(
                    "welcome-message",
                    "Welcome message",
                    "Shown to clients when they connect (one line; simple HTML allowed)",
                    "Welcome to this Mumble server running on Tails.",
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
                packages: vec!["mumble-server".into()],
                npm_packages: vec![],
                // The data folder is declared so that consent says Persistent
                // Storage keeps it; the plugin itself only writes CONFIG.
                config_paths: vec![CONFIG.into(), DATA.into()],
                ports: vec![
                    PortRequest::tcp(PORT, "voice chat (control)"),
                    PortRequest::udp(PORT, "voice chat (audio)"),
                ],
            },
        }
    }

    fn validate_option(
        name: String,
        value: OptionValue,
        _onion_address: String,
    ) -> Result<(), Error> {
        match (name.as_str(), &value) {
            (
                "welcome-message" | "server-password",
                OptionValue::Text(s) | OptionValue::Secret(s),
            ) => {
                if s.chars().any(char::is_control) {
                    return Err(invalid("must be a single line without control characters"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let ini = format!(
            "; Written by Tails Server from the mumble service's options; edits are replaced.\n\
             database=/var/lib/mumble-server/mumble-server.sqlite\n\
             logfile=/var/log/mumble-server/mumble-server.log\n\
             pidfile=/run/mumble-server/mumble-server.pid\n\
             uname=mumble-server\n\
             host={host}\n\
             port={port}\n\
             serverpassword={password}\n\
             users={users}\n\
             welcometext={welcome}\n\
             bandwidth=72000\n\
             ; No public server list, no Bonjour: the server is reached through Tor only.\n\
             registerName=\n\
             bonjour=false\n\
             sendversion=false\n\
             \n[Ice]\nIce.Warn.UnknownProperties=1\nIce.MessageSizeMax=65536\n",
            host = o.text(standard::LISTEN_ADDRESS),
            port = o.port(standard::TARGET_PORT),
            password = quote(o.text("server-password")),
            users = o.integer("max-users"),
            welcome = quote(o.text("welcome-message")),
        );
        // The file holds the server password: not readable by others.
        config::write(CONFIG, &ini, true)?;
        network::open_port(PORT, Protocol::Tcp)?;
        network::open_port(PORT, Protocol::Udp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let o = Options(&request.options);
        let url = format!("mumble://{}:{}/?version=1.2.0", request.address, request.virtual_port);
        let password = o.text("server-password");
        ConnectionText {
            text: format!("Mumble: {url}\nServer password: {password}\n"),
            gui_text: format!(
                "Open <a href=\"{url}\">{url}</a> in Mumble.\nServer password: <tt>{password}</tt>"
            ),
        }
    }
}

/// A Qt settings string: quoted, with `\` and `"` escaped.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

export!(Mumble);
