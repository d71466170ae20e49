//! A wiki (DokuWiki, from Debian): pages in plain files, read by anyone who
//! can reach the address, edited by the accounts the owner has (an admin
//! from the options). Served by lighttpd with PHP (php-cgi) in a unit the
//! host writes, as Debian's `www-data` user, which owns DokuWiki's data in
//! Debian's layout (`/var/lib/dokuwiki/`).
//!
//! The admin's password is stored as DokuWiki's PBKDF2-SHA256 hash, in the
//! accounts file only root and `www-data` read; self-registration is off.

use pbkdf2::pbkdf2_hmac;
use sha2::Sha256;
use tails_server_sdk::{
    config, export, invalid, network, standard, web, Capabilities, ConnectionRequest,
    ConnectionText, Error, OptionSetting, OptionSpec, OptionValue, Options, PortRequest, Protocol,
    Service, ServiceInfo, ServiceUnit, UnitSpec,
};

const LOCAL: &str = "/etc/dokuwiki/local.php";
const LIGHTTPD: &str = "/etc/dokuwiki/lighttpd-tails-server.conf";
const USERS: &str = "/var/lib/dokuwiki/acl/users.auth.php";
const ACL: &str = "/var/lib/dokuwiki/acl/acl.auth.php";
const DATA: &str = "/var/lib/dokuwiki/";
const PAGES: &str = "/var/lib/dokuwiki/data/";
const PORT: u16 = 8097;
/// PHP as FastCGI: the metapackage Debian 13 has; the Tails 6 release named
/// Debian 12's (kept for the migration test, which keeps a wiki with that
/// release and boots it on Tails 7).
#[cfg(not(feature = "tails6"))]
const PHP_CGI: &str = "php-cgi";
#[cfg(feature = "tails6")]
const PHP_CGI: &str = "php8.2-cgi";
const ITERATIONS: u32 = 10_000;

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// DokuWiki's `pbkdf2_sha256$ITER$SALT$HASH` (its djangopbkdf2 method).
fn password_hash(password: &str, salt: &str) -> String {
    let mut key = [0u8; 32];
    pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), ITERATIONS, &mut key);
    format!("pbkdf2_sha256${ITERATIONS}${salt}${}", base64(&key))
}

struct Wiki;

impl Service for Wiki {
    fn describe() -> ServiceInfo {
        ServiceInfo {
            name: "wiki".into(),
            name_in_gui: Some("Wiki".into()),
            description: "A wiki (DokuWiki): pages anyone with the address reads and the admin edits, in Tor Browser".into(),
            client_application: "tor browser".into(),
            client_application_in_gui: Some("Tor Browser".into()),
            documentation: "https://www.dokuwiki.org/manual".into(),
            unit: ServiceUnit::HostWritten(
                UnitSpec::new("/usr/sbin/lighttpd").arg("-D").arg("-f").arg(LIGHTTPD).user("www-data").data_folder(DATA),
            ),
            default_target_port: PORT,
            default_virtual_port: Some(80),
            icon_name: "accessories-dictionary".into(),
            persistent_paths: vec![PAGES.into()],
            options: vec![
                OptionSpec::text("title", "Title", "The wiki's name, shown on every page", "Wiki"),
                OptionSpec::text("admin-name", "Admin's login", "The admin's user name", "admin"),
                OptionSpec::secret("admin-password", "Admin's password", "The admin's password"),
                OptionSpec::boolean("public-read", "Anyone may read", "Visitors who are not logged in may read the pages", true),
            ],
            capabilities: Capabilities {
                packages: vec!["dokuwiki".into(), PHP_CGI.into(), "lighttpd".into()],
                npm_packages: vec![],
                config_paths: vec![LOCAL.into(), LIGHTTPD.into(), USERS.into(), ACL.into(), PAGES.into()],
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
            ("admin-name", OptionValue::Text(s))
                if s.is_empty()
                    || s.len() > 32
                    || !s.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    }) =>
            {
                Err(invalid("must be 1 to 32 lower-case letters, digits, - and _"))
            }
            ("admin-password", OptionValue::Secret(s))
                if s.len() < 8
                    || s.len() > 128
                    || s.contains(':')
                    || s.chars().any(char::is_control) =>
            {
                Err(invalid("must be 8 to 128 characters on one line, without :"))
            }
            ("title", OptionValue::Text(s))
                if s.is_empty() || s.len() > 100 || s.chars().any(char::is_control) =>
            {
                Err(invalid("must be 1 to 100 characters on one line"))
            }
            _ => Ok(()),
        }
    }

    fn configure(options: Vec<OptionSetting>) -> Result<(), Error> {
        let o = Options(&options);
        let onion = o.text(standard::ONION_ADDRESS);
        let admin = o.text("admin-name");
        let local = format!(
            "<?php\n\
             // Written by Tails Server from the wiki service's options; edits are replaced.\n\
             $conf['title'] = {title};\n\
             $conf['license'] = 'cc-by-sa';\n\
             $conf['useacl'] = 1;\n\
             $conf['authtype'] = 'authplain';\n\
             $conf['superuser'] = {admin};\n\
             // Accounts are the owner's: nobody registers or resets a password by mail.\n\
             $conf['disableactions'] = 'register,resendpwd';\n\
             $conf['passcrypt'] = 'djangopbkdf2_sha256';\n\
             $conf['userewrite'] = 0;\n\
             $conf['updatecheck'] = 0;\n\
             $conf['send404'] = 1;\n",
            title = web::php_string(o.text("title")),
            admin = web::php_string(admin),
        );
        let users = format!(
            "# Written by Tails Server from the wiki service's options; edits are replaced.\n\
             # login:passwordhash:Real Name:email:groups\n\
             {admin}:{hash}:Wiki admin:{admin}@{onion}:admin,user\n",
            hash = password_hash(o.text("admin-password"), &onion[..12.min(onion.len())]),
        );
        let read = if o.boolean("public-read") { 1 } else { 0 };
        let acl = format!(
            "# Written by Tails Server from the wiki service's options; edits are replaced.\n\
             # 0 none, 1 read, 2 edit, 4 create, 8 upload, 16 delete\n\
             *\t@ALL\t{read}\n\
             *\t@user\t8\n"
        );
        let lighttpd = web::PhpSite {
            service: "wiki",
            document_root: "/usr/share/dokuwiki",
            index: "doku.php",
            listen_address: o.text(standard::LISTEN_ADDRESS),
            port: o.port(standard::TARGET_PORT),
            // DokuWiki's own rules.
            deny: "/(\\.|_)ht|^/(bin|data|inc|conf|vendor)(/|$)",
            environment: &[],
        }
        .lighttpd_conf();
        config::write(LOCAL, &local, false)?;
        config::write(LIGHTTPD, &lighttpd, false)?;
        // The password's hash: root's and www-data's only.
        config::write(USERS, &users, true)?;
        config::write(ACL, &acl, false)?;
        network::open_port(PORT, Protocol::Tcp)
    }

    fn connection_info(request: ConnectionRequest) -> ConnectionText {
        let o = Options(&request.options);
        let url = web::url(&request.address, request.virtual_port);
        let admin = o.text("admin-name");
        let password = o.text("admin-password");
        ConnectionText {
            text: format!("Open in Tor Browser: {url}\nLog in to edit: user {admin}, password {password}\n"),
            gui_text: format!("Open <a href=\"{url}\">{url}</a> in Tor Browser.\nLog in to edit: user <tt>{admin}</tt>, password <tt>{password}</tt>"),
        }
    }
}

export!(Wiki);
