//! Service options: the ones every service has, the plugin's own, typed
//! parsing of what the user types, and the values handed to `configure`.

use std::collections::BTreeMap;

use crate::bindings::tails::server::types::{
    IntegerRange, OptionKind, OptionSetting, OptionSpec, OptionValue, ServiceInfo, ServiceUnit,
};

pub const VIRTUAL_PORT: &str = "virtual-port";
/// The port the server listens on: the plugin's declared (and granted)
/// default-target-port. Passed to `configure`, not settable, because the
/// user's grant names that port.
pub const TARGET_PORT: &str = "target-port";
pub const PERSISTENCE: &str = "persistence";
pub const AUTOSTART: &str = "autostart";
pub const ALLOW_LOCALHOST: &str = "allow-localhost";
pub const ALLOW_LAN: &str = "allow-lan";
pub const CLIENT_AUTHORIZATION: &str = "client-authorization";
/// Derived from allow-lan, passed to `configure`, not settable.
pub const LISTEN_ADDRESS: &str = "listen-address";
/// Values the host derives and passes to `configure`; no plugin option may
/// take their names.
pub const DERIVED: &[&str] = &[TARGET_PORT, LISTEN_ADDRESS, ONION_ADDRESS, LOGIN_USER];
/// The service's onion address, passed to `configure` (and to
/// `validate-option`); the key is made when the plugin is added.
pub const ONION_ADDRESS: &str = "onion-address";

/// The name of the service's login account, passed to `configure` and
/// `connection-info` when its unit asks for one (`login-shell`).
pub const LOGIN_USER: &str = "login-user";

/// Length of generated secrets (base32-ish alphabet: about 100 bits).
const SECRET_LENGTH: usize = 20;

fn spec(
    name: &str,
    gui: &str,
    description: &str,
    group: &str,
    kind: OptionKind,
    default: OptionValue,
) -> OptionSpec {
    OptionSpec {
        name: name.into(),
        name_in_gui: gui.into(),
        description: description.into(),
        group: group.into(),
        kind,
        default,
        masked: false,
        read_only: false,
    }
}

/// The options every service has, with defaults from the plugin's description.
pub fn standard(info: &ServiceInfo) -> Vec<OptionSpec> {
    let virt = info.default_virtual_port.unwrap_or(info.default_target_port);
    use OptionKind::{Boolean, Port};
    use OptionValue as V;
    vec![
        spec(
            VIRTUAL_PORT,
            "Onion service port",
            "The port clients connect to on the onion address",
            "Onion service",
            Port,
            V::Port(virt),
        ),
        spec(
            PERSISTENCE,
            "Persistence",
            "Keep configuration, data, onion address and keys across reboots",
            "Onion service",
            Boolean,
            V::Boolean(false),
        ),
        spec(
            AUTOSTART,
            "Autostart",
            "Enable the service again after booting",
            "Onion service",
            Boolean,
            V::Boolean(false),
        ),
        spec(
            ALLOW_LOCALHOST,
            "Allow localhost",
            "Allow connections from this computer",
            "Access",
            Boolean,
            V::Boolean(true),
        ),
        spec(
            ALLOW_LAN,
            "Allow LAN",
            "Allow connections from the local network, not only through Tor",
            "Access",
            Boolean,
            V::Boolean(false),
        ),
        spec(
            CLIENT_AUTHORIZATION,
            "Client authorization",
            "Only clients with a key can connect; without it, anyone who knows the address can",
            "Access",
            Boolean,
            V::Boolean(true),
        ),
    ]
}

/// All options of a service: the standard ones, then the plugin's own.
pub fn all_specs(info: &ServiceInfo) -> Vec<OptionSpec> {
    let mut specs = standard(info);
    specs.extend(info.options.iter().cloned());
    specs
}

pub fn find<'a>(specs: &'a [OptionSpec], name: &str) -> Option<&'a OptionSpec> {
    specs.iter().find(|s| s.name == name)
}

/// What values an option takes, for error messages and help.
pub fn allowed(kind: &OptionKind) -> String {
    match kind {
        OptionKind::Boolean => "true or false".into(),
        OptionKind::Text => "a line of text".into(),
        OptionKind::Secret => "a line of text (kept secret)".into(),
        OptionKind::Port => "a port number from 1 to 65535".into(),
        OptionKind::Integer(IntegerRange { min, max }) => {
            format!("a whole number from {min} to {max}")
        }
        OptionKind::Choice(choices) => format!("one of: {}", choices.join(", ")),
    }
}

