//! The documents front ends receive from the core (directly, or as JSON
//! through the daemon): how to reach a service, what a plugin file asks for.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::display;

/// How to reach a published service: the address and port, each client's
/// key, the plugin's own words. The JSON of `connection-info --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ConnectionInfo {
    pub address: String,
    pub port: u16,
    pub client_authorization: bool,
    pub clients: Vec<ClientCredentials>,
    /// The plugin's text for a terminal (none when the plugin failed to say).
    pub text: Option<String>,
    /// The plugin's text for a window.
    pub gui_text: Option<String>,
    /// Why the plugin's texts are missing (it failed or ran out of time);
    /// a front end shows it as a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_missing: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClientCredentials {
    pub name: String,
    /// The key as Tor Browser asks for it (base32).
    pub private_key: String,
    /// The line of a `.auth_private` file for other tors.
    pub auth_private: String,
}

/// What a plugin file asks for, before anything is stored: shown to the
/// person, who agrees (to all, or all but some capabilities) or not. The
/// JSON of `InspectPlugin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Inspection {
    pub name: String,
    pub description: String,
    pub sha256: String,
    /// Who made the build, in words (a fingerprint, or "unsigned: ...").
    pub publisher: String,
    /// `tails:server@VERSION` it was built for.
    pub contract: String,
    /// Built for an older contract: it runs through a compatibility layer.
    pub older_contract: bool,
    /// This exact build is added already.
    pub already_added: bool,
    /// The sha256 of the build this one replaces, if any.
    pub replaces: Option<String>,
    /// What the replaced build asked and this one no longer does.
    pub no_longer_asks: Vec<Asked>,
    /// Everything it asks for (short forms), granted or not.
    pub requested: Vec<String>,
    /// What needs a yes now (everything, or on an upgrade what is new).
    pub asks: Vec<Asked>,
    /// On an upgrade, what else differs from the added build (what
    /// Persistent Storage keeps), in words.
    #[serde(default)]
    pub changes: Vec<String>,
    /// Capabilities granted before that stay granted (upgrade).
    pub kept: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Asked {
    /// The short form (`package:lighttpd`, what `--deny` takes).
    pub capability: String,
    /// What it lets the plugin do, in words.
    pub words: String,
}

impl Inspection {
    /// Adding changes nothing: this very build is added and nothing is to
    /// be refused now. No question is asked; every front end says so.
    pub fn changes_nothing(&self, refusing: bool) -> bool {
        self.already_added && !refusing
    }

    /// The question a person answers before the add, none when nothing
    /// needs a yes (the capabilities in `refused` are not asked for). The
    /// one rule every front end follows.
    pub fn question(&self, refused: &[String]) -> Option<String> {
        if self.changes_nothing(!refused.is_empty()) {
            return None;
        }
        let name = &self.name;
        let asking = self.asks.iter().any(|a| !refused.contains(&a.capability));
        match (asking, &self.replaces) {
            (true, _) => Some(format!("Allow {name} to do this?")),
            (false, Some(_)) => Some(format!("Replace {name} with this build?")),
            (false, None) => None,
        }
    }
}

impl Asked {
    /// The line a terminal shows: `  - WORDS   [SHORT FORM]`.
    pub fn line(&self) -> String {
        format!("  - {}   [{}]", self.words, display::line(&self.capability))
    }
}

/// A row of the services' list (`list --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ServiceRow {
    pub name: String,
    pub enabled: bool,
    pub description: String,
    /// The plugin's icon name, checked (`display::icon_name`): may be empty.
    #[serde(rename = "icon-name", default)]
    pub icon_name: String,
}

/// What a service is doing now: `installed` from dpkg's status (and its npm
/// folder), `running` from its unit (none when systemd cannot be asked),
/// `published` from the tor in use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct State {
    pub installed: bool,
    pub running: Option<bool>,
    pub published: bool,
}

/// `status --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Status {
    pub enabled: bool,
    #[serde(flatten)]
    pub state: State,
}

