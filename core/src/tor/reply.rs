//! Tor control-protocol replies, parsed by pure functions (control-spec §2.3, §4).
//!
//! A reply is one or more lines `NNN-text` (more follows), `NNN+text` (a data
//! block follows, ending with a line `.`), ending with `NNN text`. Asynchronous
//! events (status 650) may arrive between the lines of another reply; they are
//! parsed as messages of their own.

/// One line of a reply, with its data block if it had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub status: u16,
    pub text: String,
    /// The lines of a `+` data block, dot-unstuffed.
    pub data: Option<Vec<String>>,
}

/// A complete reply or event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub status: u16,
    pub lines: Vec<Line>,
}

impl Message {
    pub fn is_event(&self) -> bool {
        self.status == 650
    }

    pub fn is_ok(&self) -> bool {
        self.status == 250
    }

    /// The text of the last line (tor's message on errors).
    pub fn summary(&self) -> &str {
        self.lines.last().map(|l| l.text.as_str()).unwrap_or("")
    }

    /// Values of `KEY=value` lines (`250-ServiceID=...`) and of `KEY=` data blocks.
    pub fn values(&self, key: &str) -> Vec<String> {
        let prefix = format!("{key}=");
        let mut out = Vec::new();
        for line in &self.lines {
            if let Some(value) = line.text.strip_prefix(&prefix) {
                match &line.data {
                    Some(data) => out.extend(data.iter().cloned()),
                    None if !value.is_empty() => out.push(value.to_string()),
                    None => {}
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed reply from tor: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

/// A message being put together from its lines.
#[derive(Debug, Default)]
struct Partial {
    lines: Vec<Line>,
    /// Inside a `+` data block: its lines so far.
    data: Option<Vec<String>>,
}

/// Puts messages together line by line. Deterministic and without I/O: the
/// control client feeds it the lines it reads.
#[derive(Debug, Default)]
pub struct Parser {
    reply: Partial,
    event: Partial,
}

impl Parser {
    /// Take one line (without its line ending); a message when it completes one.
    pub fn push_line(&mut self, line: &str) -> Result<Option<Message>, ParseError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Inside a data block, lines belong to it (whichever message is open).
        let open = if self.event.data.is_some() {
            Some(&mut self.event)
        } else if self.reply.data.is_some() {
            Some(&mut self.reply)
        } else {
            None
        };
        if let Some(partial) = open {
            if line == "." {
                let data = partial.data.take();
                partial.lines.last_mut().expect("a data block follows a line").data = data;
            } else {
                let unstuffed = if line.starts_with("..") { &line[1..] } else { line };
                partial.data.as_mut().expect("open").push(unstuffed.to_string());
            }
            return Ok(None);
        }
        let bytes = line.as_bytes();
        if bytes.len() < 4 {
            return Err(ParseError(format!("line too short: {line:?}")));
        }
        if !bytes[..3].iter().all(u8::is_ascii_digit) {
            return Err(ParseError(format!("no status code: {line:?}")));
        }
        let status: u16 = line[..3].parse().expect("three digits");
        let separator = bytes[3];
        if !line.is_char_boundary(4) {
            return Err(ParseError(format!("bad separator in {line:?}")));
        }
        let text = line[4..].to_string();
        let partial = if status == 650 { &mut self.event } else { &mut self.reply };
        if let Some(first) = partial.lines.first() {
            if first.status != status {
                return Err(ParseError(format!(
                    "status changed within a reply: {} then {status}",
                    first.status
                )));
            }
        }
        match separator {
            b'-' => partial.lines.push(Line { status, text, data: None }),
            b'+' => {
                partial.lines.push(Line { status, text, data: None });
                partial.data = Some(Vec::new());
            }
            b' ' => {
                partial.lines.push(Line { status, text, data: None });
                return Ok(Some(Message { status, lines: std::mem::take(&mut partial.lines) }));
            }
            other => {
                return Err(ParseError(format!(
                    "unknown separator {:?} in {line:?}",
                    other as char
                )))
            }
        }
        Ok(None)
    }

    /// No message is half-read.
    pub fn is_idle(&self) -> bool {
        self.reply.lines.is_empty() && self.event.lines.is_empty()
    }
}

/// Parse every complete message in `input` (complete lines only; a final
/// line without its `\n` is ignored, as it may still be arriving).
pub fn parse(input: &str) -> Result<Vec<Message>, ParseError> {
    let mut parser = Parser::default();
    let mut messages = Vec::new();
    let mut rest = input;
    while let Some(end) = rest.find('\n') {
        if let Some(message) = parser.push_line(&rest[..end])? {
            messages.push(message);
        }
        rest = &rest[end + 1..];
    }
    Ok(messages)
}

/// Split `KEY=VALUE` arguments (values may be quoted, with `\` escapes) and
/// bare words, as in `AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/x y"`.
pub fn arguments(text: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut word = String::new();
        let mut key = None;
        while let Some(&c) = chars.peek() {
            match c {
                ' ' => break,
                '=' if key.is_none() => {
                    chars.next();
                    key = Some(std::mem::take(&mut word));
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        while let Some(c) = chars.next() {
                            match c {
                                '"' => break,
                                '\\' => match chars.next() {
                                    Some('n') => word.push('\n'),
                                    Some('t') => word.push('\t'),
                                    Some(other) => word.push(other),
                                    None => break,
                                },
                                c => word.push(c),
                            }
                        }
                    }
                }
                c => {
                    chars.next();
                    word.push(c);
                }
            }
        }
        out.push((key, word));
    }
    out
}

/// The value of `key` among [`arguments`].
pub fn argument(text: &str, key: &str) -> Option<String> {
    arguments(text).into_iter().find(|(k, _)| k.as_deref() == Some(key)).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Replies captured from tor 0.4.9.11 on this machine.
    const PROTOCOLINFO: &str = "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"/tmp/t1/data/control_auth_cookie\"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n";
    const ADD_ONION: &str = "250-ServiceID=uismn6skkhndidf3lzc7odmvlkzn7tkdun7n6kt3sxnnvowwx5zqh7ad\r\n250-PrivateKey=ED25519-V3:KEEahINLVZJViFv0xqpc6jyoHNVHI1hnetg60vU+P3E+O+a+FqaeTJP005kqNwsYrPClE9dEUn4pjSnG6cwHuQ==\r\n250-ClientAuthV3=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n250 OK\r\n";
    const DETACHED_TWO: &str = "250+onions/detached=\r\nuismn6skkhndidf3lzc7odmvlkzn7tkdun7n6kt3sxnnvowwx5zqh7ad\r\nkx2os2ne7icrbytdghrlnqxinyngz24y3llphf5u2bpkyhmmwxhwmsyd\r\n.\r\n250 OK\r\n";
    const DETACHED_ONE: &str = "250-onions/detached=kx2os2ne7icrbytdghrlnqxinyngz24y3llphf5u2bpkyhmmwxhwmsyd\r\n250 OK\r\n";
    const DETACHED_NONE: &str = "250-onions/detached=\r\n250 OK\r\n";
    const BOOTSTRAP: &str = "250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=0 TAG=starting SUMMARY=\"Starting\"\r\n250 OK\r\n";
    const UNKNOWN: &str = "510 Unrecognized command \"FOO\"\r\n";
    const NO_CLIENTS: &str = "512 No auth clients specified\r\n";
    const HS_DESC: &str = "650 HS_DESC UPLOADED uismn6skkhndidf3lzc7odmvlkzn7tkdun7n6kt3sxnnvowwx5zqh7ad UNKNOWN $AAAA~relay1 KEY\r\n";

    fn one(input: &str) -> Message {
        let mut messages = parse(input).unwrap();
        assert_eq!(messages.len(), 1, "{messages:?}");
        messages.remove(0)
    }

    #[test]
    fn real_replies() {
        let info = one(PROTOCOLINFO);
        assert!(info.is_ok());
        let auth = &info.lines[1].text;
        assert_eq!(argument(auth, "METHODS").unwrap(), "COOKIE,SAFECOOKIE");
        assert_eq!(argument(auth, "COOKIEFILE").unwrap(), "/tmp/t1/data/control_auth_cookie");

        let add = one(ADD_ONION);
        assert_eq!(
            add.values("ServiceID"),
            ["uismn6skkhndidf3lzc7odmvlkzn7tkdun7n6kt3sxnnvowwx5zqh7ad"]
        );
        assert!(add.values("PrivateKey")[0].starts_with("ED25519-V3:"));

        assert_eq!(one(DETACHED_TWO).values("onions/detached").len(), 2);
        assert_eq!(
            one(DETACHED_ONE).values("onions/detached"),
            ["kx2os2ne7icrbytdghrlnqxinyngz24y3llphf5u2bpkyhmmwxhwmsyd"]
        );
        assert!(one(DETACHED_NONE).values("onions/detached").is_empty());

        let boot = one(BOOTSTRAP).values("status/bootstrap-phase").remove(0);
        assert_eq!(argument(&boot, "PROGRESS").unwrap(), "0");
        assert_eq!(argument(&boot, "SUMMARY").unwrap(), "Starting");

        assert_eq!(one(UNKNOWN).status, 510);
        assert_eq!(one(NO_CLIENTS).summary(), "No auth clients specified");
        assert!(one(HS_DESC).is_event());
    }

    #[test]
    fn events_between_the_lines_of_a_reply_are_set_apart() {
        let input = format!("250+onions/detached=\r\nabc\r\n{HS_DESC}..dotted\r\n.\r\n250 OK\r\n");
        // The event line arrives inside the data block here: it is data, as tor
        // never interleaves inside a block; between lines it is its own message.
        let messages = parse(&input).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].values("onions/detached")[2], ".dotted");

        let interleaved = format!("250-ServiceID=x\r\n{HS_DESC}250 OK\r\n");
        let messages = parse(&interleaved).unwrap();
        assert_eq!(messages.len(), 2);
        assert!(messages[0].is_event());
        assert_eq!(messages[1].values("ServiceID"), ["x"]);
    }

