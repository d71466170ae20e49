//! For plugin authors: `plugin new` writes a working plugin project from the
//! templates in `sdk/templates/` (a web page served by lighttpd, in Rust,
//! Python or JavaScript), with a `build` script that makes `NAME.wasm`.
//! The templates are built into the program; the SDKs they build with are
//! found on disk (see [`sdk_dir`]).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::display;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    Js,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::Rust, Language::Python, Language::Js];

    /// As `--lang` says it.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Js => "js",
        }
    }

    pub fn named(name: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The SDK folder the project builds with (the Rust SDK is the root).
    fn sdk(self, root: PathBuf) -> PathBuf {
        match self {
            Language::Rust => root,
            Language::Python => root.join("python"),
            Language::Js => root.join("js"),
        }
    }

    /// (path in the project, contents with `@NAME@`, `@CRATE@`, `@SDK@`, executable)
    fn files(self) -> &'static [(&'static str, &'static str, bool)] {
        macro_rules! template {
            ($path:literal) => {
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk/templates/", $path))
            };
        }
        match self {
            Language::Rust => &[
                ("Cargo.toml", template!("rust/Cargo.toml"), false),
                ("src/lib.rs", template!("rust/src/lib.rs"), false),
                ("build", template!("rust/build"), true),
            ],
            Language::Python => &[
                ("plugin.py", template!("python/plugin.py"), false),
                ("build", template!("python/build"), true),
            ],
            Language::Js => &[
                ("plugin.js", template!("js/plugin.js"), false),
                ("build", template!("js/build"), true),
            ],
        }
    }
}

/// Where an installed Tails Server keeps its SDKs (the `sdk` folder of the
/// source tree, with `wit/` beside it).
pub const INSTALLED_SDK: &str = "/usr/share/tails-server/sdk";

/// The SDK root: `TAILS_SERVER_SDK_DIR`, else the installed one, else the
/// source tree this program was built from (a developer's build).
pub fn sdk_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TAILS_SERVER_SDK_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    [PathBuf::from(INSTALLED_SDK), built_from]
        .into_iter()
        .find(|dir| dir.join("README.md").is_file())
        .map(|dir| dir.canonicalize().unwrap_or(dir))
        .ok_or_else(|| anyhow!("the plugin SDK is not installed ({INSTALLED_SDK} is missing); point TAILS_SERVER_SDK_DIR at a Tails Server source tree's sdk folder"))
}

/// What `plugin new` made.
pub struct Created {
    pub folder: PathBuf,
    pub files: Vec<String>,
}

/// Write the project `NAME` for `language` into `parent/NAME`. The folder
/// must not exist; it is written beside, then renamed into place, so a
/// failure leaves nothing behind.
pub fn new_project(name: &str, language: Language, parent: &Path) -> Result<Created> {
    crate::manifest::check_name(name)
        .map_err(|problem| anyhow!("{problem}; nothing was written"))?;
    let folder = parent.join(name);
    if folder.symlink_metadata().is_ok() {
        bail!(
            "{} already exists; nothing was written (choose another name or folder)",
            display::path(&folder)
        );
    }
    let sdk = language.sdk(sdk_dir()?);
    let sdk = sdk
        .to_str()
        .ok_or_else(|| anyhow!("the SDK's path {} is not UTF-8", display::path(&sdk)))?;
    let scratch = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempdir_in(parent)
        .with_context(|| format!("cannot write in {}", display::path(parent)))?;
    let mut files = Vec::new();
    for (path, template, executable) in language.files() {
        let text = template
            .replace("@NAME@", name)
            .replace("@CRATE@", &name.replace('-', "_"))
            .replace("@SDK@", sdk);
        let file = scratch.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap())?;
        std::fs::write(&file, text)?;
        if *executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))?;
        }
        files.push(path.to_string());
    }
    std::fs::write(scratch.path().join(".gitignore"), "*.wasm\ntarget/\n")?;
    std::fs::rename(scratch.keep(), &folder)
        .with_context(|| format!("cannot make {}", display::path(&folder)))?;
    Ok(Created { folder, files })
}

/// Before `plugin try` starts a Tor network: refuse at once what `plugin
/// add` would refuse before compiling, and say what this machine has
/// installed (the trial's host is an overlay of this machine's root, so
/// that is what it can install from).
pub fn before_trying(files: &[PathBuf]) -> Result<std::collections::BTreeSet<String>> {
    for file in files {
        crate::runtime::check_before_compiling(&crate::plugin_file::read_file(file)?)
            .map_err(|e| anyhow!("{} would not be added: {e:#}", display::path(file)))?;
    }
    Ok(crate::system::packages::installed(Path::new("/"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_is_written_whole_or_not_at_all() {
        let parent = tempfile::tempdir().unwrap();
        std::env::set_var("TAILS_SERVER_SDK_DIR", "/opt/sdk");
        let created = new_project("my-site", Language::Python, parent.path()).unwrap();
        let build = std::fs::read_to_string(created.folder.join("build")).unwrap();
        assert!(build.contains("\"/opt/sdk/python/build\" plugin.py my-site.wasm"), "{build}");
        let plugin = std::fs::read_to_string(created.folder.join("plugin.py")).unwrap();
        assert!(plugin.contains("name=\"my-site\"") && !plugin.contains('@'), "{plugin}");
        let again = new_project("my-site", Language::Js, parent.path()).err().unwrap().to_string();
        assert!(again.contains("already exists; nothing was written"), "{again}");
        for bad in ["My Site", "../x", "plugin"] {
            assert!(new_project(bad, Language::Rust, parent.path()).is_err(), "{bad}");
        }
        // Nothing but the one project (no scratch folder left).
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 1);
    }
}
