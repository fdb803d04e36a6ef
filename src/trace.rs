//! The trace file format: line-oriented text, one operation per line, the model's expected
//! outcome as a comment. Print → parse → print is the identity.
//!
//! ```text
//! # reproduces: a retried refresh inside the grace window must not revoke the session
//! register "alice" "correct horse battery" nomfa   # => registered
//! login "alice" "correct horse battery" device=0   # => issued session#0 aal1
//! refresh refresh#0.0                              # => refreshed session#0 gen=1
//! tick 5                                           # => ok
//! refresh refresh#0.0                              # => refreshed session#0 gen=1
//! ```
//!
//! Tokens are handles: `access#K`, `refresh#S.G`, `challenge#C`, or hostile forms
//! `truncated:<token>`, `forged-v2#S.G`, `garbage:"<json string>"`. Strings are JSON-quoted.
//! Lines starting with `#` are comments and are kept as written.

use crate::model::{
    Aal, Code, Grant, Op, Outcome, Reason, RolloutStep, Scope, Token, TokenReason, Upstream,
    Version,
};
use std::fmt;

/// Column at which the `# =>` expectation starts when printed.
const EXPECT_COLUMN: usize = 48;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A `#` line, kept verbatim (without its line break).
    Comment(String),
    Blank,
    Step {
        op: Op,
        expected: Option<Outcome>,
    },
    /// `== branch`: the operations after it (to the next marker) run concurrently with the
    /// other branches, after every operation before the first marker.
    Branch,
    /// `== after`: the operations after it run one after another once every branch returned.
    After,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Where the committed regression traces live.
pub fn regressions_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/traces")
}

/// Every `*.trace` file of `dir`, in name order, as (file stem, text).
pub fn read_dir(dir: &std::path::Path) -> std::io::Result<Vec<(String, String)>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "trace"));
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let stem = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Ok((stem, std::fs::read_to_string(&p)?))
        })
        .collect()
}

/// The committed regression traces, parsed, as (file stem, trace). Panics on a file that does
/// not parse: for tests, where that is the failure wanted.
pub fn regression_traces() -> Vec<(String, Trace)> {
    read_dir(&regressions_dir())
        .unwrap_or_else(|e| panic!("{}: {e}", regressions_dir().display()))
        .into_iter()
        .map(|(name, text)| {
            let trace = Trace::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, trace)
        })
        .collect()
}

impl Trace {
    /// A trace of `ops` with the given expectations and header comment lines (without `# `).
    pub fn new(header: &[String], ops: &[Op], expected: &[Outcome]) -> Self {
        let mut lines: Vec<Line> = header
            .iter()
            .map(|h| Line::Comment(format!("# {h}").trim_end().to_owned()))
            .collect();
        for (i, op) in ops.iter().enumerate() {
            lines.push(Line::Step {
                op: op.clone(),
                expected: expected.get(i).cloned(),
            });
        }
        Trace { lines }
    }

    /// Puts the target's note on a step (`# answered by the new build`) before each step whose
    /// note differs from the step before's (`served_by[i]` is what the target said of step i).
    pub fn note_served_by(&mut self, served_by: &[Option<String>]) {
        if served_by.iter().all(Option::is_none) {
            return;
        }
        let mut lines = Vec::with_capacity(self.lines.len() + served_by.len());
        let mut step = 0;
        let mut last: Option<&String> = None;
        for line in std::mem::take(&mut self.lines) {
            if let Line::Step { .. } = line {
                if let Some(Some(by)) = served_by.get(step) {
                    if last != Some(by) {
                        lines.push(Line::Comment(format!("# {by}")));
                    }
                    last = Some(by);
                }
                step += 1;
            }
            lines.push(line);
        }
        self.lines = lines;
    }

    pub fn ops(&self) -> Vec<Op> {
        self.steps().map(|(op, _)| op.clone()).collect()
    }

    /// Whether the trace is a concurrent case (has `== branch` sections).
    pub fn is_concurrent(&self) -> bool {
        self.lines.iter().any(|l| matches!(l, Line::Branch))
    }

