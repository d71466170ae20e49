//! MediaWiki (from Debian), on sqlite: the wiki software of Wikipedia, for
//! groups who know it. Served by lighttpd with PHP (php-cgi) in a unit the
//! host writes, as Debian's `www-data` user, which owns MediaWiki's data in
//! Debian's layout (`/var/lib/mediawiki/`).
//!
//! MediaWiki refuses to start without `$wgServer`, the address it builds
//! links with: the onion's URL. A set-up command runs MediaWiki's installer
//! once (the database, the admin account with the password from its file);
//! the settings the options say are applied on top at every start by a file
//! the plugin writes, which includes the installer's.

use tails_server_sdk::{
    config, export, invalid, network, standard, web, Capabilities, ConnectionRequest,
    ConnectionText, Error, OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol,
    Service, ServiceInfo, ServiceUnit, UnitSpec,
};

const SETTINGS: &str = "/etc/mediawiki/tails-server.php";
const LIGHTTPD: &str = "/etc/mediawiki/lighttpd-tails-server.conf";
const PASSWORD: &str = "/etc/mediawiki/tails-server-admin-password";
const DATA: &str = "/var/lib/mediawiki/";
const OURS: &str = "/var/lib/mediawiki/tails-server/";
const IMAGES: &str = "/var/lib/mediawiki/images/";
const PORT: u16 = 8098;

/// The installed MediaWiki's version, read from the line that defines it
/// (requiring the file in PHP needs MediaWiki's autoloader since 1.43).
macro_rules! installed_version {
    () => {
        "sed -n \"s/^define( 'MW_VERSION', '\\([^']*\\)' );$/\\1/p\" /usr/share/mediawiki/includes/Defines.php"
    };
}

/// The installer, run once (while its settings file is missing), as the
/// service's user. The onion address and the title come as arguments, never
/// inside the script's text. No braces: the host reads `{NAME}`. It notes
/// the version it installed (see [`UPDATE`]).
const INSTALL: &str = concat!("[ -e /var/lib/mediawiki/tails-server/LocalSettings.php ] || ( mkdir -p /var/lib/mediawiki/tails-server/db && \
     php /usr/share/mediawiki/maintenance/install.php --quiet --dbtype sqlite --dbpath /var/lib/mediawiki/tails-server/db --dbname wiki \
     --confpath /var/lib/mediawiki/tails-server --server \"http://$1\" --scriptpath \"\" \
     --passfile /etc/mediawiki/tails-server-admin-password --lang en \"$2\" admin && \
     ", installed_version!(), " > /var/lib/mediawiki/tails-server/version )");

/// MediaWiki's database updater, run when the installed MediaWiki is not the
/// version the database was last made for (a wiki kept in Persistent Storage
/// on Tails 6, MediaWiki 1.39, and started on Tails 7's 1.43, whose pages
/// would otherwise answer "internal error"). A wiki from before the version
/// file is updated once.
const UPDATE: &str = concat!("v=$(", installed_version!(), ") && [ -n \"$v\" ] || exit 1; \
     [ \"$(cat /var/lib/mediawiki/tails-server/version 2>/dev/null)\" = \"$v\" ] && exit 0; \
     echo \"updating the wiki's database for MediaWiki $v\"; \
     MW_CONFIG_FILE=/etc/mediawiki/tails-server.php php /usr/share/mediawiki/maintenance/update.php --quick && \
     echo \"$v\" > /var/lib/mediawiki/tails-server/version");

/// Debian's PHP packages: the metapackages Debian 13 has; the Tails 6
/// release named Debian 12's (kept for the migration test, which keeps a
/// wiki with that release and boots it on Tails 7).
#[cfg(not(feature = "tails6"))]
const PHP: [&str; 2] = ["php-cgi", "php-sqlite3"];
#[cfg(feature = "tails6")]
const PHP: [&str; 2] = ["php8.2-cgi", "php8.2-sqlite3"];

struct MediaWiki;

