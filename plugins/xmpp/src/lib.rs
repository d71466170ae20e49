//! XMPP: an instant-messaging server (Prosody) whose domain is the
//! service's own onion address, so that accounts are `name@ADDRESS.onion`.
//!
//! The server talks only to its own clients (no server-to-server), and
//! without TLS: inside an onion service the connection is already encrypted
//! end to end and the address is the server's key, while a certificate for an
//! onion name could only be self-signed, which teaches people to accept
//! warnings. Clients are told to allow a plain connection.

use tails_server_sdk::{
    config, export, network, standard, Capabilities, ConnectionRequest, ConnectionText, Error,
    OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol, Service, ServiceInfo,
    ServiceUnit,
};

const CONFIG: &str = "/etc/prosody/prosody.cfg.lua";
const DATA: &str = "/var/lib/prosody/";
const PORT: u16 = 5222;

struct Xmpp;

impl Service for Xmpp {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "xmpp".into(),
            name_in_gui: Some("XMPP Chat".into()),
            description: "An instant-messaging server (Prosody) for XMPP clients, with accounts at its onion address".into(),
            client_application: "an XMPP client using Tor (Pidgin, Gajim, Dino)".into(),
            client_application_in_gui: Some("Pidgin".into()),
            documentation: "https://prosody.im/doc".into(),
            unit: ServiceUnit::Packaged("prosody.service".into()),
            default_target_port: PORT,
            default_virtual_port: None,
            icon_name: "internet-chat".into(),
            persistent_paths: vec![CONFIG.into(), DATA.into()],
            options: vec![OptionSpec::boolean(
                "registration",
                "Anyone who can connect may create an account",
                "Let clients create their own accounts (only people with the address and, when client authorization is on, a client key can connect)",
                true,
            )],
            capabilities: Capabilities {
                packages: vec!["prosody".into()],
                npm_packages: vec![],
                // The data folder (accounts, rosters, offline messages) is
                // declared so that consent says Persistent Storage keeps it.
                config_paths: vec![CONFIG.into(), DATA.into()],
                ports: vec![PortRequest::tcp(PORT, "chat (XMPP clients)")],
            },
        }
    }

    fn validate_option(
        _name: String,
        _value: OptionValue,
        _onion_address: String,
    ) -> Result<(), Error> {
        Ok(())
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let conf = format!(
            "-- Written by Tails Server from the xmpp service's options; edits are replaced.\n\
             -- Only this file is read: Debian's conf.d (a localhost host) is not included.\n\
             pidfile = \"/run/prosody/prosody.pid\"\n\
             admins = {{ }}\n\
             modules_enabled = {{\n\
             \t\"roster\"; \"saslauth\"; \"disco\"; \"blocklist\"; \"bookmarks\"; \"carbons\"; \"pep\"; \"private\";\n\
             \t\"smacks\"; \"vcard4\"; \"vcard_legacy\"; \"csi_simple\"; \"ping\"; \"register\"; \"time\"; \"uptime\"; \"limits\";\n\
             }}\n\
             -- No other servers (s2s), no TLS (the onion encrypts), nothing to daemonize (systemd runs it).\n\
             modules_disabled = {{ \"s2s\"; \"tls\"; \"posix\" }}\n\
             interfaces = {{ \"{host}\" }}\n\
             c2s_ports = {{ {port} }}\n\
             s2s_ports = {{ }}\n\
             c2s_direct_tls_ports = {{ }}\n\
             c2s_require_encryption = false\n\
             allow_unencrypted_plain_auth = true\n\
             authentication = \"internal_hashed\"\n\
             storage = \"internal\"\n\
             log = {{ info = \"*console\" }}\n\
             limits = {{ c2s = {{ rate = \"100kb/s\" }} }}\n\
             \n\
             VirtualHost \"{domain}\"\n\
             \tallow_registration = {registration}\n\
             \t-- Every client comes through Tor, from 127.0.0.1: no per-address throttle.\n\
             \tmin_seconds_between_registrations = 0\n",
            host = o.text(standard::LISTEN_ADDRESS),
            port = o.port(standard::TARGET_PORT),
            domain = o.text(standard::ONION_ADDRESS),
            registration = o.boolean("registration"),
        );
        config::write(CONFIG, &conf, false)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let o = Options(&request.options);
        let accounts = if o.boolean("registration") {
            "Create an account in the client (\"register a new account\"), named NAME@"
        } else {
            "Registration is off: only the accounts made while it was on can log in, as NAME@"
        };
        let server = format!("{}:{}", request.address, request.virtual_port);
        ConnectionText {
            text: format!(
                "XMPP server: {server} (link: xmpp:{address}?register)\n{accounts}{address}\n\
                 In the client, use Tor's SOCKS proxy (on Tails 127.0.0.1:9050) and allow a plain (unencrypted) connection: the onion already encrypts it.\n",
                address = request.address
            ),
            gui_text: format!(
                "XMPP server: <tt>{server}</tt>\n{accounts}<tt>{address}</tt>\n\
                 Use Tor's SOCKS proxy (127.0.0.1:9050) and allow a plain connection: the onion already encrypts it.",
                address = request.address
            ),
        }
    }
}

export!(Xmpp);
