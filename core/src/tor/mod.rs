//! Tor: the control-protocol client, key and address formats, and finding
//! (or starting) the tor to use.

pub mod control;
pub mod detect;
pub mod keys;
pub mod reply;

/// The onion-grater profile shipped for Tails (`data/onion-grater/`).
pub const ONION_GRATER_PROFILE: &str = include_str!("../../../data/onion-grater/tails-server.yml");

#[cfg(test)]
mod onion_grater_tests {
    use super::control::commands;
    use super::keys::{ClientKey, OnionKey};
    use super::ONION_GRATER_PROFILE;
    use std::collections::BTreeMap;

    /// verb → whole-string patterns, as onion-grater reads them.
    fn profile() -> BTreeMap<String, Vec<regex::Regex>> {
        let doc: serde_json::Value = serde_norway::from_str(ONION_GRATER_PROFILE).unwrap();
        let commands = doc[0]["commands"].as_object().expect("a commands map");
        commands
            .iter()
            .map(|(verb, patterns)| {
                let patterns = patterns
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| regex::Regex::new(&format!("^(?:{})$", p.as_str().unwrap())).unwrap())
                    .collect();
                (verb.clone(), patterns)
            })
            .collect()
    }

    fn allowed(profile: &BTreeMap<String, Vec<regex::Regex>>, command: &str) -> bool {
        let (verb, args) = command.split_once(' ').unwrap_or((command, ""));
        profile.get(verb).is_some_and(|patterns| patterns.iter().any(|p| p.is_match(args)))
    }

    #[test]
    fn every_command_the_host_sends_is_allowed() {
        let profile = profile();
        let key = OnionKey::generate();
        let clients: Vec<String> = (0..3).map(|_| ClientKey::generate().public_base32()).collect();
        let sent = [
            commands::add_onion(&key, 80, 8080, &[]),
            commands::add_onion(&key, 64738, 64738, &clients[..1]),
            commands::add_onion(&key, 1, 65535, &clients),
            commands::del_onion(&key.address()),
            commands::GETINFO_DETACHED.to_string(),
            commands::GETINFO_BOOTSTRAP.to_string(),
            commands::SETEVENTS_HS_DESC.to_string(),
        ];
        for command in &sent {
            assert!(allowed(&profile, command), "the profile refuses {command}");
        }
    }

    #[test]
    fn commands_the_host_never_sends_are_refused() {
        let profile = profile();
        let key = OnionKey::generate();
        for command in [
            "ADD_ONION NEW:ED25519-V3 Flags=Detach Port=80,127.0.0.1:8080".to_string(),
            format!("ADD_ONION ED25519-V3:{} Flags=Detach Port=80,10.0.0.1:8080", key.to_base64()),
            format!(
                "ADD_ONION ED25519-V3:{} Flags=Detach,DiscardPK Port=80,127.0.0.1:8080",
                key.to_base64()
            ),
            format!(
                "ADD_ONION ED25519-V3:{} Flags=Detach Port=80,127.0.0.1:8080 Port=22,127.0.0.1:22 ",
                key.to_base64()
            ),
            "DEL_ONION ../../etc".into(),
            format!("DEL_ONION {} extra", key.address()),
            "GETINFO address".into(),
            "GETINFO onions/detached onions/current".into(),
            "SETEVENTS HS_DESC STREAM".into(),
            "SETCONF SocksPort=0.0.0.0:9050".into(),
            "SIGNAL HALT".into(),
        ] {
            assert!(!allowed(&profile, &command), "the profile allows {command}");
        }
    }
}