impl Service for MediaWiki {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "mediawiki".into(),
            name_in_gui: Some("MediaWiki".into()),
            description:
                "A wiki with MediaWiki, the software of Wikipedia (on sqlite), in Tor Browser"
                    .into(),
            client_application: "tor browser".into(),
            client_application_in_gui: Some("Tor Browser".into()),
            documentation: "https://www.mediawiki.org/wiki/Manual:Contents".into(),
            unit: ServiceUnit::HostWritten(
                UnitSpec::new("/usr/sbin/lighttpd")
                    .arg("-D")
                    .arg("-f")
                    .arg(LIGHTTPD)
                    .user("www-data")
                    .data_folder(DATA)
                    .setup_command(&[
                        "/usr/bin/sh",
                        "-c",
                        INSTALL,
                        "sh",
                        "{onion-address}",
                        "{title}",
                    ])
                    .setup_command(&["/usr/bin/sh", "-c", UPDATE]),
            ),
            default_target_port: PORT,
            default_virtual_port: Some(80),
            icon_name: "accessories-dictionary".into(),
            persistent_paths: vec![OURS.into(), IMAGES.into()],
            options: vec![
                OptionSpec::text(
                    "title",
                    "Title",
                    "The wiki's name (set when it is first installed)",
                    "Wiki",
                ),
                OptionSpec::secret(
                    "admin-password",
                    "Admin's password",
                    "The password of the account admin (set when the wiki is first installed)",
                ),
                OptionSpec::boolean(
                    "anyone-edits",
                    "Anyone may edit",
                    "Visitors who are not logged in may edit pages",
                    false,
                ),
            ],
            capabilities: Capabilities {
                packages: vec!["mediawiki".into(), PHP[0].into(), PHP[1].into(), "lighttpd".into()],
                npm_packages: vec![],
                config_paths: vec![
                    SETTINGS.into(),
                    LIGHTTPD.into(),
                    PASSWORD.into(),
                    OURS.into(),
                    IMAGES.into(),
                ],
                ports: vec![PortRequest::tcp(PORT, "the wiki (HTTP, for Tor Browser)")],
            },
        }
    }

    fn validate_option(
        name: String,
        value: OptionValue,
        _onion_address: String,
    ) -> Result<(), Error> {
        match (name.as_str(), &value) {
            // MediaWiki's own rule for passwords is at least 10 characters.
            ("admin-password", OptionValue::Secret(s))
                if s.len() < 10 || s.len() > 128 || s.chars().any(char::is_control) =>
            {
                Err(invalid("must be 10 to 128 characters on one line"))
            }
            ("title", OptionValue::Text(s))
                if s.is_empty()
                    || s.len() > 60
                    || !s.chars().all(|c| c.is_alphanumeric() || " -_.,".contains(c)) =>
            {
                Err(invalid("must be 1 to 60 letters, digits, spaces and - _ . ,"))
            }
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let onion = o.text(standard::ONION_ADDRESS);
        let settings = format!(
            "<?php\n\
             // Written by Tails Server from the mediawiki service's options; edits are replaced.\n\
             // MediaWiki's installer wrote the rest (database, keys), once.\n\
             require '/var/lib/mediawiki/tails-server/LocalSettings.php';\n\
             $wgServer = {server};\n\
             $wgGroupPermissions['*']['edit'] = {anyone};\n\
             // Accounts are the admin's to make (Special:CreateAccount, logged in).\n\
             $wgGroupPermissions['*']['createaccount'] = false;\n\
             $wgEnableEmail = false;\n\
             $wgEnableUploads = false;\n\
             // Nothing reaches beyond this computer anyway; do not try.\n\
             $wgAllowExternalImages = false;\n\
             $wgPingback = false;\n\
             // Caches (the localisation cache first of all) in the service's\n\
             // writable data folder, outside Persistent Storage: Debian's\n\
             // /var/cache/mediawiki is read-only to the confined server, and on\n\
             // Tails every boot starts without it.\n\
             $wgCacheDirectory = '/var/lib/mediawiki/cache';\n\
             // Errors go to the service's log (the journal), not to visitors.\n\
             $wgDebugLogGroups['exception'] = 'php://stderr';\n\
             $wgDebugLogGroups['error'] = 'php://stderr';\n",
            server = web::php_string(&format!("http://{onion}")),
            anyone = if o.boolean("anyone-edits") { "true" } else { "false" },
        );
        let lighttpd = web::PhpSite {
            service: "mediawiki",
            document_root: "/usr/share/mediawiki",
            index: "index.php",
            listen_address: o.text(standard::LISTEN_ADDRESS),
            port: o.port(standard::TARGET_PORT),
            deny: "^/(cache|includes|maintenance|languages|serialized|tests|vendor|mw-config|config|extensions/.*\\.php)(/|$)|^/LocalSettings",
            environment: &[("MW_CONFIG_FILE", SETTINGS)],
        }
        .lighttpd_conf();
        config::write(SETTINGS, &settings, false)?;
        config::write(LIGHTTPD, &lighttpd, false)?;
        // Read by the installer: root's and www-data's only.
        config::write(PASSWORD, o.text("admin-password"), true)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let o = Options(&request.options);
        let url = web::url(&request.address, request.virtual_port);
        let password = o.text("admin-password");
        ConnectionText {
            text: format!("Open in Tor Browser: {url}\nLog in as admin, password {password} (the one set when the wiki was first installed)\n"),
            gui_text: format!("Open <a href=\"{url}\">{url}</a> in Tor Browser.\nLog in as <tt>admin</tt>, password <tt>{password}</tt>"),
        }
    }
}

export!(MediaWiki);