/// The kind as a front end renders it: `{"type": "integer", "min", "max"}`,
/// `{"type": "choice", "choices": [...]}`, or just the type.
pub fn kind_document(kind: &OptionKind) -> tails_server_types::documents::OptionKind {
    use tails_server_types::documents::OptionKind as Doc;
    match kind {
        OptionKind::Boolean => Doc::Boolean,
        OptionKind::Text => Doc::Text,
        OptionKind::Secret => Doc::Secret,
        OptionKind::Port => Doc::Port { min: 1, max: 65535 },
        OptionKind::Integer(IntegerRange { min, max }) => Doc::Integer { min: *min, max: *max },
        OptionKind::Choice(choices) => {
            Doc::Choice { choices: choices.iter().map(|c| crate::display::line(c)).collect() }
        }
    }
}

/// Parse what the user typed into a value of the option's kind.
pub fn parse(spec: &OptionSpec, text: &str) -> Result<OptionValue, String> {
    let bad = || {
        format!("`{text}` is not a valid value for {}: expected {}", spec.name, allowed(&spec.kind))
    };
    let value = match &spec.kind {
        OptionKind::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => OptionValue::Boolean(true),
            "false" | "no" | "off" | "0" => OptionValue::Boolean(false),
            _ => return Err(bad()),
        },
        OptionKind::Text | OptionKind::Secret => {
            if text.chars().any(|c| c.is_control()) || text.len() > 4096 {
                return Err(format!(
                    "{} must be one line of at most 4096 bytes without control characters",
                    spec.name
                ));
            }
            if matches!(spec.kind, OptionKind::Secret) {
                OptionValue::Secret(text.into())
            } else {
                OptionValue::Text(text.into())
            }
        }
        OptionKind::Port => match text.parse::<u16>() {
            Ok(p) if p > 0 => OptionValue::Port(p),
            _ => return Err(bad()),
        },
        OptionKind::Integer(IntegerRange { min, max }) => match text.parse::<i64>() {
            Ok(i) if (*min..=*max).contains(&i) => OptionValue::Integer(i),
            _ => return Err(bad()),
        },
        OptionKind::Choice(choices) if choices.iter().any(|c| c == text) => {
            OptionValue::Choice(text.into())
        }
        OptionKind::Choice(_) => return Err(bad()),
    };
    Ok(value)
}

/// Does a value have the option's kind (for defaults a plugin declares)?
pub fn fits(kind: &OptionKind, value: &OptionValue) -> bool {
    match (kind, value) {
        (OptionKind::Boolean, OptionValue::Boolean(_))
        | (OptionKind::Text, OptionValue::Text(_))
        | (OptionKind::Secret, OptionValue::Secret(_)) => true,
        (OptionKind::Port, OptionValue::Port(p)) => *p > 0,
        (OptionKind::Integer(r), OptionValue::Integer(i)) => (r.min..=r.max).contains(i),
        (OptionKind::Choice(choices), OptionValue::Choice(c)) => choices.contains(c),
        _ => false,
    }
}

pub fn is_secret(spec: &OptionSpec) -> bool {
    spec.masked || matches!(spec.kind, OptionKind::Secret)
}

/// A new random secret.
pub fn generate_secret() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; SECRET_LENGTH];
    getrandom::fill(&mut bytes).expect("the system's random number generator failed");
    // 256 is not a multiple of 56: reject the top values to stay uniform.
    let mut out = String::new();
    let mut pool = bytes.to_vec();
    while out.len() < SECRET_LENGTH {
        if pool.is_empty() {
            let mut more = [0u8; SECRET_LENGTH];
            getrandom::fill(&mut more).expect("the system's random number generator failed");
            pool.extend_from_slice(&more);
        }
        let b = pool.pop().unwrap() as usize;
        if b < 256 - 256 % ALPHABET.len() {
            out.push(ALPHABET[b % ALPHABET.len()] as char);
        }
    }
    out
}

/// Fill in secrets with an empty default that have no value yet. Returns
/// whether anything was generated (and so must be saved).
pub fn generate_missing_secrets(
    specs: &[OptionSpec],
    values: &mut BTreeMap<String, OptionValue>,
) -> bool {
    let mut changed = false;
    for spec in specs {
        let empty_default = matches!(&spec.default, OptionValue::Secret(s) if s.is_empty());
        if matches!(spec.kind, OptionKind::Secret)
            && empty_default
            && !values.contains_key(&spec.name)
        {
            values.insert(spec.name.clone(), OptionValue::Secret(generate_secret()));
            changed = true;
        }
    }
    changed
}

/// The current value of every option (set or default).
pub fn current(specs: &[OptionSpec], values: &BTreeMap<String, OptionValue>) -> Vec<OptionSetting> {
    specs
        .iter()
        .map(|spec| OptionSetting {
            name: spec.name.clone(),
            value: values.get(&spec.name).cloned().unwrap_or_else(|| spec.default.clone()),
        })
        .collect()
}

