//! Write a Tails Server service plugin in Rust.
//!
//! A plugin is a WebAssembly component (target `wasm32-wasip2`) that implements
//! [`Service`] and calls [`export!`] once. See `sdk/README.md` for a walk-through.
//!
//! The host grants nothing by default: every call to [`packages`], [`config`] and
//! [`network`] is checked against what [`Service::describe`] declared and the user
//! granted, and a refusal comes back as an [`Error`] value.

wit_bindgen::generate!({
    path: "../wit",
    world: "tails:server/tails-service@0.4.0",
    pub_export_macro: true,
    default_bindings_module: "tails_server_sdk",
});

pub use exports::tails::server::service::Guest as Service;
pub use tails::server::types::*;
pub use tails::server::{config, network, packages};

/// The contract version this SDK builds plugins for.
pub const CONTRACT_VERSION: &str = "0.4.0";

/// Log through the host, tagged with the plugin's name.
pub mod log {
    use crate::tails::server::log::{log, Level};
    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }
    pub fn info(message: &str) {
        log(Level::Info, message)
    }
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
    pub fn error(message: &str) {
        log(Level::Error, message)
    }
}

/// The folder the host installs a service's npm packages into (its
/// `node_modules/` is there): run them from it with Debian's nodejs, e.g.
/// `UnitSpec::new("/usr/bin/node").arg(&format!("{}/node_modules/PKG/server.js", npm_folder(NAME)))`.
pub fn npm_folder(service: &str) -> String {
    format!("/opt/tails-server/{service}")
}

// `Error` already implements Display and std::error::Error (generated).

/// Shorthand for an `invalid` error, for `validate_option`.
pub fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid(message.into())
}

impl OptionSpec {
    fn new(
        name: &str,
        name_in_gui: &str,
        description: &str,
        kind: OptionKind,
        default: OptionValue,
    ) -> Self {
        OptionSpec {
            name: name.into(),
            name_in_gui: name_in_gui.into(),
            description: description.into(),
            group: "Service".into(),
            kind,
            default,
            masked: false,
            read_only: false,
        }
    }
    pub fn boolean(name: &str, name_in_gui: &str, description: &str, default: bool) -> Self {
        Self::new(
            name,
            name_in_gui,
            description,
            OptionKind::Boolean,
            OptionValue::Boolean(default),
        )
    }
    pub fn text(name: &str, name_in_gui: &str, description: &str, default: &str) -> Self {
        Self::new(
            name,
            name_in_gui,
            description,
            OptionKind::Text,
            OptionValue::Text(default.into()),
        )
    }
    /// A secret with an empty default gets a random value from the host at set-up.
    pub fn secret(name: &str, name_in_gui: &str, description: &str) -> Self {
        let mut spec = Self::new(
            name,
            name_in_gui,
            description,
            OptionKind::Secret,
            OptionValue::Secret(String::new()),
        );
        spec.masked = true;
        spec
    }
    pub fn port(name: &str, name_in_gui: &str, description: &str, default: u16) -> Self {
        Self::new(name, name_in_gui, description, OptionKind::Port, OptionValue::Port(default))
    }
    pub fn integer(
        name: &str,
        name_in_gui: &str,
        description: &str,
        min: i64,
        max: i64,
        default: i64,
    ) -> Self {
        Self::new(
            name,
            name_in_gui,
            description,
            OptionKind::Integer(IntegerRange { min, max }),
            OptionValue::Integer(default),
        )
    }
    pub fn choice(
        name: &str,
        name_in_gui: &str,
        description: &str,
        choices: &[&str],
        default: &str,
    ) -> Self {
        let choices = choices.iter().map(|c| c.to_string()).collect();
        Self::new(
            name,
            name_in_gui,
            description,
            OptionKind::Choice(choices),
            OptionValue::Choice(default.into()),
        )
    }
    pub fn group(mut self, group: &str) -> Self {
        self.group = group.into();
        self
    }
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }
}

impl UnitSpec {
    /// A unit the host writes that runs `program` (an absolute path) as a
    /// user of its own, confined (see the contract).
    pub fn new(program: &str) -> Self {
        UnitSpec {
            program: program.into(),
            arguments: Vec::new(),
            environment: Vec::new(),
            working_folder: None,
            user: None,
            data_folders: Vec::new(),
            setup_commands: Vec::new(),
            login_shell: false,
        }
    }
    /// One argument; `{option-name}` is replaced by the option's value.
    pub fn arg(mut self, arg: &str) -> Self {
        self.arguments.push(arg.into());
        self
    }
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.environment.push((name.into(), value.into()));
        self
    }
    /// A folder it writes: `/var/lib/SOMETHING/`.
    pub fn data_folder(mut self, folder: &str) -> Self {
        self.data_folders.push(folder.into());
        self
    }
    pub fn working_folder(mut self, folder: &str) -> Self {
        self.working_folder = Some(folder.into());
        self
    }
    /// Run as this system user (made by a granted package) instead of a user of its own.
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.into());
        self
    }
    /// Give its user of its own a login account (`{login-user}`, a shell, its
    /// first data folder as home), for a server such as sshd that lets
    /// people in as that user. Consent says so.
    pub fn login_shell(mut self) -> Self {
        self.login_shell = true;
        self
    }
    /// A command run before each start, under the same confinement.
    pub fn setup_command(mut self, command: &[&str]) -> Self {
        self.setup_commands.push(command.iter().map(|s| s.to_string()).collect());
        self
    }
}

