//! Benchmark (not a test): the window, tails-server-gui, as a person opens
//! it, in a systemd test host with the daemon (tails-serverd, its dbus and
//! polkitd) and every first-party service added (12 listed), under Xvfb as
//! an ordinary user:
//!
//! - the first frame drawn, and the services list filled from the daemon,
//!   counted from the moment the process is started;
//! - its resident memory a second after the list is filled: all of it
//!   (VmRSS), and its own (RssAnon: the rest is shared libraries, which a
//!   GNOME session shares with its other GTK 4 applications).
//!
//! As shipped (cairo, OpenGL never set up: see `draw_without_opengl` in
//! gui/src/main.rs) and with GTK's OpenGL renderer (`GSK_RENDERER=gl`;
//! under Xvfb, Mesa's software OpenGL). The first launch runs
//! with cold caches (fontconfig's, the page cache) and is shown apart; the
//! other figures are medians. Goals (the GUI issue): first frame under
//! 300 ms, under 80 MB resident.
//!
//! Run (as root): `cargo bench -p tails-server --bench window`
//! (after `cargo build` of the workspace: the daemon and the window are
//! taken from beside the CLI).

use std::path::Path;

use tails_server_testkit::median;
use tails_server_testkit::systemd_host::{
    boot_tails7, daemon_files, polkit_grant, tails_server_items, window_binary, Item, NetNs,
    INSIDE_BIN,
};

const BIN: &str = env!("CARGO_BIN_EXE_tails-server");
const USER: &str = "tsbench";
const LAUNCHES: usize = 5;
const RENDERERS: &[&str] = &["shipped", "gl"];
const SERVICES: &[&str] = &[
    "web",
    "mumble",
    "irc",
    "gobby",
    "xmpp",
    "icecast",
    "etherpad",
    "drop",
    "wiki",
    "mediawiki",
    "sftp",
    "ssh",
];

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let gui = window_binary(Path::new(BIN));
    // Its own network namespace: the host talks to nothing else. No Tor
    // network: the list shows that tor cannot be reached, at once.
    let netns = NetNs::new(&format!("tswin{}", std::process::id()));
    netns.enter();
    let scratch = tempfile::tempdir().unwrap();
    let no_tor = scratch.path().join("tor");
    std::fs::create_dir(&no_tor).unwrap();
    let mut items = tails_server_items(Path::new(BIN), &no_tor);
    for (here, inside) in daemon_files(Path::new(BIN), "127.0.0.1:9", scratch.path()) {
        items.push(Item::Copy(here, inside));
    }
    items.push(Item::Copy(gui, "/usr/bin/tails-server-gui".into()));
    let host = boot_tails7(&items);
    host.sh(&format!("useradd --create-home {USER}"));
    host.sh(&polkit_grant(USER, &["org.tails.server.read"]));
    for service in SERVICES {
        let out = host
            .command(INSIDE_BIN)
            .args(["plugin", "add", service, "--yes"])
            .env("TAILS_SERVER_IN_PROCESS", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "plugin add {service}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Each launch, in the user's desktop session: the time of the start,
    // then the window's own marks, then its memory once the list is filled.
    // Every wait is bounded; the window is stopped by pid (and the X server
    // by the session).
    let session = format!(
        r#"
export TAILS_SERVER_GUI_TIMING=1
for renderer in {renderers}; do for run in $(seq {LAUNCHES}); do
    echo "renderer: $renderer"
    echo "timing: start $(date +%s.%N)"
    if [ $renderer = shipped ]; then unset GSK_RENDERER; else export GSK_RENDERER=$renderer; fi
    tails-server-gui 2>/tmp/gui.log & G=$!
    for i in $(seq 300); do grep -q 'timing: listed' /tmp/gui.log && break; sleep 0.1; done
    sleep 1
    grep '^timing:' /tmp/gui.log
    grep -E '^(VmRSS|RssAnon):' /proc/$G/status
    echo "end"
    kill $G; wait $G 2>/dev/null
done; done
"#,
        renderers = RENDERERS.join(" ")
    );
    let out = host.desktop_session(USER, &session).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let launches: Vec<Launch> = said.split("end\n").filter_map(Launch::read).collect();
    assert_eq!(
        launches.len(),
        LAUNCHES * RENDERERS.len(),
        "every launch measured:\n{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    println!("tails-server-gui with {} services listed, through tails-serverd, under Xvfb (this machine: {} cores).", SERVICES.len(), std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
    println!(
        "{:<28} {:>12} {:>13} {:>11} {:>10}",
        "", "first frame", "list filled", "resident", "its own"
    );
    let row = |label: &str, first: f64, listed: f64, rss: f64, anon: f64| {
        println!(
            "{label:<28} {:>9.0} ms {:>10.0} ms {:>7.1} MiB {:>6.1} MiB",
            first * 1000.0,
            listed * 1000.0,
            rss / 1024.0,
            anon / 1024.0
        );
    };
    let cold = &launches[0];
    row("first launch (cold caches)", cold.first_frame, cold.listed, cold.rss_kib, cold.anon_kib);
    for renderer in RENDERERS {
        // The cold launch is not in the medians.
        let these: Vec<&Launch> =
            launches.iter().skip(1).filter(|l| l.renderer == *renderer).collect();
        let m = |f: fn(&Launch) -> f64| median(&these.iter().map(|l| f(l)).collect::<Vec<_>>());
        row(
            &format!("{renderer}, median of {}", these.len()),
            m(|l| l.first_frame),
            m(|l| l.listed),
            m(|l| l.rss_kib),
            m(|l| l.anon_kib),
        );
    }
    println!("{:<28} {:>9} ms {:>13} {:>7} MiB", "goal (the GUI issue)", 300, "", 80);
}

/// One launch as the session script printed it: seconds from the start to
/// the first frame and to the list, memory in KiB.
struct Launch {
    renderer: String,
    first_frame: f64,
    listed: f64,
    rss_kib: f64,
    anon_kib: f64,
}

impl Launch {
    fn read(text: &str) -> Option<Launch> {
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        };
        let start = value("timing: start ")?;
        Some(Launch {
            renderer: text.lines().find_map(|l| l.strip_prefix("renderer: "))?.to_string(),
            first_frame: value("timing: first-frame ")? - start,
            listed: value("timing: listed ")? - start,
            rss_kib: value("VmRSS:")?,
            anon_kib: value("RssAnon:")?,
        })
    }
}