/// What `configure` receives: every option's value, the target port and the
/// listen address derived from allow-lan.
pub fn for_configure(
    info: &ServiceInfo,
    specs: &[OptionSpec],
    values: &BTreeMap<String, OptionValue>,
    onion_address: &str,
) -> Vec<OptionSetting> {
    let mut settings = current(specs, values);
    settings.push(OptionSetting {
        name: ONION_ADDRESS.into(),
        value: OptionValue::Text(onion_address.into()),
    });
    settings.push(OptionSetting {
        name: TARGET_PORT.into(),
        value: OptionValue::Port(info.default_target_port),
    });
    let lan = settings.iter().any(|s| s.name == ALLOW_LAN && s.value == OptionValue::Boolean(true));
    let address = if lan { "0.0.0.0" } else { "127.0.0.1" };
    settings.push(OptionSetting {
        name: LISTEN_ADDRESS.into(),
        value: OptionValue::Text(address.into()),
    });
    settings.extend(login_user(info));
    settings
}

/// What `connection-info` receives: every option's value, and the login
/// account's name where there is one.
pub fn for_connection(
    info: &ServiceInfo,
    specs: &[OptionSpec],
    values: &BTreeMap<String, OptionValue>,
) -> Vec<OptionSetting> {
    let mut settings = current(specs, values);
    settings.extend(login_user(info));
    settings
}

fn login_user(info: &ServiceInfo) -> Option<OptionSetting> {
    match &info.unit {
        ServiceUnit::HostWritten(spec) if spec.login_shell => Some(OptionSetting {
            name: LOGIN_USER.into(),
            value: OptionValue::Text(crate::system::accounts::login_of(&info.name)),
        }),
        _ => None,
    }
}

/// A value as JSON (and so YAML), masked unless `reveal`.
pub fn to_json(spec: &OptionSpec, value: &OptionValue, reveal: bool) -> serde_json::Value {
    use serde_json::Value as J;
    if is_secret(spec) && !reveal {
        return J::String("********".into());
    }
    match value {
        OptionValue::Boolean(b) => J::Bool(*b),
        OptionValue::Text(s) | OptionValue::Secret(s) | OptionValue::Choice(s) => {
            J::String(s.clone())
        }
        OptionValue::Port(p) => J::from(*p),
        OptionValue::Integer(i) => J::from(*i),
    }
}

/// A value as plain text, for `get-option`.
pub fn to_text(value: &OptionValue) -> String {
    match value {
        OptionValue::Boolean(b) => b.to_string(),
        OptionValue::Text(s) | OptionValue::Secret(s) | OptionValue::Choice(s) => s.clone(),
        OptionValue::Port(p) => p.to_string(),
        OptionValue::Integer(i) => i.to_string(),
    }
}

/// Option and service names: what a CLI word can safely be.
pub fn valid_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_of(kind: OptionKind) -> OptionSpec {
        spec("x", "X", "", "", kind, OptionValue::Boolean(false))
    }

    #[test]
    fn parses_by_kind() {
        let range = OptionKind::Integer(IntegerRange { min: 1, max: 10 });
        let choice = OptionKind::Choice(vec!["a".into(), "b".into()]);
        let table: &[(OptionKind, &str, Option<OptionValue>)] = &[
            (OptionKind::Boolean, "yes", Some(OptionValue::Boolean(true))),
            (OptionKind::Boolean, "OFF", Some(OptionValue::Boolean(false))),
            (OptionKind::Boolean, "maybe", None),
            (OptionKind::Port, "80", Some(OptionValue::Port(80))),
            (OptionKind::Port, "0", None),
            (OptionKind::Port, "65536", None),
            (OptionKind::Port, "-1", None),
            (range.clone(), "10", Some(OptionValue::Integer(10))),
            (range.clone(), "11", None),
            (range, "ten", None),
            (choice.clone(), "b", Some(OptionValue::Choice("b".into()))),
            (choice, "c", None),
            (OptionKind::Text, "hello world", Some(OptionValue::Text("hello world".into()))),
            (OptionKind::Text, "two\nlines", None),
            (OptionKind::Secret, "s3cret", Some(OptionValue::Secret("s3cret".into()))),
        ];
        for (kind, text, expected) in table {
            let got = parse(&spec_of(kind.clone()), text);
            assert_eq!(got.as_ref().ok(), expected.as_ref(), "{kind:?} {text:?}: {got:?}");
        }
    }

    #[test]
    fn errors_say_what_is_allowed() {
        let err = parse(&spec_of(OptionKind::Integer(IntegerRange { min: 1, max: 1000 })), "0")
            .unwrap_err();
        assert!(err.contains("from 1 to 1000"), "{err}");
    }

    #[test]
    fn secrets_are_random_and_well_formed() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), SECRET_LENGTH);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn names() {
        for good in ["mumble", "web", "max-users", "x1"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "Mumble", "-x", "x-", "a b", "a/b", "1x", "ä"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
