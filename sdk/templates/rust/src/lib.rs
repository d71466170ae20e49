//! @NAME@: a web page served by lighttpd, published as an onion service.
//! Written by `tails-server plugin new`; make it yours.
//!
//! lighttpd runs in a unit the host writes, as a user of its own: Debian's
//! lighttpd.service starts as root and reads its configuration as root, so
//! Tails Server runs it only for its own plugins.

use tails_server_sdk::*;

const CONFIG: &str = "/etc/@NAME@/lighttpd.conf";
const SITE: &str = "/var/www/@NAME@/";
const PORT: u16 = 8080;

struct Plugin;

impl Service for Plugin {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "@NAME@".into(),
            name_in_gui: Some("@NAME@".into()),
            description: "A web page that says hello".into(),
            client_application: "tor-browser".into(),
            client_application_in_gui: Some("Tor Browser".into()),
            documentation: "https://redmine.lighttpd.net/projects/lighttpd/wiki".into(),
            unit: ServiceUnit::HostWritten(UnitSpec::new("/usr/sbin/lighttpd").arg("-D").arg("-f").arg(CONFIG)),
            default_target_port: PORT,
            default_virtual_port: Some(80),
            icon_name: "web-browser".into(),
            persistent_paths: vec![CONFIG.into(), SITE.into()],
            options: vec![OptionSpec::text("greeting", "Greeting", "What the page says", "Hello from @NAME@, through Tor")],
            capabilities: Capabilities {
                packages: vec!["lighttpd".into()],
                npm_packages: vec![],
                config_paths: vec![CONFIG.into(), SITE.into()],
                ports: vec![PortRequest::tcp(PORT, "web page (HTTP)")],
            },
        }
    }

    fn validate_option(name: String, value: OptionValue, _onion_address: String) -> Result<(), Error> {
        match (name.as_str(), value) {
            ("greeting", OptionValue::Text(t)) if t.chars().count() > 200 => Err(invalid("at most 200 characters")),
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        log::info(&format!("writing {CONFIG} and {SITE}index.html"));
        let page = format!("<!doctype html>\n<meta charset=\"utf-8\">\n<h1>{}</h1>\n", escape_html(o.text("greeting")));
        config::write(&format!("{SITE}index.html"), &page, false)?;
        let conf = format!(
            "# Written by Tails Server from the @NAME@ service's options; edits are replaced.\n\
             server.modules = (\"mod_indexfile\", \"mod_staticfile\")\n\
             server.document-root = \"{SITE}\"\n\
             server.bind = \"{}\"\n\
             server.port = {}\n\
             server.tag = \"\"\n\
             index-file.names = (\"index.html\")\n\
             mimetype.assign = (\".html\" => \"text/html; charset=utf-8\")\n",
            o.text(standard::LISTEN_ADDRESS),
            o.port(standard::TARGET_PORT),
        );
        config::write(CONFIG, &conf, false)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let url = format!("http://{}/", request.address);
        ConnectionText { text: format!("Open in Tor Browser: {url}\n"), gui_text: format!("Open {url} in Tor Browser.") }
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

export!(Plugin);