    pub fn steps(&self) -> impl Iterator<Item = (&Op, Option<&Outcome>)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Step { op, expected } => Some((op, expected.as_ref())),
            _ => None,
        })
    }

    /// The token seed the trace was recorded with (its `token-seed:` header, else 0): the
    /// service under test draws its tokens from it, so a replay meets the same ones.
    pub fn token_seed(&self) -> u64 {
        self.header_value("token-seed")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// The leading comment lines, without their `#`.
    pub fn header(&self) -> Vec<String> {
        self.lines
            .iter()
            .map_while(|l| match l {
                Line::Comment(c) => Some(c.trim_start_matches('#').trim().to_owned()),
                _ => None,
            })
            .collect()
    }

    /// The protocol numbers the trace runs under: its `params:` header over the protocol's defaults
    /// (no header: the defaults).
    pub fn params(&self) -> Result<crate::model::Params, String> {
        match self.header_value("params") {
            Some(words) => words.parse().map_err(|e| format!("params: {e}")),
            None => Ok(crate::model::Params::default()),
        }
    }

    /// Records `params` in the header (`# params: key=value …`; no line for the defaults).
    pub fn set_params(&mut self, params: crate::model::Params) {
        let line = (params != crate::model::Params::default()).then(|| params.to_string());
        self.set_header("params", line);
    }

    /// Replaces the `# key: value` header line (`None`: no line).
    fn set_header(&mut self, key: &str, value: Option<String>) {
        let prefix = format!("# {key}:");
        self.lines
            .retain(|l| !matches!(l, Line::Comment(c) if c.starts_with(&prefix)));
        let Some(value) = value else {
            return;
        };
        let at = self
            .lines
            .iter()
            .position(|l| !matches!(l, Line::Comment(_)))
            .unwrap_or(self.lines.len());
        self.lines
            .insert(at, Line::Comment(format!("{prefix} {value}")));
    }

    /// The protocol choices the trace runs under: its `choices:` header over this repository's
    /// protocol (no header: the repository's protocol).
    pub fn choices(&self) -> Result<crate::model::Choices, String> {
        match self.header_value("choices") {
            Some(words) => words.parse().map_err(|e| format!("choices: {e}")),
            None => Ok(crate::model::Choices::default()),
        }
    }

    /// `base` with the trace's own `params:` and `choices:` headers over it (a header the trace
    /// does not have leaves `base`'s numbers or choices as they are).
    pub fn profile_over(
        &self,
        base: crate::model::Profile,
    ) -> Result<crate::model::Profile, String> {
        let mut profile = base;
        if self.header_value("params").is_some() {
            profile.params = self.params()?;
        }
        if self.header_value("choices").is_some() {
            profile.choices = self.choices()?;
        }
        Ok(profile)
    }

    /// The profile the trace runs under: its numbers and its choices.
    pub fn profile(&self) -> Result<crate::model::Profile, String> {
        self.profile_over(crate::model::Profile::default())
    }

    /// Records `profile`'s numbers and choices in the header (no lines for the defaults).
    pub fn set_profile(&mut self, profile: &crate::model::Profile) {
        self.set_params(profile.params);
        let choices = profile.choices;
        let line = (choices != crate::model::Choices::default()).then(|| choices.to_string());
        self.set_header("choices", line);
    }

    /// The value of a `key: value` header line, if present.
    pub fn header_value(&self, key: &str) -> Option<String> {
        self.header().into_iter().find_map(|h| {
            h.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(|v| v.trim().to_owned())
        })
    }

    pub fn parse(text: &str) -> Result<Trace, ParseError> {
        let mut lines = Vec::new();
        let mut words = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let err = |message: String| ParseError {
                line: i + 1,
                message,
            };
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                lines.push(Line::Blank);
            } else if trimmed == "== branch" {
                lines.push(Line::Branch);
            } else if trimmed == "== after" {
                lines.push(Line::After);
            } else if trimmed.starts_with('#') {
                if let Some(words) = trimmed.strip_prefix("# params:") {
                    words
                        .parse::<crate::model::Params>()
                        .map_err(|e| err(format!("params: {e}")))?;
                }
                if let Some(words) = trimmed.strip_prefix("# choices:") {
                    words
                        .parse::<crate::model::Choices>()
                        .map_err(|e| err(format!("choices: {e}")))?;
                }
                lines.push(Line::Comment(raw.trim_end().to_owned()));
            } else {
                tokenize(trimmed, &mut words).map_err(err)?;
                let split = words.iter().position(|w| *w == "#");
                let (op_words, rest) = match split {
                    Some(at) => (&words[..at], Some(&words[at + 1..])),
                    None => (&words[..], None),
                };
                let op = parse_op(op_words).map_err(err)?;
                let expected = match rest {
                    None => None,
                    Some([arrow, outcome @ ..]) if *arrow == "=>" => {
                        Some(parse_outcome(outcome).map_err(err)?)
                    }
                    Some(_) => {
                        return Err(err("a comment after an op must be `# => <outcome>`".into()))
                    }
                };
                lines.push(Line::Step { op, expected });
            }
        }
        Ok(Trace { lines })
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            match line {
                Line::Comment(c) => writeln!(f, "{c}")?,
                Line::Blank => writeln!(f)?,
                Line::Branch => writeln!(f, "== branch")?,
                Line::After => writeln!(f, "== after")?,
                Line::Step { op, expected: None } => writeln!(f, "{op}")?,
                Line::Step {
                    op,
                    expected: Some(o),
                } => {
                    let op = op.to_string();
                    let pad = EXPECT_COLUMN.saturating_sub(op.chars().count()).max(1);
                    writeln!(f, "{op}{:pad$}# => {o}", "")?
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Printing

fn quote(s: &str) -> String {
    // JSON escaping keeps every non-ASCII character readable and escapes control characters.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Access(k) => write!(f, "access#{k}"),
            Token::Refresh {
                session,
                generation,
            } => write!(f, "refresh#{session}.{generation}"),
            Token::Challenge(c) => write!(f, "challenge#{c}"),
            Token::Truncated(inner) => write!(f, "truncated:{inner}"),
            Token::ForgedV2 {
                session,
                generation,
            } => write!(f, "forged-v2#{session}.{generation}"),
            Token::Garbage(s) => write!(f, "garbage:{}", quote(s)),
            Token::Local { op, refresh } => {
                write!(
                    f,
                    "local#{}.{op}",
                    if *refresh { "refresh" } else { "access" }
                )
            }
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Register {
                user,
                password,
                mfa,
            } => {
                write!(
                    f,
                    "register {} {} {}",
                    quote(user),
                    quote(password),
                    if *mfa { "mfa" } else { "nomfa" }
                )
            }
            Op::Login {
                user,
                password,
                device,
            } => {
                write!(
                    f,
                    "login {} {} device={device}",
                    quote(user),
                    quote(password)
                )
            }
            Op::VerifyMfa { challenge, code } => {
                let code = match code {
                    Code::Right => "right",
                    Code::Wrong => "wrong",
                };
                write!(f, "verify-mfa {challenge} {code}")
            }
            Op::Refresh { token } => write!(f, "refresh {token}"),
            Op::Access { token } => write!(f, "access {token}"),
            Op::Sensitive { token } => write!(f, "sensitive {token}"),
            Op::Reauthenticate { token, password } => {
                write!(f, "reauth {token} {}", quote(password))
            }
            Op::Logout { token, scope } => {
                let scope = match scope {
                    Scope::Local => "local",
                    Scope::Others => "others",
                    Scope::Global => "global",
                };
                write!(f, "logout {token} {scope}")
            }
            Op::Revoke { token } => write!(f, "revoke {token}"),
            Op::ChangePassword { token, old, new } => {
                write!(f, "change-password {token} {} {}", quote(old), quote(new))
            }
            Op::AdminDisable { user } => write!(f, "admin-disable {}", quote(user)),
            Op::AdminEnable { user } => write!(f, "admin-enable {}", quote(user)),
            Op::AdminUnlock { user } => write!(f, "admin-unlock {}", quote(user)),
            Op::Tick { seconds } => write!(f, "tick {seconds}"),
            Op::Deploy { version } => write!(
                f,
                "deploy {}",
                if *version == Version::V1 { "v1" } else { "v2" }
            ),
            Op::Restart => write!(f, "restart"),
            Op::Rollout { step } => f.write_str(match step {
                RolloutStep::Start => "rollout start",
                RolloutStep::Finish => "rollout finish",
                RolloutStep::Rollback => "rollback",
                RolloutStep::Finalize => "finalize",
            }),
            Op::Crash => write!(f, "crash"),
            Op::UpstreamFault { mode } => {
                let mode = match mode {
                    Upstream::Up => "up",
                    Upstream::Down => "down",
                    Upstream::Garbage => "garbage",
                };
                write!(f, "upstream {mode}")
            }
        }
    }
}

