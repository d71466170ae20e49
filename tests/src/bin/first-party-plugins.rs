//! Copy the first-party plugins, as the test kit's build made and signed
//! them, into a folder: `scripts/package` ships them from there. They carry
//! the test publisher's signature (see `tests/build.rs`): a release signs
//! them again with the project's own key, kept offline.

fn main() {
    let Some(dest) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: first-party-plugins FOLDER");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dest).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
    for (name, built) in tails_server_testkit::fixtures::FIRST_PARTY {
        let to = dest.join(format!("{name}.wasm"));
        std::fs::copy(built, &to).unwrap_or_else(|e| panic!("{built} -> {}: {e}", to.display()));
    }
}
