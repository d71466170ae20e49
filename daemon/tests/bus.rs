//! The daemon on a bus of its own (a private `dbus-daemon` of the system
//! type, with our policy file): it takes its name, answers its version, and
//! fails closed where polkit cannot be asked. polkit itself, and everything
//! the daemon does for real, is tested in the systemd test host (the CLI's
//! system test `daemon_serves_users_as_polkit_allows`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn busctl(address: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("busctl")
        .arg(format!("--address={address}"))
        .args(args)
        .output()
        .expect("busctl (systemd)");
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn daemon_takes_its_name_and_fails_closed_without_polkit() {
    let dir = tempfile::tempdir().unwrap();
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/dbus-1/system.d");
    let socket = dir.path().join("bus");
    let config = dir.path().join("bus.conf");
    // As Debian's system bus: method calls only where a policy allows them.
    std::fs::write(
        &config,
        format!(
            r#"<busconfig><type>system</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>
               <policy context="default"><allow user="*"/><deny own="*"/><deny send_type="method_call"/>
                 <allow send_type="signal"/><allow send_requested_reply="true" send_type="method_return"/><allow send_requested_reply="true" send_type="error"/>
                 <allow receive_type="method_call"/><allow receive_type="method_return"/><allow receive_type="error"/><allow receive_type="signal"/>
                 <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/></policy>
               <includedir>{}</includedir></busconfig>"#,
            socket.display(),
            policy.display()
        ),
    )
    .unwrap();
    let _bus = Killed(
        Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon"),
    );
    let address = format!("unix:path={}", socket.display());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the private bus did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The daemon works on a folder of its own, not on this machine.
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let mut daemon = Killed(
        Command::new(env!("CARGO_BIN_EXE_tails-serverd"))
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .env("TAILS_SERVER_ROOT", &root)
            .stderr(Stdio::piped())
            .spawn()
            .expect("tails-serverd"),
    );
    let mut up = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && !up {
        up = busctl(&address, &["status", "org.tails.Server"]).0;
        assert!(daemon.0.try_wait().unwrap().is_none(), "tails-serverd exited");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "tails-serverd did not take org.tails.Server");
    let (ok, version) = busctl(
        &address,
        &["get-property", "org.tails.Server", "/org/tails/Server", "org.tails.Server1", "Version"],
    );
    assert!(ok && version.trim() == "u 1", "{version}");
    // No polkit on this bus: every request is refused, none is served.
    let (ok, said) = busctl(
        &address,
        &["call", "org.tails.Server", "/org/tails/Server", "org.tails.Server1", "ListServices"],
    );
    assert!(!ok && said.contains("polkit cannot be asked"), "{said}");
    let (ok, said) = busctl(
        &address,
        &[
            "call",
            "org.tails.Server",
            "/org/tails/Server",
            "org.tails.Server1",
            "Enable",
            "s",
            "web",
        ],
    );
    assert!(!ok && said.contains("polkit cannot be asked"), "{said}");
    // Arguments are checked before polkit is asked, and said back escaped.
    let (ok, said) = busctl(
        &address,
        &[
            "call",
            "org.tails.Server",
            "/org/tails/Server",
            "org.tails.Server1",
            "Enable",
            "s",
            "../etc\x1b[31m",
        ],
    );
    assert!(!ok && said.contains("is not a service name") && !said.contains('\x1b'), "{said}");
    // Still serving.
    assert!(
        busctl(
            &address,
            &[
                "get-property",
                "org.tails.Server",
                "/org/tails/Server",
                "org.tails.Server1",
                "Version"
            ]
        )
        .0
    );
}