    #[test]
    fn incomplete_input_waits_for_more() {
        for cut in 0..ADD_ONION.len() - 1 {
            assert!(parse(&ADD_ONION[..cut]).unwrap().is_empty(), "cut at {cut}");
        }
        let two = format!("{UNKNOWN}{}", &PROTOCOLINFO[..60]);
        assert_eq!(parse(&two).unwrap().len(), 1);
        let mut parser = Parser::default();
        assert_eq!(parser.push_line("250-ServiceID=x").unwrap(), None);
        assert!(!parser.is_idle());
        assert!(parser.push_line("250 OK").unwrap().is_some());
        assert!(parser.is_idle());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "hello\r\n",
            "25\r\n",
            "2500x\r\n",
            "abc OK\r\n",
            "250-a\r\n251 b\r\n",
            "é€€ x\r\n",
            "250\u{80}x\r\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn random_input_never_panics() {
        // A poor man's fuzz run (the real one: `cargo fuzz run reply` in core/fuzz).
        let mut seed = 0x9e3779b97f4a7c15u64;
        let alphabet = b"0256-+ .\r\nOK=\"\\abc";
        for _ in 0..20_000 {
            let len = (seed % 40) as usize;
            let mut s = String::new();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize] as char);
            }
            let _ = parse(&s);
            let _ = arguments(&s);
        }
    }
}
