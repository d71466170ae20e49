//! Copy the first-party plugins, as the test kit's build made and signed
//! them, into a folder: `scripts/package` ships them from there.
//!
//! What makes a plugin first-party on an installed system is that its bytes
//! are the ones the package ships (`core::plugins::Origin`), never the key
//! that signed it: the test kit's key is in this repository. A release signs
//! them again with the project's own key, kept offline, so that a copy
//! passed around can be told for the release's: `TAILS_SERVER_RELEASE_KEY`
//! names the file holding its 32-byte ed25519 seed (readable by its owner
//! only). Without it they keep the test kit's signature.

use std::os::unix::fs::PermissionsExt;

fn main() {
    let Some(dest) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: [TAILS_SERVER_RELEASE_KEY=SEED_FILE] first-party-plugins FOLDER");
        std::process::exit(2);
    };
    let release_seed = std::env::var_os("TAILS_SERVER_RELEASE_KEY").map(|file| {
        let meta = std::fs::metadata(&file)
            .unwrap_or_else(|e| fail(&format!("{}: {e}", file.to_string_lossy())));
        if meta.permissions().mode() & 0o077 != 0 {
            fail(&format!(
                "{}: the release key must be readable by its owner only (chmod 600)",
                file.to_string_lossy()
            ));
        }
        let seed = std::fs::read(&file)
            .unwrap_or_else(|e| fail(&format!("{}: {e}", file.to_string_lossy())));
        <[u8; 32]>::try_from(seed.as_slice()).unwrap_or_else(|_| {
            fail(&format!(
                "{}: a release key is a 32-byte ed25519 seed, this file has {} bytes",
                file.to_string_lossy(),
                seed.len()
            ))
        })
    });
    std::fs::create_dir_all(&dest).unwrap_or_else(|e| fail(&format!("{}: {e}", dest.display())));
    for (name, built) in tails_server_testkit::fixtures::FIRST_PARTY {
        let to = dest.join(format!("{name}.wasm"));
        let wasm = std::fs::read(built).unwrap_or_else(|e| fail(&format!("{built}: {e}")));
        let wasm = match &release_seed {
            Some(seed) => tails_server_signature::sign(&wasm, seed),
            None => wasm,
        };
        std::fs::write(&to, wasm).unwrap_or_else(|e| fail(&format!("{}: {e}", to.display())));
    }
    if let Some(seed) = &release_seed {
        println!("signed as {}", tails_server_signature::publisher_of(seed).fingerprint());
    }
}

fn fail(why: &str) -> ! {
    eprintln!("first-party-plugins: {why}");
    std::process::exit(1);
}
