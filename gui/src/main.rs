//! tails-server-gui: Tails Server's window. It runs as the desktop user and
//! talks only to tails-serverd over the system bus (`daemon.rs`); every
//! decision is the daemon's, every word it shows from a plugin is made safe
//! (`widgets::safe`). The window (`window.rs`) holds a navigation view of
//! two kinds of page, `services_page.rs` and `service_page.rs`, each a
//! widget with its template under `ui/`; pages tell the window what happened
//! by signals and never reach it. Words are ready for translation (`i18n`).

mod consent;
mod daemon;
mod i18n;
mod options;
mod service_page;
mod services_page;
mod sharing;
mod timing;
mod widgets;
mod window;

use adw::prelude::*;

pub const APP_ID: &str = "org.tails.Server.Gui";

fn main() -> gtk::glib::ExitCode {
    draw_without_opengl();
    i18n::init();
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
            window.add_file(path);
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
fn present(app: &adw::Application) -> window::Window {
    let window = app
        .windows()
        .into_iter()
        .find_map(|w| w.downcast::<window::Window>().ok())
        .unwrap_or_else(|| window::Window::new(app));
    window.present();
    timing::first_frame(&window);
    window
}
