//! For the window bench (`cli/benches/window.rs`): with
//! `TAILS_SERVER_GUI_TIMING=1`, the window says on stderr when its first
//! frame was drawn and when the services list was filled, as seconds since
//! the epoch (the bench knows when it started the process). Silent otherwise.

use std::time::{SystemTime, UNIX_EPOCH};

fn on() -> bool {
    std::env::var_os("TAILS_SERVER_GUI_TIMING").is_some_and(|v| v == "1")
}

pub fn mark(what: &str) {
    if on() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        eprintln!("timing: {what} {:.6}", now.as_secs_f64());
    }
}

/// Mark the first frame `window` draws.
pub fn first_frame(window: &impl gtk::prelude::WidgetExt) {
    if !on() {
        return;
    }
    let Some(clock) = window.frame_clock() else { return };
    let done = std::cell::Cell::new(false);
    clock.connect_after_paint(move |_| {
        if !done.replace(true) {
            mark("first-frame");
        }
    });
}
