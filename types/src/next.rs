//! What a person can do next after a refusal, as data. The core names it
//! (`Next`) inside its words (`Hinted`); a terminal shows the command to
//! type, a window the control that does it or, when it has none, the command
//! with where to type it. Across the bus a hinted refusal travels as
//! [`HINTED`] then its JSON, so that each front end renders it its own way.

use serde::{Deserialize, Serialize};

/// Marks a refusal whose words carry what to do next, as JSON.
pub const HINTED: &str = "hinted: ";

/// What to do next, named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case")]
pub enum Next {
    /// Finish or undo an interrupted enable or disable.
    Repair,
    /// Add a plugin from its file (`file`: the command names FILE.wasm).
    AddPlugin {
        file: bool,
    },
    /// Remove this service's plugin.
    RemovePlugin {
        service: String,
    },
    /// Remove one of two services (either).
    RemoveEither,
    Enable {
        service: String,
    },
    Disable {
        service: String,
    },
    ListClients {
        service: String,
    },
    AddClient {
        service: String,
    },
    /// Choose which tor Tails Server uses (the administrator's).
    ChooseTor,
    /// Turn Tails Server's Persistent Storage feature on again at boot.
    FeatureOn,
}

impl Next {
    /// As a terminal shows it: the command, in backquotes.
    pub fn in_terminal(&self) -> String {
        let command = match self {
            Next::Repair => "tails-server repair".to_string(),
            Next::AddPlugin { file: true } => "tails-server plugin add FILE.wasm".into(),
            Next::AddPlugin { file: false } => "tails-server plugin add".into(),
            Next::RemovePlugin { service } => format!("tails-server plugin remove {service}"),
            Next::RemoveEither => "tails-server plugin remove NAME".into(),
            Next::Enable { service } => format!("tails-server {service} enable"),
            Next::Disable { service } => format!("tails-server {service} disable"),
            Next::ListClients { service } => format!("tails-server {service} client list"),
            Next::AddClient { service } => format!("tails-server {service} client add NAME"),
            Next::ChooseTor => "tails-server tor use".into(),
            Next::FeatureOn => "sudo tails-server autostart --feature-on".into(),
        };
        format!("`{command}`")
    }

    /// As a window shows it: its own control, or the command and where.
    pub fn in_window(&self) -> String {
        let in_a_terminal = |command: &str| format!("“{command}” in a terminal");
        match self {
            Next::Repair => in_a_terminal("sudo tails-server repair"),
            Next::AddPlugin { .. } => "“Add a plugin from a file…”".into(),
            Next::RemovePlugin { service } => format!("the Remove button on {service}'s page"),
            Next::RemoveEither => "the Remove button on a service's page".into(),
            Next::Enable { service } | Next::Disable { service } => {
                format!("the Enabled switch on {service}'s page")
            }
            Next::ListClients { service } => format!("Sharing on {service}'s page"),
            Next::AddClient { service } => format!("“Add a client” on {service}'s page"),
            Next::ChooseTor => in_a_terminal("sudo tails-server tor use"),
            Next::FeatureOn => in_a_terminal("sudo tails-server autostart --feature-on"),
        }
    }
}

/// Words with places for what to do next: each `{next}` in `said` is the
/// next item of `next`, rendered for a terminal or a window. Shown (its
/// `Display`) as a terminal shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hinted {
    pub said: String,
    pub next: Vec<Next>,
}

const PLACE: &str = "{next}";

impl Hinted {
    pub fn new(said: impl Into<String>, next: impl IntoIterator<Item = Next>) -> Hinted {
        Hinted { said: said.into(), next: next.into_iter().collect() }
    }

    fn render(&self, each: impl Fn(&Next) -> String) -> String {
        let mut parts = self.said.split(PLACE);
        let mut out = parts.next().unwrap_or_default().to_string();
        for (i, part) in parts.enumerate() {
            out += &self.next.get(i).map(&each).unwrap_or_default();
            out += part;
        }
        out
    }

    pub fn for_terminal(&self) -> String {
        self.render(Next::in_terminal)
    }

    pub fn for_window(&self) -> String {
        self.render(Next::in_window)
    }

    /// The same, inside words around it (`whole`, as a terminal shows
    /// them, holds this one's terminal form): the places kept.
    pub fn within(&self, whole: &str) -> Hinted {
        Hinted {
            said: whole.replacen(&self.for_terminal(), &self.said, 1),
            next: self.next.clone(),
        }
    }

    /// As it crosses the bus: [`HINTED`] then its JSON.
    pub fn to_wire(&self) -> String {
        format!("{HINTED}{}", serde_json::to_string(self).expect("strings and names"))
    }

    /// Read back from the bus; `None` for words that are not hinted.
    pub fn from_wire(words: &str) -> Option<Hinted> {
        serde_json::from_str(words.strip_prefix(HINTED)?).ok()
    }
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.for_terminal())
    }
}

impl std::error::Error for Hinted {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_place_is_rendered_for_a_terminal_and_for_a_window() {
        let h = Hinted::new(
            "web is enabled; disable it first with {next}",
            [Next::Disable { service: "web".into() }],
        );
        assert_eq!(
            h.to_string(),
            "web is enabled; disable it first with `tails-server web disable`"
        );
        assert_eq!(
            h.for_window(),
            "web is enabled; disable it first with the Enabled switch on web's page"
        );
        // Around other words, through the bus and back.
        let whole = format!("removing web: {h}");
        let wire = h.within(&whole).to_wire();
        let back = Hinted::from_wire(&wire).unwrap();
        assert_eq!(back.for_terminal(), whole);
        assert!(back.for_window().starts_with("removing web: web is enabled;"));
        assert_eq!(Hinted::from_wire("plain words"), None);
        // A place without its item is left empty, never a panic.
        assert_eq!(
            Hinted::new("a {next} b {next}", [Next::Repair]).to_string(),
            "a `tails-server repair` b "
        );
    }
}
