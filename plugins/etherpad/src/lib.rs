//! Etherpad: documents written together in the browser (Tor Browser). Its
//! program comes from npm (`ep_etherpad-lite`, the only version published)
//! and runs with Debian's nodejs, in a unit the host writes, as a user of its
//! own. Etherpad finds its own folder by its name, `src`, and lists its
//! plugins with `npm ls` in the folder above: a set-up command lays that out
//! in the data folder at each start (a copy of the package as `src`, links
//! to its dependencies), since the npm folder itself is the host's.
//! The pads are in `var/dirty.db`, which persistence keeps.

use tails_server_sdk::{
    config, export, invalid, network, npm_folder, standard, web, Capabilities, ConnectionRequest,
    ConnectionText, Error, OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol,
    Service, ServiceInfo, ServiceUnit, UnitSpec,
};

const NAME: &str = "etherpad";
const PACKAGE: &str = "ep_etherpad-lite@1.8.14";
const SETTINGS: &str = "/etc/etherpad/settings.json";
const DATA: &str = "/var/lib/etherpad/";
const PADS: &str = "/var/lib/etherpad/var/";
const PORT: u16 = 9001;

/// The set-up command's script, run in the data folder as the service's
/// user. No braces: the host reads `{NAME}` as an option.
fn layout_script() -> String {
    // One line: a unit's command line has no newlines.
    format!(
        "set -e; npm={npm}/node_modules; rm -rf src node_modules; \
         cp -r \"$npm/ep_etherpad-lite\" src; mkdir -p node_modules var; \
         for d in \"$npm\"/* \"$npm\"/.bin; do \
         [ \"$(basename \"$d\")\" = ep_etherpad-lite ] || ln -s \"$d\" node_modules/; \
         done; ln -s ../src node_modules/ep_etherpad-lite",
        npm = npm_folder(NAME)
    )
}

/// A JSON string literal.
fn json(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct Etherpad;

impl Service for Etherpad {
    fn describe() -> ServiceInfo {
        let script = layout_script();
        ServiceInfo {
            name: NAME.into(),
            name_in_gui: Some("Etherpad".into()),
            description: "Write documents together in real time, in Tor Browser (Etherpad)".into(),
            client_application: "tor browser".into(),
            client_application_in_gui: Some("Tor Browser".into()),
            documentation: "https://etherpad.org/".into(),
            unit: ServiceUnit::HostWritten(
                UnitSpec::new("/usr/bin/node")
                    .arg("/var/lib/etherpad/src/node/server.js")
                    .arg("--settings")
                    .arg(SETTINGS)
                    .env("NODE_ENV", "production")
                    .env("HOME", "/var/lib/etherpad")
                    .env("NPM_CONFIG_CACHE", "/var/lib/etherpad/.npm")
                    .data_folder(DATA)
                    .setup_command(&["/usr/bin/sh", "-c", &script]),
            ),
            default_target_port: PORT,
            default_virtual_port: Some(80),
            icon_name: "accessories-text-editor".into(),
            persistent_paths: vec![PADS.into()],
            options: vec![
                OptionSpec::secret(
                    "admin-password",
                    "Admin password",
                    "For the admin pages (/admin), user name admin",
                ),
                OptionSpec::boolean(
                    "anyone-creates-pads",
                    "Anyone may create pads",
                    "Anyone who can connect may create new pads (off: only open existing ones)",
                    true,
                ),
                OptionSpec::text(
                    "title",
                    "Title",
                    "The name shown in the browser's tab",
                    "Etherpad",
                ),
            ],
            capabilities: Capabilities {
                packages: vec!["nodejs".into(), "npm".into()],
                npm_packages: vec![PACKAGE.into()],
                config_paths: vec![SETTINGS.into()],
                ports: vec![PortRequest::tcp(PORT, "pads (HTTP, for Tor Browser)")],
            },
        }
    }

    fn validate_option(
        name: String,
        value: OptionValue,
        _onion_address: String,
    ) -> Result<(), Error> {
        match (name.as_str(), &value) {
            // Etherpad reads "${NAME}" in its settings as an environment variable.
            ("admin-password", OptionValue::Secret(s))
                if s.len() < 8
                    || s.len() > 128
                    || s.contains('$')
                    || s.chars().any(char::is_control) =>
            {
                Err(invalid("must be 8 to 128 characters on one line, without $"))
            }
            ("title", OptionValue::Text(s))
                if s.is_empty()
                    || s.len() > 100
                    || s.contains('$')
                    || s.chars().any(char::is_control) =>
            {
                Err(invalid("must be 1 to 100 characters on one line, without $"))
            }
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let settings = format!(
            "/* Written by Tails Server from the etherpad service's options; edits are replaced.\n\
             \x20  Every client comes through Tor, from 127.0.0.1: the per-address limits are raised. */\n\
             {{\n\
             \x20 \"title\": {title},\n\
             \x20 \"skinName\": \"colibris\",\n\
             \x20 \"ip\": {host},\n\
             \x20 \"port\": {port},\n\
             \x20 \"dbType\": \"dirty\",\n\
             \x20 \"dbSettings\": {{\"filename\": \"var/dirty.db\"}},\n\
             \x20 \"editOnly\": {edit_only},\n\
             \x20 \"requireSession\": false,\n\
             \x20 \"requireAuthentication\": false,\n\
             \x20 \"users\": {{\"admin\": {{\"password\": {admin}, \"is_admin\": true}}}},\n\
             \x20 \"showSettingsInAdminPage\": false,\n\
             \x20 \"disableIPlogging\": true,\n\
             \x20 \"trustProxy\": false,\n\
             \x20 \"suppressErrorsInPadText\": true,\n\
             \x20 \"loglevel\": \"WARN\",\n\
             \x20 \"minify\": true,\n\
             \x20 \"abiword\": null,\n\
             \x20 \"soffice\": null,\n\
             \x20 \"tidyHtml\": null,\n\
             \x20 \"importExportRateLimiting\": {{\"windowMs\": 90000, \"max\": 1000}},\n\
             \x20 \"commitRateLimiting\": {{\"duration\": 1, \"points\": 1000}}\n\
             }}\n",
            title = json(o.text("title")),
            host = json(o.text(standard::LISTEN_ADDRESS)),
            port = o.port(standard::TARGET_PORT),
            edit_only = !o.boolean("anyone-creates-pads"),
            admin = json(o.text("admin-password")),
        );
        // The admin password is in it: root's and the service's group's only.
        config::write(SETTINGS, &settings, true)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let url = web::url(&request.address, request.virtual_port);
        ConnectionText {
            text: format!("Open in Tor Browser: {url}\nA pad is {url}p/NAME; share its address with the people who write with you.\n"),
            gui_text: format!("Open <a href=\"{url}\">{url}</a> in Tor Browser. A pad is <tt>{url}p/NAME</tt>."),
        }
    }
}

export!(Etherpad);
