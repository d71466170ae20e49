//! A drop box (bepasty, served by gunicorn): anyone who can reach the
//! address may upload files; only the owner, with the owner's token, may
//! list, read and delete them. For sources sending documents to a
//! journalist, or a group collecting files. Run by a unit the host writes, as
//! a user of its own; the files are kept in its data folder.
//!
//! bepasty's configuration is a Python file it executes: every value the
//! options give is written as a string literal (JSON's escaping is Python's).

use tails_server_sdk::{
    config, export, invalid, network, standard, web, Capabilities, ConnectionRequest,
    ConnectionText, Error, OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol,
    Service, ServiceInfo, ServiceUnit, UnitSpec,
};

const CONFIG: &str = "/etc/bepasty/bepasty.conf";
const DATA: &str = "/var/lib/drop/";
const FILES: &str = "/var/lib/drop/files/";
const PORT: u16 = 8096;

/// A Python string literal (and a JSON one) of plain printable ASCII.
fn literal(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c => out.push_str(&format!("\\u{:04x}", c as u32 & 0xffff)),
        }
    }
    out.push('"');
    out
}

struct DropBox;

impl Service for DropBox {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "drop".into(),
            name_in_gui: Some("Drop Box".into()),
            description: "A drop box: anyone with the address can upload files, only you can read them (bepasty)".into(),
            client_application: "tor browser".into(),
            client_application_in_gui: Some("Tor Browser".into()),
            documentation: "https://bepasty-server.readthedocs.io/".into(),
            unit: ServiceUnit::HostWritten(
                UnitSpec::new("/usr/bin/gunicorn")
                    .arg("--bind")
                    .arg("{listen-address}:{target-port}")
                    .arg("--workers")
                    .arg("2")
                    .arg("--timeout")
                    .arg("300")
                    .arg("bepasty.wsgi:application")
                    .env("BEPASTY_CONFIG", CONFIG)
                    .data_folder(DATA)
                    // bepasty does not make its storage folder.
                    .setup_command(&["/usr/bin/mkdir", "-p", FILES]),
            ),
            default_target_port: PORT,
            default_virtual_port: Some(80),
            icon_name: "folder-download".into(),
            persistent_paths: vec![FILES.into()],
            options: vec![
                OptionSpec::secret("owner-token", "Owner's token", "Log in with it (as the password) to list, read and delete the files"),
                OptionSpec::secret("session-key", "Session key", "Signs the owner's login cookie (generated)").read_only(),
                OptionSpec::integer("max-file-mb", "Largest file (MB)", "The largest file anyone may upload", 1, 10_000, 500),
            ],
            capabilities: Capabilities {
                packages: vec!["bepasty".into(), "gunicorn".into()],
                npm_packages: vec![],
                config_paths: vec![CONFIG.into()],
                ports: vec![PortRequest::tcp(PORT, "the drop box (HTTP, for Tor Browser)")],
            },
        }
    }

    fn validate_option(
        name: String,
        value: OptionValue,
        _onion_address: String,
    ) -> Result<(), Error> {
        match (name.as_str(), &value) {
            // The token is given as a password (HTTP Basic or the login form): typable.
            ("owner-token", OptionValue::Secret(s))
                if s.len() < 12 || s.len() > 128 || !s.chars().all(|c| c.is_ascii_graphic()) =>
            {
                Err(invalid("must be 12 to 128 printable ASCII characters without spaces"))
            }
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let conf = format!(
            "# Written by Tails Server from the drop service's options; edits are replaced.\n\
             SITENAME = {site}\n\
             STORAGE = \"filesystem\"\n\
             STORAGE_FILESYSTEM_DIRECTORY = {files}\n\
             SECRET_KEY = {secret}\n\
             # The onion encrypts the connection; http:// is what Tor Browser uses for it.\n\
             SESSION_COOKIE_SECURE = False\n\
             # Anyone may upload; nobody may list or read without the owner's token.\n\
             DEFAULT_PERMISSIONS = \"create\"\n\
             PERMISSIONS = {{{token}: \"admin,list,create,read,delete\"}}\n\
             MAX_ALLOWED_FILE_SIZE = {max} * 1000 * 1000\n\
             USE_PYTHON_MAGIC = False\n",
            site = literal(o.text(standard::ONION_ADDRESS)),
            files = literal(FILES),
            secret = literal(o.text("session-key")),
            token = literal(o.text("owner-token")),
            max = o.integer("max-file-mb"),
        );
        config::write(CONFIG, &conf, true)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let o = Options(&request.options);
        let url = web::url(&request.address, request.virtual_port);
        let token = o.text("owner-token");
        ConnectionText {
            text: format!(
                "Drop box: {url} (give this address to the people who send you files; they need Tor Browser)\n\
                 To read the files, log in there with the owner's token: {token}\n"
            ),
            gui_text: format!(
                "Senders open <a href=\"{url}\">{url}</a> in Tor Browser and upload.\n\
                 To read the files, log in there with the owner's token: <tt>{token}</tt>"
            ),
        }
    }
}

export!(DropBox);
