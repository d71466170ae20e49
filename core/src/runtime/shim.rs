//! What every shim for an older contract shares: while a type has the same
//! shape in the older contract as in the current one, the conversions are
//! the same code, written once here. A shim module names the older bindings
//! `old` and the current ones `new`, then calls [`same_shapes!`].

/// The imports (convert, then the current import, and so the broker,
/// decides) and the conversions of the types whose shape has not changed.
macro_rules! same_shapes {
    () => {
        // The imports: convert, then the current import (and so the broker) decides.

        impl old::types::Host for HostState {}

        impl old::packages::Host for HostState {
            fn install(&mut self, names: Vec<String>) -> Result<(), old::types::Error> {
                new::packages::Host::install(self, names).map_err(Into::into)
            }
        }

        impl old::config::Host for HostState {
            fn write(
                &mut self,
                path: String,
                contents: String,
                secret: bool,
            ) -> Result<(), old::types::Error> {
                new::config::Host::write(self, path, contents, secret).map_err(Into::into)
            }
            fn read(&mut self, path: String) -> Result<Option<String>, old::types::Error> {
                new::config::Host::read(self, path).map_err(Into::into)
            }
        }

        impl old::network::Host for HostState {
            fn open_port(
                &mut self,
                port: u16,
                protocol: old::types::Protocol,
            ) -> Result<(), old::types::Error> {
                new::network::Host::open_port(self, port, protocol.into()).map_err(Into::into)
            }
        }

        impl old::log::Host for HostState {
            fn log(&mut self, level: old::log::Level, message: String) {
                let level = match level {
                    old::log::Level::Debug => new::log::Level::Debug,
                    old::log::Level::Info => new::log::Level::Info,
                    old::log::Level::Warn => new::log::Level::Warn,
                    old::log::Level::Error => new::log::Level::Error,
                };
                new::log::Host::log(self, level, message)
            }
        }

        // The types, both ways where both are needed.

        use new::types as n;
        use old::types as o;

        impl From<n::Error> for o::Error {
            fn from(e: n::Error) -> Self {
                match e {
                    n::Error::Denied(m) => o::Error::Denied(m),
                    n::Error::Invalid(m) => o::Error::Invalid(m),
                    n::Error::Failed(m) => o::Error::Failed(m),
                }
            }
        }

        impl From<o::Error> for n::Error {
            fn from(e: o::Error) -> Self {
                match e {
                    o::Error::Denied(m) => n::Error::Denied(m),
                    o::Error::Invalid(m) => n::Error::Invalid(m),
                    o::Error::Failed(m) => n::Error::Failed(m),
                }
            }
        }

        impl From<o::Protocol> for n::Protocol {
            fn from(p: o::Protocol) -> Self {
                match p {
                    o::Protocol::Tcp => n::Protocol::Tcp,
                    o::Protocol::Udp => n::Protocol::Udp,
                }
            }
        }

        impl From<o::OptionValue> for n::OptionValue {
            fn from(v: o::OptionValue) -> Self {
                match v {
                    o::OptionValue::Boolean(b) => n::OptionValue::Boolean(b),
                    o::OptionValue::Text(s) => n::OptionValue::Text(s),
                    o::OptionValue::Secret(s) => n::OptionValue::Secret(s),
                    o::OptionValue::Port(p) => n::OptionValue::Port(p),
                    o::OptionValue::Integer(i) => n::OptionValue::Integer(i),
                    o::OptionValue::Choice(s) => n::OptionValue::Choice(s),
                }
            }
        }

        impl From<&n::OptionValue> for o::OptionValue {
            fn from(v: &n::OptionValue) -> Self {
                match v.clone() {
                    n::OptionValue::Boolean(b) => o::OptionValue::Boolean(b),
                    n::OptionValue::Text(s) => o::OptionValue::Text(s),
                    n::OptionValue::Secret(s) => o::OptionValue::Secret(s),
                    n::OptionValue::Port(p) => o::OptionValue::Port(p),
                    n::OptionValue::Integer(i) => o::OptionValue::Integer(i),
                    n::OptionValue::Choice(s) => o::OptionValue::Choice(s),
                }
            }
        }

        impl From<&n::OptionSetting> for o::OptionSetting {
            fn from(s: &n::OptionSetting) -> Self {
                o::OptionSetting { name: s.name.clone(), value: (&s.value).into() }
            }
        }

        pub fn settings(settings: &[n::OptionSetting]) -> Vec<o::OptionSetting> {
            settings.iter().map(Into::into).collect()
        }

        pub fn connection_request(r: &n::ConnectionRequest) -> o::ConnectionRequest {
            o::ConnectionRequest {
                address: r.address.clone(),
                virtual_port: r.virtual_port,
                clients: r
                    .clients
                    .iter()
                    .map(|c| o::ClientCredential {
                        name: c.name.clone(),
                        private_key: c.private_key.clone(),
                    })
                    .collect(),
                options: settings(&r.options),
            }
        }

        pub fn connection_text(t: o::ConnectionText) -> n::ConnectionText {
            n::ConnectionText { text: t.text, gui_text: t.gui_text }
        }

        pub fn result(r: Result<(), o::Error>) -> Result<(), n::Error> {
            r.map_err(Into::into)
        }

        fn option_spec(s: o::OptionSpec) -> n::OptionSpec {
            let kind = match s.kind {
                o::OptionKind::Boolean => n::OptionKind::Boolean,
                o::OptionKind::Text => n::OptionKind::Text,
                o::OptionKind::Secret => n::OptionKind::Secret,
                o::OptionKind::Port => n::OptionKind::Port,
                o::OptionKind::Integer(r) => {
                    n::OptionKind::Integer(n::IntegerRange { min: r.min, max: r.max })
                }
                o::OptionKind::Choice(c) => n::OptionKind::Choice(c),
            };
            n::OptionSpec {
                name: s.name,
                name_in_gui: s.name_in_gui,
                description: s.description,
                group: s.group,
                kind,
                default: s.default.into(),
                masked: s.masked,
                read_only: s.read_only,
            }
        }

        fn capabilities(caps: o::Capabilities) -> n::Capabilities {
            n::Capabilities {
                packages: caps.packages,
                npm_packages: caps.npm_packages,
                config_paths: caps.config_paths,
                ports: caps
                    .ports
                    .into_iter()
                    .map(|p| n::PortRequest {
                        port: p.port,
                        protocol: p.protocol.into(),
                        purpose: p.purpose,
                    })
                    .collect(),
            }
        }
    };
}

/// The current `ServiceInfo` from an older one `$i` whose fields but the
/// unit kept their shape, with the unit `$unit` (already converted).
macro_rules! service_info {
    ($i:ident, $unit:expr) => {
        n::ServiceInfo {
            name: $i.name,
            name_in_gui: $i.name_in_gui,
            description: $i.description,
            client_application: $i.client_application,
            client_application_in_gui: $i.client_application_in_gui,
            documentation: $i.documentation,
            unit: $unit,
            default_target_port: $i.default_target_port,
            default_virtual_port: $i.default_virtual_port,
            icon_name: $i.icon_name,
            persistent_paths: $i.persistent_paths,
            options: $i.options.into_iter().map(option_spec).collect(),
            capabilities: capabilities($i.capabilities),
        }
    };
}

pub(super) use {same_shapes, service_info};
