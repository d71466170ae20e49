//! tails-server-gui: Tails Server's window. It runs as the desktop user and
//! talks only to tails-serverd over the system bus (`daemon.rs`); every
//! decision is the daemon's, every word it shows from a plugin is made safe
//! (`widgets::safe`).

mod consent;
mod daemon;
mod options;
mod service;
mod sharing;
mod widgets;
mod window;

use adw::prelude::*;

pub const APP_ID: &str = "org.tails.Server.Gui";

fn main() -> gtk::glib::ExitCode {
    let app = adw::Application::builder().application_id(APP_ID).flags(gtk::gio::ApplicationFlags::HANDLES_OPEN).build();
    app.connect_activate(|app| present(app).show_list());
    // `tails-server-gui FILE.wasm` (or "Open With" in the file manager):
    // the consent dialog for that file.
    app.connect_open(|app, files, _| {
        let window = present(app);
        window.show_list();
        for path in files.iter().filter_map(|f| f.path()) {
            consent::add_file(&window, path);
        }
    });
    app.run()
}

/// The window, made once per process.
fn present(app: &adw::Application) -> std::rc::Rc<window::App> {
    thread_local! {
        static WINDOW: std::cell::RefCell<Option<std::rc::Rc<window::App>>> = const { std::cell::RefCell::new(None) };
    }
    let window = WINDOW.with(|w| w.borrow_mut().get_or_insert_with(|| window::App::new(app)).clone());
    window.window.present();
    window
}
