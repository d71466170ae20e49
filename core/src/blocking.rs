//! Running the core's async work (tor's control port, systemd and the
//! daemon over D-Bus) from synchronous code: the CLI, the engine's steps.

/// Run one future to its end on the process's runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    // One runtime for the process: a D-Bus connection's tasks live on it.
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a single-threaded tokio runtime")
        })
        .block_on(future)
}
