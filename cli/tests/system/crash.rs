//! kill -9 at each step of enable and of disable; `repair` then reaches a
//! clean, consistent state: an interrupted enable is finished, an
//! interrupted disable is finished.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use super::{Boot, Host, World};

const STEPS: [&str; 5] = ["packages", "configure", "unit", "firewall", "publish"];

pub fn kill_at_each_step_then_repair(w: &World) {
    let host = w.host(Boot::default());
    host.add_plugins(&["web"]);
    for op in ["enable", "disable"] {
        for step in STEPS {
            // Start from the state the operation starts from.
            let enabled = host.info("web")["enabled"] == true;
            if op == "enable" && enabled {
                host.ok(&["web", "disable"]);
            } else if op == "disable" && !enabled {
                host.ok(&["web", "enable"]);
            }
            kill_after(&host, op, step);
            let journal = host.info("web")["journal"].clone();
            assert_eq!(
                journal["operation"], op,
                "the journal shows the interrupted {op} ({op}:{step}): {journal}"
            );
            let repaired = host.ok(&["repair"]);
            assert!(
                repaired.contains(&format!("the interrupted {op} was finished")),
                "{op}:{step}: {repaired}"
            );
            consistent(w, &host, op == "enable", &format!("{op}:{step}"));
        }
    }
}

/// Run `web OP`, wait until it pauses right after STEP's effect (before the
/// journal records it), and SIGKILL it by its pid.
fn kill_after(host: &Host, op: &str, step: &str) {
    let mut child = host
        .ts_command(&["web", op])
        .env("TAILS_SERVER_TEST_PAUSE_AFTER", format!("{op}:{step}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    loop {
        let mut line = String::new();
        // Bounded: the command either pauses or ends (EOF).
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("web {op} ended before pausing after {step}: {said}");
        }
        said += &line;
        if line.contains(&format!("paused after {op}:{step}")) {
            break;
        }
    }
    // nsenter forked the command into the host's PID namespace: its child.
    let nsenter = child.id();
    let children =
        std::fs::read_to_string(format!("/proc/{nsenter}/task/{nsenter}/children")).unwrap();
    let cli: i32 =
        children.split_whitespace().next().expect("the command under nsenter").parse().unwrap();
    // SAFETY: kill(2) on the pid of the command this test started.
    assert_eq!(unsafe { libc::kill(cli, libc::SIGKILL) }, 0);
    child.wait().unwrap();
}

/// Everything says enabled, or everything says disabled.
fn consistent(w: &World, host: &Host, enabled: bool, when: &str) {
    let info = host.info("web");
    assert_eq!(info["enabled"], enabled, "{when}: {info}");
    assert!(info["journal"]["operation"].is_null(), "{when}: nothing is left under way: {info}");
    assert_eq!(host.sys.active_state("lighttpd.service") == "active", enabled, "{when}: unit");
    assert_eq!(
        host.nft_rules().contains("tails-server:web"),
        enabled,
        "{when}: firewall:\n{}",
        host.nft_rules()
    );
    let address = info["address"].as_str().expect("an address once enabled");
    assert_eq!(w.published(address), enabled, "{when}: onion");
}