impl PortRequest {
    pub fn tcp(port: u16, purpose: &str) -> Self {
        PortRequest { port, protocol: Protocol::Tcp, purpose: purpose.into() }
    }
    pub fn udp(port: u16, purpose: &str) -> Self {
        PortRequest { port, protocol: Protocol::Udp, purpose: purpose.into() }
    }
}

/// Typed access to the option values the host passes to `configure`.
///
/// The host always passes every option (the standard ones and the plugin's own)
/// with a value of the declared kind, so a missing or mistyped option is a bug in
/// the plugin's own spelling: the getters fall back to the type's empty value.
pub struct Options<'a>(pub &'a [OptionSetting]);

impl<'a> Options<'a> {
    fn get(&self, name: &str) -> Option<&'a OptionValue> {
        self.0.iter().find(|s| s.name == name).map(|s| &s.value)
    }
    pub fn text(&self, name: &str) -> &'a str {
        match self.get(name) {
            Some(OptionValue::Text(s) | OptionValue::Secret(s) | OptionValue::Choice(s)) => s,
            _ => "",
        }
    }
    pub fn boolean(&self, name: &str) -> bool {
        matches!(self.get(name), Some(OptionValue::Boolean(true)))
    }
    pub fn integer(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(OptionValue::Integer(i)) => *i,
            Some(OptionValue::Port(p)) => i64::from(*p),
            _ => 0,
        }
    }
    pub fn port(&self, name: &str) -> u16 {
        match self.get(name) {
            Some(OptionValue::Port(p)) => *p,
            _ => 0,
        }
    }
}

/// The options every service has, as the host names them.
pub mod standard {
    pub const VIRTUAL_PORT: &str = "virtual-port";
    pub const TARGET_PORT: &str = "target-port";
    pub const PERSISTENCE: &str = "persistence";
    pub const AUTOSTART: &str = "autostart";
    pub const ALLOW_LOCALHOST: &str = "allow-localhost";
    pub const ALLOW_LAN: &str = "allow-lan";
    pub const CLIENT_AUTHORIZATION: &str = "client-authorization";
    /// The address the server should listen on, derived by the host from
    /// `allow-lan`: `127.0.0.1`, or `0.0.0.0` when the LAN may connect.
    pub const LISTEN_ADDRESS: &str = "listen-address";
    /// The service's onion address (with `.onion`), known before the first
    /// `configure`: for a server that must know its own name.
    pub const ONION_ADDRESS: &str = "onion-address";
    /// The name of the service's login account (a unit with `login_shell`),
    /// given to `configure` and `connection_info`.
    pub const LOGIN_USER: &str = "login-user";
}

/// Helpers for services people reach with Tor Browser.
pub mod web {
    /// The URL of a web service at `address` (an onion): `http://ADDRESS/`,
    /// with the port when it is not 80.
    pub fn url(address: &str, virtual_port: u16) -> String {
        if virtual_port == 80 {
            format!("http://{address}/")
        } else {
            format!("http://{address}:{virtual_port}/")
        }
    }

    /// A PHP single-quoted string literal of `s`.
    pub fn php_string(s: &str) -> String {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    /// A PHP site served by its own lighttpd with PHP as FastCGI
    /// (Debian's `php-cgi`, PHP 8.4 on Debian 13; `/usr/bin/php-cgi` is its
    /// alternatives link on every release), as a host-written unit runs it:
    /// `lighttpd -D -f FILE` as the site's user.
    pub struct PhpSite<'a> {
        /// The service's name, for the file's header.
        pub service: &'a str,
        pub document_root: &'a str,
        pub index: &'a str,
        pub listen_address: &'a str,
        pub port: u16,
        /// A lighttpd regular expression of URLs never served (code, data, settings).
        pub deny: &'a str,
        /// Environment variables for PHP.
        pub environment: &'a [(&'a str, &'a str)],
    }