/// `info --json`: a service's description, state, address and options
/// (secret ones masked unless revealed); with details, everything a front
/// end renders its page from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Info {
    #[serde(flatten)]
    pub names: Option<Names>,
    pub description: String,
    #[serde(flatten)]
    pub state: State,
    pub address: Option<String>,
    pub local_port: u16,
    /// The port on the onion address (the value of the option
    /// `virtual-port`).
    pub remote_port: OptionValue,
    pub persistent_paths: Vec<String>,
    /// Each option's value, in the plugin's order.
    pub options: IndexMap<String, OptionValue>,
    #[serde(flatten)]
    pub details: Option<Details>,
}

/// An option's value as a document holds it: a string, number or boolean
/// (a masked secret is the string `********`).
pub type OptionValue = serde_json::Value;

/// The names a window shows (in `info` with details).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Names {
    pub name: String,
    pub name_in_gui: Option<String>,
}

/// What `info` adds with details: the page of a service in a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Details {
    pub enabled: bool,
    pub client_application: String,
    pub client_application_in_gui: Option<String>,
    pub documentation: String,
    pub systemd_service: String,
    pub icon_name: String,
    pub packages: Vec<String>,
    pub npm_packages: Vec<String>,
    pub plugin_sha256: String,
    /// `tails:server@VERSION` the plugin was built for.
    pub contract: String,
    /// Every capability it asked for (short form) and whether it was granted.
    pub capabilities: IndexMap<String, Grant>,
    pub option_details: Vec<OptionDetail>,
    /// The clients' names.
    pub clients: Vec<String>,
    pub journal: crate::progress::Journal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grant {
    Granted,
    Refused,
}

/// One option as a window lays it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct OptionDetail {
    pub name: String,
    pub name_in_gui: String,
    pub description: String,
    pub group: String,
    /// What values it takes, in words ("a port from 1 to 65535").
    pub allowed: String,
    pub kind: OptionKind,
    pub masked: bool,
    pub read_only: bool,
}

/// An option's kind, as a front end builds its field from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum OptionKind {
    Boolean,
    Text,
    Secret,
    Port {
        min: i64,
        max: i64,
    },
    Integer {
        min: i64,
        max: i64,
    },
    /// The choices, escaped for one line.
    Choice {
        choices: Vec<String>,
    },
}

/// `tor status --json`: which tor is used, how it is reached, whether it
/// is bootstrapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TorStatus {
    /// Which tor, in words ("Tails' tor through onion-grater", ...).
    pub tor: String,
    pub control: String,
    pub auth: String,
    pub bootstrapped: bool,
    pub progress: u8,
    pub summary: String,
}

/// A row of `plugin list --json`: an added plugin (its description escaped
/// for one line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PluginRow {
    pub name: String,
    pub sha256: String,
    pub contract: String,
    pub description: String,
}

/// `plugin show --json`: who an added plugin is from, what it asked for and
/// whether each was granted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginShown {
    pub name: String,
    pub sha256: String,
    pub contract: String,
    pub description: String,
    pub capabilities: Vec<CapabilityGrant>,
    /// The fingerprint of the key that signed it, if one did.
    pub publisher: Option<String>,
    pub first_party: bool,
    /// Where it is from, in words.
    pub from: String,
    pub enabled: bool,
}

/// A capability of an added plugin (short form, escaped) and whether the
/// person granted it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilityGrant {
    pub capability: String,
    pub granted: bool,
}

