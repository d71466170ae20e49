//! tails-server-gui in a test host, used as a person would: as an ordinary
//! user under Xvfb, driven through the accessibility tree by dogtail
//! (`gui_drive.py`), talking to the host's tails-serverd through its real
//! dbus-daemon and polkitd. Add web through the consent dialog, see its
//! options, enable it with its switch and see the steps and "published", read
//! the address from the window and fetch the page at it through the private
//! Tor network, disable. Each screen is saved as a PNG and checked not to be
//! blank. (Typing into the window, the file chooser and the key's reveal are
//! not driven yet: keyboard input does not reach the window under Xvfb.)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tails_server_testkit::tornet::{fetch, Fetch};

use super::daemon::{as_user, daemon_files, eventually, grant, USER};
use super::{Boot, World, BIN};

const PAGE: &str = "<h1>Served through the window</h1>";

/// Where the screenshots go: `TAILS_SERVER_GUI_SHOTS`, or a scratch folder.
fn shots_dir(scratch: &Path) -> PathBuf {
    std::env::var_os("TAILS_SERVER_GUI_SHOTS").map(PathBuf::from).unwrap_or_else(|| scratch.join("shots"))
}

pub fn window_adds_enables_shares_and_disables_web(w: &World) {
    let scratch = tempfile::tempdir().unwrap();
    let shots = shots_dir(scratch.path());
    std::fs::create_dir_all(&shots).unwrap();
    let gui = Path::new(BIN).with_file_name("tails-server-gui");
    assert!(gui.exists(), "{} is missing: build it with `cargo build -p tails-server-gui`", gui.display());
    let mut files = daemon_files(&w.tor.service_control(), scratch.path());
    files.push((gui, "/usr/bin/tails-server-gui".into()));
    files.push((Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/system/gui_drive.py"), "/usr/local/share/gui_drive.py".into()));
    let host = w.host(Boot { files, binds: vec![(shots.clone(), "/var/tmp/shots".into())], ..Boot::default() });
    host.sys.sh(&format!("useradd --create-home {USER} && chmod 0777 /var/tmp/shots"));
    // web's default folder.
    host.sys.sh(&format!("mkdir -p /var/www/html && echo '{PAGE}' > /var/www/html/index.html"));
    grant(&host, &["org.tails.server.read", "org.tails.server.manage", "org.tails.server.secrets", "org.tails.server.plugins"]);
    eventually("the rule", || as_user(&host, super::INSIDE_BIN, &["list"]).status.success());

    // The user's own session: a session bus (for the accessibility bus),
    // an X server, the window, and the driver. The script stops the X
    // server and the window by pid when the driver ends.
    let session = r#"
set -u
Xvfb :5 -screen 0 1000x1100x24 -nolisten tcp >/tmp/xvfb.log 2>&1 & X=$!
for i in $(seq 50); do [ -e /tmp/.X11-unix/X5 ] && break; sleep 0.1; done
export DISPLAY=:5 GDK_BACKEND=x11
tails-server-gui >/tmp/gui.log 2>&1 & G=$!
GTK_MODULES=gail:atk-bridge timeout 900 python3 /usr/local/share/gui_drive.py /var/tmp/shots /tmp/go; r=$?
kill $G $X 2>/dev/null
echo "--- the window's log:"; cat /tmp/gui.log
exit $r
"#;
    let mut child = host
        .sys
        .command("runuser")
        .args(["-u", USER, "--", "env", &format!("HOME=/home/{USER}"), "dbus-run-session", "--", "sh", "-c", session])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    let mut address = None;
    // Bounded: the driver's own waits are bounded and `timeout` ends it.
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        said += &line;
        let line = line.trim_end();
        if let Some(a) = line.strip_prefix("ADDRESS=") {
            address = Some(a.to_string());
            assert!(a.ends_with(".onion") && w.published(a), "the window's address {a} is published");
            // The address the window shows serves the page through Tor (the
            // key from root's command line: the window's reveal is not
            // driven yet).
            let json = host.ts_command(&["web", "connection-info", "--json"]).output().unwrap().stdout;
            let info: serde_json::Value = serde_json::from_slice(&json).unwrap();
            let key = info["clients"][0]["private-key"].as_str().expect("a client key").to_string();
            w.tor.client_key(a, Some(&key));
            match fetch(w.tor.client_socks, a, 80) {
                Fetch::Page(page) => assert!(page.contains(PAGE), "{page}"),
                other => panic!("the page through Tor at the window's address: {other:?}"),
            }
            w.tor.client_key(a, None);
            host.sys.sh("touch /tmp/go");
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success() && said.contains("DONE"), "the window was not driven to the end:\n{said}");
    assert!(address.is_some(), "the window showed the address");
    let info = host.info("web");
    assert_eq!(info["enabled"], false, "disabled from the window");
    // Every screen was saved and shows something.
    for name in ["1-services", "2-consent", "3-service", "4-enabling", "5-sharing", "7-disabled"] {
        let png = shots.join(format!("{name}.png"));
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(!blank(&png), "{} is blank", png.display());
        assert!(bytes.len() > 10_000, "{} is too small to show a window", png.display());
    }
    println!("    screenshots in {} (kept when TAILS_SERVER_GUI_SHOTS names the folder)", shots.display());
}

/// A PNG of one colour (ImageMagick counts the colours).
fn blank(png: &Path) -> bool {
    let out = std::process::Command::new("identify").args(["-format", "%k"]).arg(png).output().expect("identify (imagemagick)");
    String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().unwrap_or(0) < 2
}
