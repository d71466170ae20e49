//! tails-server-gui in a test host, used as a person would: as an ordinary
//! user under Xvfb, driven by `gui_drive.py` (found through the accessibility
//! tree with dogtail, clicked and typed into with xdotool), talking to the
//! host's tails-serverd through its real dbus-daemon and polkitd. Add web from
//! its file through the file chooser and the consent dialog; set its folder
//! (a system folder refused with the plugin's words first); enable it with
//! its switch and see the steps and "published"; reveal and copy the client's
//! key; add a second client and remove it; disable. What the window claims is
//! checked here at each of the driver's checkpoints: the folder taken, the
//! page fetched through the private Tor network at the window's address with
//! the window's key, the clients the daemon has. Each screen is saved as a PNG
//! and checked not to be blank.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tails_server_testkit::systemd_host::window_binary;
use tails_server_testkit::tornet::{fetch, Fetch};

use super::daemon::{as_user, daemon_files, eventually, grant, USER};
use super::{Boot, Host, World, BIN};

const PAGE: &str = "<h1>Served from the folder set in the window</h1>";

/// Where the screenshots go: `TAILS_SERVER_GUI_SHOTS`, or a scratch folder.
fn shots_dir(scratch: &Path) -> PathBuf {
    std::env::var_os("TAILS_SERVER_GUI_SHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| scratch.join("shots"))
}

pub fn window_adds_enables_shares_and_disables_web(w: &World) {
    let scratch = tempfile::tempdir().unwrap();
    let shots = shots_dir(scratch.path());
    std::fs::create_dir_all(&shots).unwrap();
    let gui = window_binary(Path::new(BIN));
    let mut files = daemon_files(&w.tor.service_control(), scratch.path());
    files.push((gui, "/usr/bin/tails-server-gui".into()));
    files.push((
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/system/gui_drive.py"),
        "/usr/local/share/gui_drive.py".into(),
    ));
    let host = w.host(Boot {
        files,
        binds: vec![(shots.clone(), "/var/tmp/shots".into())],
        ..Boot::default()
    });
    host.sys.sh("chmod 0777 /var/tmp/shots");
    // The plugin file someone gave the person, and the folder of their site
    // (made theirs by the administrator: the web server is kept away from
    // home folders). web's default folder holds another page, so the page
    // fetched proves the folder set in the window was taken.
    let site = "/srv/site";
    host.sys.sh(&format!(
        "cp /usr/share/tails-server/plugins/web.wasm /home/{USER}/web.wasm && chown {USER} /home/{USER}/web.wasm \
         && mkdir -p {site} && echo '{PAGE}' > {site}/index.html && chown -R {USER} {site} \
         && mkdir -p /var/www/html && echo '<h1>the default folder</h1>' > /var/www/html/index.html"
    ));
    grant(
        &host,
        &[
            "org.tails.server.read",
            "org.tails.server.manage",
            "org.tails.server.secrets",
            "org.tails.server.plugins",
        ],
    );
    eventually("the rule", || as_user(&host, super::INSIDE_BIN, &["list"]).status.success());

    // The user's own desktop session (a session bus, for the accessibility
    // bus, and an X server): the window and the driver. The window is
    // stopped by pid when the driver ends.
    let session = format!(
        "tails-server-gui >/tmp/gui.log 2>&1 & G=$!\n\
         GTK_MODULES=gail:atk-bridge timeout 900 python3 /usr/local/share/gui_drive.py /var/tmp/shots /home/{USER}/web.wasm {site}; r=$?\n\
         kill $G 2>/dev/null\n\
         echo \"--- the window's log:\"; cat /tmp/gui.log\n\
         exit $r"
    );
    let mut child = host
        .sys
        .desktop_session(USER, &session)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    let mut address = None;
    let mut checked = Vec::new();
    let clients = || -> Vec<String> {
        let json = host.ts_command(&["web", "client", "list", "--json"]).output().unwrap().stdout;
        serde_json::from_slice::<Vec<String>>(&json).unwrap_or_else(|e| {
            panic!("client list --json: {e}: {}", String::from_utf8_lossy(&json))
        })
    };
    // Bounded: the driver's own waits are bounded and `timeout` ends it.
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        said += &line;
        let line = line.trim_end();
        if let Some(a) = line.strip_prefix("ADDRESS=") {
            assert!(
                a.ends_with(".onion") && w.published(a),
                "the window's address {a} is published"
            );
            address = Some(a.to_string());
        }
        let Some(check) = line.strip_prefix("CHECK ") else { continue };
        let (name, value) = check.split_once(' ').unwrap_or((check, ""));
        match name {
            "folder" => assert_eq!(
                host.info("web")["options"]["folder"],
                value,
                "the folder typed into the window"
            ),
            "fetched" => {
                // The window's address serves the page through Tor with the
                // key the window revealed and copied.
                let a = address.as_deref().expect("the address before the key");
                w.tor.client_key(a, Some(value));
                match fetch(w.tor.client_socks, a, 80) {
                    Fetch::Page(page) => assert!(page.contains(PAGE), "{page}"),
                    other => panic!("the page through Tor at the window's address with the window's key: {other:?}"),
                }
                w.tor.client_key(a, None);
            }
            "added" => assert!(
                clients().iter().any(|c| c == value),
                "{value} added from the window: {:?}",
                clients()
            ),
            "removed" => assert!(
                !clients().iter().any(|c| c == value),
                "{value} removed from the window: {:?}",
                clients()
            ),
            other => panic!("the driver asked for an unknown check {other}"),
        }
        checked.push(name.to_string());
        host.sys.sh(&format!("touch /tmp/ok-{name}"));
    }
    let status = child.wait().unwrap();
    if !(status.success() && said.contains("DONE")) {
        // What the daemon did meanwhile (a job that never started or never ended).
        let journal = host.sys.run(
            "journalctl",
            &["-u", "tails-serverd.service", "--no-pager", "-n", "60", "-o", "cat"],
        );
        panic!(
            "the window was not driven to the end:\n{said}\nthe daemon's journal:\n{}",
            String::from_utf8_lossy(&journal.stdout)
        );
    }
    assert!(address.is_some(), "the window showed the address");
    assert_eq!(checked, ["folder", "fetched", "added", "removed"], "every check was made");
    let info = host.info("web");
    assert_eq!(info["enabled"], false, "disabled from the window");
    // Every screen was saved and shows something.
    for name in [
        "1-services",
        "2-chooser",
        "2-consent",
        "3-service",
        "3-refused",
        "4-enabling",
        "5-sharing",
        "5-narrow",
        "6-clients",
        "7-disabled",
    ] {
        let png = shots.join(format!("{name}.png"));
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(!blank(&host, &format!("/var/tmp/shots/{name}.png")), "{} is blank", png.display());
        assert!(bytes.len() > 10_000, "{} is too small to show a window", png.display());
    }
    println!(
        "    screenshots in {} (kept when TAILS_SERVER_GUI_SHOTS names the folder)",
        shots.display()
    );
}

/// A PNG of one colour (the host's ImageMagick counts the colours; `inside`
/// is its path in the host).
fn blank(host: &Host, inside: &str) -> bool {
    let out = host.sys.run("identify", &["-format", "%k", inside]);
    assert!(out.status.success(), "identify {inside}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().unwrap_or(0) < 2
}