/// A row of `plugin available --json`: a plugin this installation ships.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailablePlugin {
    pub name: String,
    pub description: String,
    /// "added", "added (another build)" or "not added".
    pub added: String,
    pub file: std::path::PathBuf,
    pub sha256: String,
    /// The plugin's icon name, checked (`display::icon_name`): may be empty.
    #[serde(rename = "icon-name", default)]
    pub icon_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(details: bool) -> Info {
        let state = State { installed: true, running: None, published: false };
        Info {
            names: details.then(|| Names { name: "web".into(), name_in_gui: None }),
            description: "A web site".into(),
            state,
            address: None,
            local_port: 8080,
            remote_port: serde_json::json!(80),
            persistent_paths: vec!["/var/www/".into()],
            options: [("virtual-port".to_string(), serde_json::json!(80))].into_iter().collect(),
            details: details.then(|| Details {
                enabled: false,
                client_application: "Tor Browser".into(),
                client_application_in_gui: None,
                documentation: "https://example.org".into(),
                systemd_service: "lighttpd.service".into(),
                icon_name: "web-browser".into(),
                packages: vec!["lighttpd".into()],
                npm_packages: vec![],
                plugin_sha256: "00".into(),
                contract: "tails:server@0.4.0".into(),
                capabilities: [("package:lighttpd".to_string(), Grant::Granted)]
                    .into_iter()
                    .collect(),
                option_details: vec![OptionDetail {
                    name: "virtual-port".into(),
                    name_in_gui: "Port".into(),
                    description: "d".into(),
                    group: "".into(),
                    allowed: "a port".into(),
                    kind: OptionKind::Port { min: 1, max: 65535 },
                    masked: false,
                    read_only: false,
                }],
                clients: vec![],
                journal: Default::default(),
            }),
        }
    }

    fn keys(value: &serde_json::Value) -> Vec<&str> {
        value.as_object().unwrap().keys().map(String::as_str).collect()
    }

    /// `info --json` keeps the keys, and their order, that scripts and the
    /// window have read since before the documents were typed.
    #[test]
    fn info_keeps_its_keys_in_order_with_and_without_details() {
        let short = serde_json::to_value(info(false)).unwrap();
        assert_eq!(
            keys(&short),
            [
                "description",
                "installed",
                "running",
                "published",
                "address",
                "local-port",
                "remote-port",
                "persistent-paths",
                "options"
            ]
        );
        let long = serde_json::to_value(info(true)).unwrap();
        let long_keys = keys(&long);
        assert_eq!(long_keys[..3], ["name", "name-in-gui", "description"]);
        assert_eq!(
            long_keys[11..],
            [
                "enabled",
                "client-application",
                "client-application-in-gui",
                "documentation",
                "systemd-service",
                "icon-name",
                "packages",
                "npm-packages",
                "plugin-sha256",
                "contract",
                "capabilities",
                "option-details",
                "clients",
                "journal"
            ]
        );
        assert_eq!(long["running"], serde_json::Value::Null);
        assert_eq!(long["capabilities"]["package:lighttpd"], "granted");
        assert_eq!(
            long["option-details"][0]["kind"],
            serde_json::json!({"type": "port", "min": 1, "max": 65535})
        );
    }

    /// What the daemon sends is read back as the same document: details
    /// absent stay absent.
    #[test]
    fn info_reads_back_as_sent() {
        for details in [false, true] {
            let text = serde_json::to_string(&info(details)).unwrap();
            assert_eq!(serde_json::from_str::<Info>(&text).unwrap(), info(details));
        }
        let status = Status {
            enabled: true,
            state: State { installed: true, running: Some(true), published: true },
        };
        let text = serde_json::to_string(&status).unwrap();
        assert_eq!(text, r#"{"enabled":true,"installed":true,"running":true,"published":true}"#);
        assert_eq!(serde_json::from_str::<Status>(&text).unwrap(), status);
    }

    fn inspection(already_added: bool, replaces: bool, asks: &[&str]) -> Inspection {
        Inspection {
            name: "web".into(),
            description: String::new(),
            sha256: "00".into(),
            publisher: String::new(),
            contract: "tails:server@0.4.0".into(),
            older_contract: false,
            already_added,
            replaces: replaces.then(|| "11".into()),
            no_longer_asks: vec![],
            requested: asks.iter().map(|a| a.to_string()).collect(),
            asks: asks
                .iter()
                .map(|a| Asked { capability: a.to_string(), words: String::new() })
                .collect(),
            changes: vec![],
            kept: vec![],
        }
    }

    /// The one rule for whether a person is asked, for every front end.
    #[test]
    fn the_question_is_asked_only_when_something_needs_a_yes() {
        let none: &[String] = &[];
        let refused = ["package:lighttpd".to_string()];
        let fresh = inspection(false, false, &["package:lighttpd"]);
        assert_eq!(fresh.question(none).as_deref(), Some("Allow web to do this?"));
        // Refusing all it asks leaves nothing to agree to.
        assert_eq!(fresh.question(&refused), None);
        assert_eq!(inspection(false, false, &[]).question(none), None);
        // New code with the same permissions still needs a yes.
        let upgrade = inspection(false, true, &[]);
        assert_eq!(upgrade.question(none).as_deref(), Some("Replace web with this build?"));
        let same = inspection(true, false, &["package:lighttpd"]);
        assert!(same.changes_nothing(false) && same.question(none).is_none());
        assert!(!same.changes_nothing(true));
    }
}
