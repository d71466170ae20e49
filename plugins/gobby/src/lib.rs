//! Gobby: collaborative plain-text editing with the infinote server
//! (infinoted), which Gobby clients connect to. Run by a unit the host
//! writes, as a user of its own; the documents are kept in its data folder.
//! The configuration holds the password, so only root and the service's own
//! group (`tails-secrets-gobby`, which its unit joins) read it.
//!
//! No TLS: the onion service already encrypts and authenticates the server
//! (its address is its key), and a certificate for an onion name would only
//! teach people to click through a warning.

use tails_server_sdk::{
    config, export, invalid, network, standard, Capabilities, ConnectionRequest, ConnectionText,
    Error, OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol, Service,
    ServiceInfo, ServiceUnit, UnitSpec,
};

const CONFIG: &str = "/etc/infinoted/infinoted.conf";
const DATA: &str = "/var/lib/gobby/";
const DOCUMENTS: &str = "/var/lib/gobby/documents/";
const PORT: u16 = 6523;

struct Gobby;

impl Service for Gobby {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "gobby".into(),
            name_in_gui: Some("Gobby".into()),
            description:
                "Write plain-text documents together in real time (the infinote server, for Gobby)"
                    .into(),
            client_application: "gobby (through Tor)".into(),
            client_application_in_gui: Some("Gobby".into()),
            documentation: "https://gobby.github.io/".into(),
            unit: ServiceUnit::HostWritten(
                UnitSpec::new("/usr/bin/infinoted-0.7")
                    .arg(&format!("--config-file={CONFIG}"))
                    .data_folder(DATA),
            ),
            default_target_port: PORT,
            default_virtual_port: None,
            icon_name: "accessories-text-editor".into(),
            persistent_paths: vec![DOCUMENTS.into()],
            options: vec![
                OptionSpec::boolean(
                    "require-password",
                    "Require a password",
                    "Ask every client for the password below",
                    true,
                ),
                OptionSpec::secret("password", "Password", "The password clients give to connect"),
                OptionSpec::integer(
                    "autosave-seconds",
                    "Save every (seconds)",
                    "How often open documents are saved to disk",
                    5,
                    3600,
                    30,
                ),
            ],
            capabilities: Capabilities {
                packages: vec!["infinoted".into()],
                npm_packages: vec![],
                config_paths: vec![CONFIG.into()],
                ports: vec![PortRequest::tcp(PORT, "shared documents (infinote)")],
            },
        }
    }

    fn validate_option(
        name: String,
        value: OptionValue,
        _onion_address: String,
    ) -> Result<(), Error> {
        match (name.as_str(), &value) {
            // A GLib key file value: one line; `;` and `\` would be read as list and escape characters.
            ("password", OptionValue::Secret(s))
                if s.is_empty()
                    || s.len() > 128
                    || s.chars().any(|c| c.is_control() || c == '\\' || c == ';') =>
            {
                Err(invalid("must be 1 to 128 characters on one line, without \\ or ;"))
            }
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        // A GLib key file drops a value's leading spaces: every space is
        // written as its `\s` escape (backslashes are refused above).
        let password = if o.boolean("require-password") {
            format!("password={}\n", o.text("password").replace(' ', "\\s"))
        } else {
            String::new()
        };
        let conf = format!(
            "# Written by Tails Server from the gobby service's options; edits are replaced.\n\
             [infinoted]\n\
             listen-address={host}\n\
             port={port}\n\
             security-policy=no-tls\n\
             root-directory={DOCUMENTS}\n\
             {password}\
             plugins=note-text;autosave\n\
             \n\
             [autosave]\n\
             interval={interval}\n",
            host = o.text(standard::LISTEN_ADDRESS),
            port = o.port(standard::TARGET_PORT),
            interval = o.integer("autosave-seconds"),
        );
        config::write(CONFIG, &conf, true)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let o = Options(&request.options);
        let password = if o.boolean("require-password") {
            format!("Password: {}\n", o.text("password"))
        } else {
            String::new()
        };
        let host = format!("{}:{}", request.address, request.virtual_port);
        ConnectionText {
            text: format!(
                "Gobby: connect to {host}\n{password}\
                 Start Gobby through Tor (on Tails: `torsocks gobby-0.5`), choose \"Connect to server\" and give the address above.\n"
            ),
            gui_text: format!(
                "In Gobby (started through Tor), choose <i>Connect to server</i> and enter <tt>{host}</tt>.\n{}",
                if o.boolean("require-password") { format!("Password: <tt>{}</tt>", o.text("password")) } else { String::new() }
            ),
        }
    }
}

export!(Gobby);