    impl PhpSite<'_> {
        /// The lighttpd configuration file.
        pub fn lighttpd_conf(&self) -> String {
            let environment: String =
                self.environment.iter().map(|(k, v)| format!(", \"{k}\" => \"{v}\"")).collect();
            format!(
                "# Written by Tails Server for the {service} service; edits are replaced.\n\
                 server.modules = (\"mod_access\", \"mod_fastcgi\")\n\
                 server.document-root = \"{root}\"\n\
                 server.bind = \"{host}\"\n\
                 server.port = {port}\n\
                 server.follow-symlink = \"enable\"\n\
                 server.upload-dirs = (\"/tmp\")\n\
                 server.tag = \"\"\n\
                 index-file.names = (\"{index}\")\n\
                 mimetype.assign = (\".css\" => \"text/css\", \".js\" => \"text/javascript\", \".png\" => \"image/png\", \
                 \".gif\" => \"image/gif\", \".jpg\" => \"image/jpeg\", \".svg\" => \"image/svg+xml\", \".ico\" => \"image/x-icon\", \
                 \".txt\" => \"text/plain\", \"\" => \"application/octet-stream\")\n\
                 # The site's code, data and settings outside its entry points are never served.\n\
                 $HTTP[\"url\"] =~ \"{deny}\" {{\n\
                 \x20 url.access-deny = (\"\")\n\
                 }}\n\
                 fastcgi.server = (\".php\" => ((\n\
                 \x20 \"bin-path\" => \"/usr/bin/php-cgi\",\n\
                 \x20 \"socket\" => \"/tmp/php.socket\",\n\
                 \x20 \"max-procs\" => 1,\n\
                 \x20 \"bin-environment\" => (\"PHP_FCGI_CHILDREN\" => \"2\", \"PHP_FCGI_MAX_REQUESTS\" => \"500\"{environment})\n\
                 )))\n",
                service = self.service,
                root = self.document_root,
                host = self.listen_address,
                port = self.port,
                index = self.index,
                deny = self.deny,
            )
        }
    }
}

/// SSH public keys, as people paste them in (`keys` options of ssh and sftp).
pub mod ssh {
    const MAX_KEYS: usize = 50;

    /// The key types OpenSSH makes, and OpenSSH's and rclone's servers accept.
    const KEY_TYPES: &[&str] = &[
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];

    /// Standard base64 (with `=` padding) decoded; None when it is not that.
    fn base64_decode(text: &str) -> Option<Vec<u8>> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        };
        let bytes = text.as_bytes();
        if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
            return None;
        }
        let body = text.trim_end_matches('=');
        if bytes.len() - body.len() > 2 {
            return None;
        }
        let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
        let (mut acc, mut bits) = (0u32, 0);
        for &c in body.as_bytes() {
            acc = (acc << 6) | u32::from(value(c)?);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        Some(out)
    }

    /// One public key as a line of an authorized_keys file (`TYPE BASE64
    /// [name]`), or what is wrong with it. The key's blob must name the same
    /// type as its first word, as OpenSSH writes it; options (`command=`…) are
    /// not accepted.
    fn key_line(entry: &str) -> Result<String, String> {
        let mut words = entry.split_whitespace();
        let kind = words.next().unwrap_or("");
        if !KEY_TYPES.contains(&kind) {
            return Err(format!(
                "a key must start with its type ({}), as in the .pub file",
                KEY_TYPES.join(", ")
            ));
        }
        let body = words.next().unwrap_or_default();
        let blob =
            base64_decode(body).ok_or("a key's second word must be the key itself (base64)")?;
        let named = blob
            .get(..4)
            .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize)
            .and_then(|n| blob.get(4..4 + n));
        if named != Some(kind.as_bytes()) {
            return Err(format!(
                "the key after `{kind}` is not an {kind} key (copied only in part?)"
            ));
        }
        // Its name (the rest), spaces made single.
        Ok([kind, body].into_iter().chain(words).collect::<Vec<_>>().join(" "))
    }

    /// The lines of an authorized_keys file from a `keys` option: public
    /// keys separated by commas; what is wrong with the first bad one.
    pub fn authorized_keys(value: &str) -> Result<Vec<String>, String> {
        let entries: Vec<&str> =
            value.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
        if entries.len() > MAX_KEYS {
            return Err(format!("at most {MAX_KEYS} keys"));
        }
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| key_line(e).map_err(|why| format!("key {}: {why}", i + 1)))
            .collect()
    }

    /// The option holding the people's public keys.
    pub const KEYS: &str = "keys";

    /// The `keys` option; `may` says what a key lets its person do.
    pub fn keys_option(may: &str) -> crate::OptionSpec {
        crate::OptionSpec::text(
            KEYS,
            "People's SSH keys",
            &format!("The public keys of the people who may {may}, each the line of their .pub file (ssh-ed25519 AAAA… name), separated by commas"),
            "",
        )
    }

    /// Check a value of the `keys` option, for `validate_option`.
    pub fn validate_keys(value: &str) -> Result<(), crate::Error> {
        authorized_keys(value).map(|_| ()).map_err(crate::invalid)
    }

    /// The authorized_keys file of the `keys` option of `service`; refused
    /// with what to do when it names no one (the server would let no one in).
    pub fn authorized_keys_file(
        service: &str,
        options: &crate::Options,
    ) -> Result<String, crate::Error> {
        let lines = authorized_keys(options.text(KEYS)).map_err(crate::invalid)?;
        if lines.is_empty() {
            return Err(crate::invalid(format!(
                "no one could connect: set `keys` to the public key of at least one person (tails-server {service} set-option keys \"ssh-ed25519 AAAA… name\")"
            )));
        }
        Ok(format!("# Written by Tails Server from the {service} service's `keys` option; edits are replaced.\n{}\n", lines.join("\n")))
    }
}
