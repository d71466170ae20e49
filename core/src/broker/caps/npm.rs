//! npm packages a plugin may declare: one exact published version each.

/// The syntax is npm's, so the rule lives with the npm backend
/// (`system::npm::Spec`); the capability takes it as it is.
pub use crate::system::npm::Spec as NpmSpec;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_specs_name_one_exact_published_version() {
        let ok = [
            "left-pad@1.3.0",
            "@scope/name@0.1.2",
            "a.b_c@10.20.30",
            "x@1.0.0-rc.1",
            "x@1.0.0-beta-2",
        ];
        for spec in ok {
            let parsed = NpmSpec::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(format!("{}@{}", parsed.name, parsed.version), spec);
        }
        assert_eq!(NpmSpec::parse("@scope/name@0.1.2").unwrap().name, "@scope/name");
        let refused = [
            "left-pad",
            "left-pad@",
            "@1.0.0",
            "left-pad@^1.3.0",
            "left-pad@~1.3.0",
            "left-pad@>=1",
            "left-pad@latest",
            "left-pad@1.3",
            "left-pad@1.3.0 || 2.0.0",
            "left-pad@01.3.0",
            "left-pad@1.3.0+build",
            "Left-Pad@1.3.0",
            "file:/etc/x@1.0.0",
            "git+ssh://host/x@1.0.0",
            "https://host/x.tgz@1.0.0",
            "../x@1.0.0",
            ".hidden@1.0.0",
            "_x@1.0.0",
            "@scope@1.0.0",
            "@/x@1.0.0",
            "@scope/@1.0.0",
            "a/b@1.0.0",
            "x@1.0.0-",
            "x@1.0.0-a..b",
            "x y@1.0.0",
            "-x@1.0.0",
            "x@1.0.0\n",
        ];
        for spec in refused {
            assert!(NpmSpec::parse(spec).is_err(), "{spec} must be refused");
        }
        assert!(NpmSpec::parse(&format!("{}@1.0.0", "a".repeat(215))).is_err());
    }
}
