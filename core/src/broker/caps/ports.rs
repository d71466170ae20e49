//! Ports a service may listen on.

/// Ports no service may listen on: the system's well-known ports (below
/// 1024), tor's and Tails' own (a plugin that published tor's control port
/// on its onion address would hand tor to its clients).
pub fn reserved_port(port: u16) -> Option<&'static str> {
    match port {
        0 => Some("port 0 is not a port"),
        1..=1023 => Some("ports below 1024 are the system's well-known ports"),
        5353 => Some("it is Tails' DNS port"),
        9040 => Some("it is tor's transparent proxy port on Tails"),
        9050..=9052 => Some("it is one of tor's own ports (SOCKS, control)"),
        9061..=9063 => Some("it is one of tor's ports on Tails"),
        9150 | 9151 => Some("it is Tor Browser's tor port"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ports() {
        for port in [0, 22, 80, 443, 951, 5353, 9040, 9050, 9051, 9052, 9150] {
            assert!(reserved_port(port).is_some(), "{port}");
        }
        for port in [1024, 6667, 8080, 9001, 64738] {
            assert!(reserved_port(port).is_none(), "{port}");
        }
    }
}
