//! Icecast: a streaming server for audio (a radio, a live talk). A source
//! client (the broadcaster) sends a stream with the source password; anyone
//! with the address listens. Run by a unit the host writes, as the
//! `icecast2` user Debian's package makes; the passwords are in a file only
//! root and that user's group read; logs go to its data folder.

use tails_server_sdk::{
    config, export, invalid, network, standard, Capabilities, ConnectionRequest, ConnectionText,
    Error, OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol, Service,
    ServiceInfo, ServiceUnit, UnitSpec,
};

const CONFIG: &str = "/etc/icecast2/icecast.xml";
const DATA: &str = "/var/lib/icecast2/";
const PORT: u16 = 8000;

struct Icecast;

impl Service for Icecast {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "icecast".into(),
            name_in_gui: Some("Icecast Radio".into()),
            description: "Stream live audio (a radio, a talk) to listeners with Icecast".into(),
            client_application: "a stream player through Tor (Tor Browser, VLC); to broadcast, a source client (ezstream, butt, Mixxx)".into(),
            client_application_in_gui: Some("Tor Browser".into()),
            documentation: "https://icecast.org/docs/".into(),
            unit: ServiceUnit::HostWritten(UnitSpec::new("/usr/bin/icecast2").arg("-c").arg(CONFIG).user("icecast2").data_folder(DATA)),
            default_target_port: PORT,
            default_virtual_port: None,
            icon_name: "audio-x-generic".into(),
            persistent_paths: vec![],
            options: vec![
                OptionSpec::secret("source-password", "Source password", "The broadcaster's password (user name: source)"),
                OptionSpec::secret("admin-password", "Admin password", "For the admin pages (user name: admin), on the same address"),
                OptionSpec::integer("max-listeners", "Maximum listeners", "How many listeners may be connected at once", 1, 1000, 50),
            ],
            capabilities: Capabilities {
                packages: vec!["icecast2".into()],
                npm_packages: vec![],
                config_paths: vec![CONFIG.into()],
                ports: vec![PortRequest::tcp(PORT, "audio streams (HTTP)")],
            },
        }
    }

    fn validate_option(
        name: String,
        value: OptionValue,
        _onion_address: String,
    ) -> Result<(), Error> {
        match (name.as_str(), &value) {
            // Given in HTTP Basic authentication and written into XML: plain characters only.
            ("source-password" | "admin-password", OptionValue::Secret(s))
                if s.len() < 8
                    || s.len() > 128
                    || !s.chars().all(|c| c.is_ascii_graphic() && !"<>&\"':".contains(c)) =>
            {
                Err(invalid(
                    "must be 8 to 128 printable ASCII characters, without spaces or < > & \" ' :",
                ))
            }
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let source = o.text("source-password");
        let conf = format!(
            "<!-- Written by Tails Server from the icecast service's options; edits are replaced. -->\n\
             <icecast>\n\
             \x20   <location>Tails Server</location>\n\
             \x20   <admin>nobody@invalid</admin>\n\
             \x20   <hostname>{domain}</hostname>\n\
             \x20   <limits>\n\
             \x20       <clients>{clients}</clients>\n\
             \x20       <sources>4</sources>\n\
             \x20       <queue-size>524288</queue-size>\n\
             \x20       <client-timeout>30</client-timeout>\n\
             \x20       <header-timeout>15</header-timeout>\n\
             \x20       <source-timeout>10</source-timeout>\n\
             \x20       <burst-size>65535</burst-size>\n\
             \x20   </limits>\n\
             \x20   <authentication>\n\
             \x20       <source-password>{source}</source-password>\n\
             \x20       <relay-password>{source}</relay-password>\n\
             \x20       <admin-user>admin</admin-user>\n\
             \x20       <admin-password>{admin}</admin-password>\n\
             \x20   </authentication>\n\
             \x20   <listen-socket>\n\
             \x20       <port>{port}</port>\n\
             \x20       <bind-address>{host}</bind-address>\n\
             \x20   </listen-socket>\n\
             \x20   <fileserve>1</fileserve>\n\
             \x20   <paths>\n\
             \x20       <basedir>/usr/share/icecast2</basedir>\n\
             \x20       <logdir>{DATA}</logdir>\n\
             \x20       <webroot>/usr/share/icecast2/web</webroot>\n\
             \x20       <adminroot>/usr/share/icecast2/admin</adminroot>\n\
             \x20   </paths>\n\
             \x20   <logging>\n\
             \x20       <accesslog>access.log</accesslog>\n\
             \x20       <errorlog>error.log</errorlog>\n\
             \x20       <loglevel>2</loglevel>\n\
             \x20       <logsize>1000</logsize>\n\
             \x20   </logging>\n\
             \x20   <security>\n\
             \x20       <chroot>0</chroot>\n\
             \x20   </security>\n\
             </icecast>\n",
            domain = o.text(standard::ONION_ADDRESS),
            clients = o.integer("max-listeners") + 4,
            admin = o.text("admin-password"),
            host = o.text(standard::LISTEN_ADDRESS),
            port = o.port(standard::TARGET_PORT),
        );
        config::write(CONFIG, &conf, true)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let o = Options(&request.options);
        let base = format!("http://{}:{}", request.address, request.virtual_port);
        let source = o.text("source-password");
        ConnectionText {
            text: format!(
                "Listen: {base}/MOUNT (e.g. {base}/live.mp3) in Tor Browser, or a player started with torsocks.\n\
                 Broadcast: a source client through Tor to {host} port {port}, mount /MOUNT, user source, password {source}.\n\
                 Admin pages: {base}/admin/ (user admin).\n",
                host = request.address,
                port = request.virtual_port,
            ),
            gui_text: format!(
                "Listen: <tt>{base}/MOUNT</tt> in Tor Browser.\n\
                 Broadcast through Tor to <tt>{base}</tt>, user <tt>source</tt>, password <tt>{source}</tt>."
            ),
        }
    }
}

export!(Icecast);