fn aal_word(a: Aal) -> &'static str {
    match a {
        Aal::Aal1 => "aal1",
        Aal::Aal2 => "aal2",
    }
}

fn reason_word(r: Reason) -> String {
    let grant = |g| match g {
        Grant::Unknown => "unknown",
        Grant::Expired => "expired",
        Grant::Revoked => "revoked",
        Grant::Reuse => "reuse",
    };
    let token = |t| match t {
        TokenReason::Unknown => "unknown",
        TokenReason::Expired => "expired",
        TokenReason::Revoked => "revoked",
    };
    match r {
        Reason::UsernameTaken => "username-taken".into(),
        Reason::InvalidUsername => "invalid-username".into(),
        Reason::WeakPassword => "weak-password".into(),
        Reason::InvalidCredentials => "invalid-credentials".into(),
        Reason::Locked => "locked".into(),
        Reason::Disabled => "disabled".into(),
        Reason::UpstreamUnavailable => "upstream-unavailable".into(),
        Reason::InvalidCode => "invalid-code".into(),
        Reason::ChallengeExpired => "challenge-expired".into(),
        Reason::InvalidGrant(g) => format!("invalid-grant:{}", grant(g)),
        Reason::Unauthorized(t) => format!("unauthorized:{}", token(t)),
        Reason::StepUpRequired => "step-up-required".into(),
        Reason::UnknownUser => "unknown-user".into(),
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Registered => write!(f, "registered"),
            Outcome::Issued { session, aal } => {
                write!(f, "issued session#{session} {}", aal_word(*aal))
            }
            Outcome::MfaRequired { challenge } => write!(f, "mfa-required challenge#{challenge}"),
            Outcome::Refreshed {
                session,
                generation,
            } => write!(f, "refreshed session#{session} gen={generation}"),
            Outcome::Authorized { user, aal, session } => {
                write!(
                    f,
                    "authorized {} {} session#{session}",
                    quote(user),
                    aal_word(*aal)
                )
            }
            Outcome::Reauthenticated => write!(f, "reauthenticated"),
            Outcome::LoggedOut => write!(f, "logged-out"),
            Outcome::Revoked => write!(f, "revoked"),
            Outcome::PasswordChanged {
                session,
                generation,
            } => {
                write!(f, "password-changed session#{session} gen={generation}")
            }
            Outcome::Done => write!(f, "done"),
            Outcome::Ok => write!(f, "ok"),
            Outcome::Rejected(r) => write!(f, "rejected {}", reason_word(*r)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Splits a line into `words` (cleared first); a `"…"` run (JSON string syntax) stays inside its
/// word. The words are slices of the line, and the caller's vector is reused from line to line:
/// the fuzz target's trace inputs spent a tenth of each exec copying words out character by
/// character into new strings (perf).
fn tokenize<'a>(line: &'a str, words: &mut Vec<&'a str>) -> Result<(), String> {
    words.clear();
    let bytes = line.as_bytes();
    // Where the current word starts, if one has.
    let mut start = None;
    let mut i = 0;
    while i < bytes.len() {
        // Quotes and backslashes are ASCII, and no byte of a longer UTF-8 sequence is ASCII:
        // only whitespace needs whole characters.
        let c = match bytes[i] {
            b if b.is_ascii() => b as char,
            _ => line[i..].chars().next().unwrap_or_default(),
        };
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                words.push(&line[s..i]);
            }
            i += c.len_utf8();
            continue;
        }
        start.get_or_insert(i);
        i += c.len_utf8();
        if c == '"' {
            loop {
                match bytes.get(i) {
                    None => return Err("unterminated string".into()),
                    Some(b'\\') if i + 1 == bytes.len() => return Err("unterminated escape".into()),
                    Some(b'\\') => i += 2,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
        }
    }
    if let Some(s) = start {
        words.push(&line[s..]);
    }
    Ok(())
}

fn string(word: &str) -> Result<String, String> {
    if !word.starts_with('"') {
        return Err(format!("expected a quoted string, found `{word}`"));
    }
    // Without escapes or control characters a JSON string is the text between its quotes.
    if let Some(inner) = word[1..].strip_suffix('"') {
        if !inner.bytes().any(|b| b == b'\\' || b == b'"' || b < 0x20) {
            return Ok(inner.to_owned());
        }
    }
    serde_json::from_str(word).map_err(|e| format!("bad string {word}: {e}"))
}

fn number<T: std::str::FromStr>(word: &str, what: &str) -> Result<T, String> {
    word.parse()
        .map_err(|_| format!("expected {what}, found `{word}`"))
}

fn pair(text: &str, what: &str) -> Result<(usize, u64), String> {
    let (a, b) = text
        .split_once('.')
        .ok_or_else(|| format!("expected {what} as S.G, found `{text}`"))?;
    Ok((number(a, "a session number")?, number(b, "a generation")?))
}

pub fn parse_token(word: &str) -> Result<Token, String> {
    if let Some(rest) = word.strip_prefix("truncated:") {
        return Ok(Token::Truncated(Box::new(parse_token(rest)?)));
    }
    if let Some(rest) = word.strip_prefix("garbage:") {
        return Ok(Token::Garbage(string(rest)?));
    }
    if let Some(rest) = word.strip_prefix("access#") {
        return Ok(Token::Access(number(rest, "an access token number")?));
    }
    if let Some(rest) = word.strip_prefix("challenge#") {
        return Ok(Token::Challenge(number(rest, "a challenge number")?));
    }
    if let Some(rest) = word.strip_prefix("refresh#") {
        let (session, generation) = pair(rest, "a refresh token")?;
        return Ok(Token::Refresh {
            session,
            generation,
        });
    }
    if let Some(rest) = word.strip_prefix("local#") {
        let (kind, op) = rest
            .split_once('.')
            .ok_or("expected local#access.N or local#refresh.N")?;
        let refresh = match kind {
            "access" => false,
            "refresh" => true,
            other => return Err(format!("unknown local token kind `{other}`")),
        };
        return Ok(Token::Local {
            op: number(op, "an op number")?,
            refresh,
        });
    }
    if let Some(rest) = word.strip_prefix("forged-v2#") {
        let (session, generation) = pair(rest, "a forged token")?;
        return Ok(Token::ForgedV2 {
            session,
            generation,
        });
    }
    Err(format!("`{word}` is not a token (access#K, refresh#S.G, challenge#C, truncated:…, forged-v2#S.G, garbage:\"…\")"))
}

fn parse_op(words: &[&str]) -> Result<Op, String> {
    let op = match words {
        ["register", user, password, mfa @ ("mfa" | "nomfa")] => Op::Register {
            user: string(user)?.into(),
            password: string(password)?.into(),
            mfa: *mfa == "mfa",
        },
        ["login", user, password, device] => Op::Login {
            user: string(user)?.into(),
            password: string(password)?.into(),
            device: number(
                device.strip_prefix("device=").ok_or("expected device=N")?,
                "a device number",
            )?,
        },
        ["verify-mfa", challenge, code @ ("right" | "wrong")] => Op::VerifyMfa {
            challenge: parse_token(challenge)?,
            code: if *code == "right" {
                Code::Right
            } else {
                Code::Wrong
            },
        },
        ["refresh", t] => Op::Refresh {
            token: parse_token(t)?,
        },
        ["access", t] => Op::Access {
            token: parse_token(t)?,
        },
        ["sensitive", t] => Op::Sensitive {
            token: parse_token(t)?,
        },
        ["reauth", t, password] => Op::Reauthenticate {
            token: parse_token(t)?,
            password: string(password)?.into(),
        },
        ["logout", t, scope] => Op::Logout {
            token: parse_token(t)?,
            scope: match *scope {
                "local" => Scope::Local,
                "others" => Scope::Others,
                "global" => Scope::Global,
                other => return Err(format!("unknown logout scope `{other}`")),
            },
        },
        ["revoke", t] => Op::Revoke {
            token: parse_token(t)?,
        },
        ["change-password", t, old, new] => Op::ChangePassword {
            token: parse_token(t)?,
            old: string(old)?.into(),
            new: string(new)?.into(),
        },
        ["admin-disable", user] => Op::AdminDisable {
            user: string(user)?.into(),
        },
        ["admin-enable", user] => Op::AdminEnable {
            user: string(user)?.into(),
        },
        ["admin-unlock", user] => Op::AdminUnlock {
            user: string(user)?.into(),
        },
        ["tick", n] => Op::Tick {
            seconds: number(n, "seconds")?,
        },
        ["deploy", "v1"] => Op::Deploy {
            version: Version::V1,
        },
        ["deploy", "v2"] => Op::Deploy {
            version: Version::V2,
        },
        ["restart"] => Op::Restart,
        ["rollout", "start"] => Op::Rollout {
            step: RolloutStep::Start,
        },
        ["rollout", "finish"] => Op::Rollout {
            step: RolloutStep::Finish,
        },
        ["rollback"] => Op::Rollout {
            step: RolloutStep::Rollback,
        },
        ["finalize"] => Op::Rollout {
            step: RolloutStep::Finalize,
        },
        ["crash"] => Op::Crash,
        ["upstream", "up"] => Op::UpstreamFault { mode: Upstream::Up },
        ["upstream", "down"] => Op::UpstreamFault {
            mode: Upstream::Down,
        },
        ["upstream", "garbage"] => Op::UpstreamFault {
            mode: Upstream::Garbage,
        },
        [] => return Err("empty op".into()),
        [name, ..] => {
            return Err(format!(
                "cannot read op `{name}` with {} argument(s)",
                words.len() - 1
            ))
        }
    };
    Ok(op)
}

fn handle(word: &str, prefix: &str) -> Result<usize, String> {
    number(
        word.strip_prefix(prefix)
            .ok_or_else(|| format!("expected {prefix}N, found `{word}`"))?,
        "a number",
    )
}

fn aal(word: &str) -> Result<Aal, String> {
    match word {
        "aal1" => Ok(Aal::Aal1),
        "aal2" => Ok(Aal::Aal2),
        other => Err(format!("expected aal1 or aal2, found `{other}`")),
    }
}

fn generation(word: &str) -> Result<u64, String> {
    number(
        word.strip_prefix("gen=").ok_or("expected gen=N")?,
        "a generation",
    )
}

fn parse_reason(word: &str) -> Result<Reason, String> {
    let grant = |g: &str| {
        Ok(match g {
            "unknown" => Grant::Unknown,
            "expired" => Grant::Expired,
            "revoked" => Grant::Revoked,
            "reuse" => Grant::Reuse,
            other => return Err(format!("unknown invalid-grant reason `{other}`")),
        })
    };
    let token = |t: &str| {
        Ok(match t {
            "unknown" => TokenReason::Unknown,
            "expired" => TokenReason::Expired,
            "revoked" => TokenReason::Revoked,
            other => return Err(format!("unknown unauthorized reason `{other}`")),
        })
    };
    Ok(match word {
        "username-taken" => Reason::UsernameTaken,
        "invalid-username" => Reason::InvalidUsername,
        "weak-password" => Reason::WeakPassword,
        "invalid-credentials" => Reason::InvalidCredentials,
        "locked" => Reason::Locked,
        "disabled" => Reason::Disabled,
        "upstream-unavailable" => Reason::UpstreamUnavailable,
        "invalid-code" => Reason::InvalidCode,
        "challenge-expired" => Reason::ChallengeExpired,
        "step-up-required" => Reason::StepUpRequired,
        "unknown-user" => Reason::UnknownUser,
        other => match other.split_once(':') {
            Some(("invalid-grant", g)) => Reason::InvalidGrant(grant(g)?),
            Some(("unauthorized", t)) => Reason::Unauthorized(token(t)?),
            _ => return Err(format!("unknown rejection reason `{other}`")),
        },
    })
}

pub fn parse_outcome(words: &[&str]) -> Result<Outcome, String> {
    Ok(match words {
        ["registered"] => Outcome::Registered,
        ["issued", s, a] => Outcome::Issued {
            session: handle(s, "session#")?,
            aal: aal(a)?,
        },
        ["mfa-required", c] => Outcome::MfaRequired {
            challenge: handle(c, "challenge#")?,
        },
        ["refreshed", s, g] => Outcome::Refreshed {
            session: handle(s, "session#")?,
            generation: generation(g)?,
        },
        ["authorized", user, a, s] => Outcome::Authorized {
            user: string(user)?.into(),
            aal: aal(a)?,
            session: handle(s, "session#")?,
        },
        ["reauthenticated"] => Outcome::Reauthenticated,
        ["logged-out"] => Outcome::LoggedOut,
        ["revoked"] => Outcome::Revoked,
        ["password-changed", s, g] => Outcome::PasswordChanged {
            session: handle(s, "session#")?,
            generation: generation(g)?,
        },
        ["done"] => Outcome::Done,
        ["ok"] => Outcome::Ok,
        ["rejected", r] => Outcome::Rejected(parse_reason(r)?),
        _ => return Err(format!("cannot read outcome `{}`", words.join(" "))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick way of reading a quoted word answers exactly as JSON does, on every word made
    /// of quotes, escapes, control characters and text.
    #[test]
    fn quoted_words_read_as_json_reads_them() {
        let pieces = [
            "\"", "\\", "\\\"", "\\u00e9", "\\n", "\u{1}", "\t", "a", "é", " ",
        ];
        let mut words = vec![String::new()];
        for _ in 0..4 {
            words = words
                .iter()
                .flat_map(|w| pieces.iter().map(move |p| format!("{w}{p}")))
                .collect();
            for w in &words {
                let word = format!("\"{w}");
                let json = serde_json::from_str::<String>(&word).map_err(|_| ());
                assert_eq!(string(&word).map_err(|_| ()), json, "{word:?}");
            }
        }
    }

    #[test]
    fn words_are_split_on_whitespace_outside_quotes() {
        let mut words = Vec::new();
        tokenize(
            "  login \"a b\"\t x\"c d\"y  \"e\\\" f\"\u{a0}# => ok ",
            &mut words,
        )
        .unwrap();
        assert_eq!(
            words,
            [
                "login",
                "\"a b\"",
                "x\"c d\"y",
                "\"e\\\" f\"",
                "#",
                "=>",
                "ok"
            ]
        );
        assert!(tokenize("tick \"open", &mut words).is_err());
        assert!(tokenize("tick \"open\\", &mut words).is_err());
        assert!(tokenize("tick \"é\\é", &mut words).is_err());
    }
}
