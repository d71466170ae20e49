//! tails-server-gui: Tails Server's window. It runs as the desktop user and
//! talks only to tails-serverd over the system bus (`daemon.rs`); every
//! decision is the daemon's, every word it shows from a plugin is made safe
//! (`widgets::safe`).

// Built against GTK 4.18 and libadwaita 1.7, which deprecate the dialogs this
// window still uses (GtkFileChooserNative, AdwMessageDialog); they work there
// until the window moves to GtkFileDialog and AdwAlertDialog.
#![allow(deprecated)]

mod consent;
mod daemon;
mod options;
mod service;
mod sharing;
mod timing;
mod widgets;
mod window;

use adw::prelude::*;

pub const APP_ID: &str = "org.tails.Server.Gui";

fn main() -> gtk::glib::ExitCode {
    draw_without_opengl();
    let app = adw::Application::builder()
        .application_id(APP_ID)
        .flags(gtk::gio::ApplicationFlags::HANDLES_OPEN)
        .build();
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

/// A window of forms needs no OpenGL, and on Tails memory is scarce (the
/// whole system lives in RAM). Measured by the window bench with 12 services
/// listed (software OpenGL under Xvfb): GTK's OpenGL renderer 173 MiB
/// resident and a first frame after 299 ms; cairo with OpenGL never set up,
/// see the bench's figures in the README. Someone who sets GSK_RENDERER or
/// GDK_DEBUG themselves gets what they asked for. Runs before any thread
/// exists (setting the environment is not thread-safe).
fn draw_without_opengl() {
    if std::env::var_os("GSK_RENDERER").is_none() && std::env::var_os("GDK_DEBUG").is_none() {
        std::env::set_var("GSK_RENDERER", "cairo");
        std::env::set_var("GDK_DEBUG", "gl-disable");
    }
}

/// The window, made once per process.
fn present(app: &adw::Application) -> std::rc::Rc<window::App> {
    thread_local! {
        static WINDOW: std::cell::RefCell<Option<std::rc::Rc<window::App>>> = const { std::cell::RefCell::new(None) };
    }
    let window =
        WINDOW.with(|w| w.borrow_mut().get_or_insert_with(|| window::App::new(app)).clone());
    window.window.present();
    timing::first_frame(&window.window);
    window
}
