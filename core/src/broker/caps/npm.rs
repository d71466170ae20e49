//! npm packages a plugin may declare: one exact published version each.

/// An npm package at one exact version, as a plugin declares it:
/// `NAME@VERSION` or `@SCOPE/NAME@VERSION`. Names follow npm's rules for new
/// packages (lower case, URL-safe, at most 214 characters); the version is an
/// exact semantic version. Ranges, tags, URLs, git and `file:` specifiers are
/// refused: the user consents to one published build, fetched from the
/// registry, never to "whatever `latest` is" or to a path on this computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmSpec {
    pub name: String,
    pub version: String,
}

impl NpmSpec {
    pub fn parse(spec: &str) -> Result<NpmSpec, String> {
        let bad = |why: &str| {
            Err(format!("{spec:?} is not an npm package at an exact version ({why}); write NAME@1.2.3 or @SCOPE/NAME@1.2.3"))
        };
        // The version follows the last `@`; a scope's `@` is the first character.
        let Some((name, version)) = spec.rsplit_once('@').filter(|(name, _)| !name.is_empty())
        else {
            return bad("no version");
        };
        let part_ok = |p: &str| {
            !p.is_empty()
                && !p.starts_with(['.', '_', '-'])
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c))
        };
        let name_ok = name.len() <= 214
            && match name.strip_prefix('@') {
                Some(scoped) => scoped
                    .split_once('/')
                    .is_some_and(|(scope, bare)| part_ok(scope) && part_ok(bare)),
                None => part_ok(name),
            };
        if !name_ok {
            return bad("bad name");
        }
        let (core, pre) = match version.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (version, None),
        };
        let numbers: Vec<&str> = core.split('.').collect();
        let number_ok = |n: &&str| {
            !n.is_empty()
                && n.len() <= 16
                && n.chars().all(|c| c.is_ascii_digit())
                && (n.len() == 1 || !n.starts_with('0'))
        };
        let pre_ok = pre.is_none_or(|p| {
            !p.is_empty()
                && p.split('.').all(|id| {
                    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        });
        if numbers.len() != 3 || !numbers.iter().all(number_ok) || !pre_ok {
            return bad("not an exact version");
        }
        Ok(NpmSpec { name: name.into(), version: version.into() })
    }
}

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
