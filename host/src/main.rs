//! The `tails-server` program (and, through a link named after a service,
//! that service's command).

fn main() -> std::process::ExitCode {
    tails_server::main()
}
