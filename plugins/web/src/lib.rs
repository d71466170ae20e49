//! A static web site served by lighttpd from a folder the user chooses.

use tails_server_sdk::{
    config, export, invalid, network, standard, Capabilities, ConnectionRequest, ConnectionText,
    Error, OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol, Service,
    ServiceInfo, ServiceUnit,
};

const CONFIG: &str = "/etc/lighttpd/lighttpd.conf";
const PORT: u16 = 8080;

struct Web;

impl Service for Web {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "web".into(),
            name_in_gui: Some("Web Site".into()),
            description: "A static web site, served from a folder you choose".into(),
            client_application: "tor-browser".into(),
            client_application_in_gui: Some("Tor Browser".into()),
            documentation: "https://redmine.lighttpd.net/projects/lighttpd/wiki".into(),
            unit: ServiceUnit::Packaged("lighttpd.service".into()),
            default_target_port: PORT,
            default_virtual_port: Some(80),
            icon_name: "web-browser".into(),
            persistent_paths: vec![CONFIG.into()],
            options: vec![
                OptionSpec::text(
                    "folder",
                    "Folder",
                    "The folder whose files are published",
                    "/var/www/html",
                ),
                OptionSpec::boolean(
                    "directory-listing",
                    "List folders",
                    "Show the files of a folder that has no index.html",
                    false,
                ),
            ],
            capabilities: Capabilities {
                packages: vec!["lighttpd".into()],
                npm_packages: vec![],
                config_paths: vec![CONFIG.into()],
                ports: vec![PortRequest::tcp(PORT, "web site (HTTP)")],
            },
        }
    }

    fn validate_option(
        name: String,
        value: OptionValue,
        _onion_address: String,
    ) -> Result<(), Error> {
        if let ("folder", OptionValue::Text(folder)) = (name.as_str(), &value) {
            if !folder.starts_with('/') {
                return Err(invalid("must be an absolute path, e.g. /var/www/site"));
            }
            if folder.split('/').any(|c| c == "..") {
                return Err(invalid("must not contain `..`"));
            }
            if folder.chars().any(|c| c.is_control() || c == '"' || c == '\\') {
                return Err(invalid("must not contain quotes, backslashes or control characters"));
            }
            // Publishing the whole system, or a part of it that holds keys and
            // passwords, is never what was meant.
            let trimmed = folder.trim_end_matches('/');
            const SYSTEM: &[&str] = &[
                "/etc",
                "/proc",
                "/sys",
                "/dev",
                "/boot",
                "/root",
                "/run",
                "/usr",
                "/bin",
                "/sbin",
                "/lib",
                "/var/lib",
                "/live",
                "/lib/live",
            ];
            if trimmed.is_empty()
                || SYSTEM.iter().any(|s| trimmed == *s || trimmed.starts_with(&format!("{s}/")))
            {
                return Err(invalid(
                    "must be a folder of web pages, not / or a system folder (e.g. /var/www/site)",
                ));
            }
            // The web server runs with home folders hidden from it (the
            // confinement consent promised): a folder there would be served
            // as 403 Forbidden.
            if trimmed == "/home" || trimmed.starts_with("/home/") {
                return Err(invalid("must be outside /home: the web server is kept away from home folders (e.g. /var/www/site)"));
            }
        }
        Ok(())
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let conf = format!(
            "# Written by Tails Server from the web service's options; edits are replaced.\n\
             server.modules = (\"mod_indexfile\", \"mod_dirlisting\", \"mod_staticfile\")\n\
             server.document-root = \"{folder}\"\n\
             server.bind = \"{host}\"\n\
             server.port = {port}\n\
             server.username = \"www-data\"\n\
             server.groupname = \"www-data\"\n\
             server.pid-file = \"/run/lighttpd.pid\"\n\
             server.errorlog = \"/var/log/lighttpd/error.log\"\n\
             # Say nothing about the server software.\n\
             server.tag = \"\"\n\
             server.follow-symlink = \"disable\"\n\
             index-file.names = (\"index.html\", \"index.htm\")\n\
             dir-listing.activate = \"{listing}\"\n\
             url.access-deny = (\"~\", \".inc\")\n\
             include_shell \"/usr/share/lighttpd/create-mime.conf.pl\"\n",
            folder = o.text("folder"),
            host = o.text(standard::LISTEN_ADDRESS),
            port = o.port(standard::TARGET_PORT),
            listing = if o.boolean("directory-listing") { "enable" } else { "disable" },
        );
        config::write(CONFIG, &conf, false)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let url = match request.virtual_port {
            80 => format!("http://{}/", request.address),
            port => format!("http://{}:{port}/", request.address),
        };
        ConnectionText {
            text: format!("Open in Tor Browser: {url}\n"),
            gui_text: format!("Open <a href=\"{url}\">{url}</a> in Tor Browser."),
        }
    }
}

export!(Web);
