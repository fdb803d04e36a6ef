//! The model-aware generator: decodes an operation sequence from bytes (`arbitrary`), consulting
//! the model's state so almost every operation is meaningful (it names existing users, sessions,
//! generations, tokens and challenges), and biased toward where session bugs live:
//!
//! - ticks that land one second before, on, and one second after a deadline (access expiry,
//!   refresh grace, idle, absolute, lockout, challenge TTL, step-up window);
//! - refreshes of the current and the previous generation, repeated;
//! - wrong passwords up to and past the lockout threshold, including same-prefix passwords;
//! - deploys, restarts and upstream faults in the middle of sessions and MFA;
//! - hostile input: forged, truncated, garbage and cross-typed tokens, unknown users, case,
//!   width, NFC/NFD and look-alike variants of real names in several scripts, long strings.
//!
//! proptest feeds it random bytes under `cargo test`; libFuzzer feeds it under `cargo fuzz`.

use crate::driver::Capabilities;
use crate::model::accounts::canonical;
use crate::model::{Code, Op, Params, Scope, State, Token, Upstream, Version};
use arbitrary::{Result, Unstructured};

/// Spellings of one account each: every entry of a row has the same canonical form.
pub const NAMES: &[&[&str]] = &[
    &["alice", "Alice", "ALICE", "ａｌｉｃｅ"],
    &[
        "émilie",
        "Émilie",
        "E\u{301}milie",
        "ÉMILIE",
        "e\u{301}milie",
    ],
    &["straße", "Straße", "STRAßE"],
    &["öztürk", "Öztürk", "ÖZTÜRK", "O\u{308}ztu\u{308}rk"],
    &["i\u{307}pek", "İpek"],
    &["ipek", "IPEK"],
    &["محمد"],
    &["देवनागरी"],
    &["аlice"], // Cyrillic а: looks like Alice, is not Alice
    &["bob", "BOB", "Bob"],
];

/// Names no account can have.
pub const INVALID_NAMES: &[&str] = &[
    "",
    "two words",
    "tab\tname",
    "bell\u{7}",
    "\u{200B}",
    "Ⅸ",
    "ǅemal",
];

pub const PASSWORDS: &[&str] = &[
    "correct horse battery",
    "pässwörd ünïcödé",
    "hunter2hunter2",
    // 128 characters: the longest allowed, so truncation bugs show.
    "long-password-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-end",
];

pub const WEAK_PASSWORDS: &[&str] = &["short", "", "1234567"];

const GARBAGE: &[&str] = &[
    "",
    "null",
    "Bearer ",
    "rt_",
    "at_",
    "v2.",
    "v2.s_x.1.",
    "mfa_",
    "💥",
    "' OR 1=1 --",
];

/// Decodes operations until `max_ops` or the bytes run out.
pub fn generate(u: &mut Unstructured<'_>, params: Params, max_ops: usize) -> Vec<Op> {
    generate_for(u, params, max_ops, Capabilities::ALL)
}

/// As [`generate`], leaving out what a target cannot do (no clock: no ticks; …).
pub fn generate_for(
    u: &mut Unstructured<'_>,
    params: Params,
    max_ops: usize,
    caps: Capabilities,
) -> Vec<Op> {
    let mut state = State::new(params);
    let mut ops = Vec::new();
    while ops.len() < max_ops && !u.is_empty() {
        let Ok(op) = next_op(u, &state, caps) else {
            break;
        };
        state.apply(&op);
        ops.push(op);
    }
    ops
}

/// One operation that makes sense in `state` (most of the time).
pub fn next_op(u: &mut Unstructured<'_>, s: &State, caps: Capabilities) -> Result<Op> {
    let has_accounts = !s.accounts.is_empty();
    let has_sessions = !s.sessions.is_empty();
    let has_challenges = !s.challenges.is_empty();
    // (weight, kind) — kinds that need state only when the state has it.
    let mut menu: Vec<(u32, u8)> = vec![(if has_accounts { 6 } else { 60 }, 0)];
    if caps.lifecycle {
        menu.extend([(3, 13), (3, 14)]);
    }
    if caps.otp {
        menu.push((2, 15));
    }
    if has_accounts {
        menu.push((18, 1));
        if caps.admin {
            menu.push((4, 10));
        }
    }
    if has_challenges {
        menu.push((10, 2));
    }
    if has_sessions {
        menu.extend([(20, 3), (10, 4), (6, 5), (3, 6), (4, 7), (3, 8), (3, 9)]);
    }
    if caps.clock {
        menu.push((if has_sessions || has_accounts { 14 } else { 2 }, 11));
    }
    if caps.otp {
        menu.push((3, 12));
    }
    let total: u32 = menu.iter().map(|(w, _)| w).sum();
    let mut pick = u.int_in_range(0..=total - 1)?;
    let mut kind = menu[0].1;
    for (w, k) in &menu {
        if pick < *w {
            kind = *k;
            break;
        }
        pick -= w;
    }
    Ok(match kind {
        0 => {
            let mut op = register(u, s)?;
            if let Op::Register { mfa, .. } = &mut op {
                // Without our OTP provider nobody could read the codes.
                *mfa &= caps.otp;
            }
            op
        }
        1 => login(u, s)?,
        2 => Op::VerifyMfa {
            challenge: challenge_token(u, s)?,
            code: if u.ratio(7, 10)? {
                Code::Right
            } else {
                Code::Wrong
            },
        },
        3 => Op::Refresh {
            token: refresh_token(u, s)?,
        },
        4 => Op::Access {
            token: access_token(u, s)?,
        },
        5 => Op::Sensitive {
            token: access_token(u, s)?,
        },
        6 => {
            let token = access_token(u, s)?;
            let password = password_for_token(u, s, &token)?;
            Op::Reauthenticate { token, password }
        }
        7 => Op::Logout {
            token: access_token(u, s)?,
            scope: *u.choose(&[Scope::Local, Scope::Local, Scope::Others, Scope::Global])?,
        },
        8 => Op::Revoke {
            token: any_token(u, s)?,
        },
        9 => {
            let token = access_token(u, s)?;
            let old = password_for_token(u, s, &token)?;
            let new = if u.ratio(1, 5)? {
                u.choose(WEAK_PASSWORDS)?.to_string()
            } else {
                u.choose(PASSWORDS)?.to_string()
            };
            Op::ChangePassword { token, old, new }
        }
        10 => {
            let user = user_name(u, s)?;
            match u.int_in_range(0..=2)? {
                0 => Op::AdminDisable { user },
                1 => Op::AdminEnable { user },
                _ => Op::AdminUnlock { user },
            }
        }
        11 => Op::Tick {
            seconds: tick(u, s)?,
        },
        12 => Op::UpstreamFault {
            mode: *u.choose(&[
                Upstream::Up,
                Upstream::Up,
                Upstream::Down,
                Upstream::Garbage,
            ])?,
        },
        13 => Op::Deploy {
            version: if s.version == Version::V1 {
                Version::V2
            } else {
                Version::V1
            },
        },
        14 => Op::Restart,
        _ => Op::UpstreamFault { mode: Upstream::Up },
    })
}

fn register(u: &mut Unstructured<'_>, s: &State) -> Result<Op> {
    let user = match u.int_in_range(0..=19)? {
        0 => u.choose(INVALID_NAMES)?.to_string(),
        1 => "n".repeat(*u.choose(&[256usize, 257, 2000])?),
        2 => arbitrary_text(u)?,
        // A name with an account already (another spelling): UsernameTaken.
        3..=5 if !s.accounts.is_empty() => spelling_of_existing(u, s)?,
        _ => spelling(u)?,
    };
    let password = match u.int_in_range(0..=9)? {
        0 => u.choose(WEAK_PASSWORDS)?.to_string(),
        1 => "w".repeat(129),
        _ => u.choose(PASSWORDS)?.to_string(),
    };
    Ok(Op::Register {
        user,
        password,
        mfa: u.ratio(1, 3)?,
    })
}

fn login(u: &mut Unstructured<'_>, s: &State) -> Result<Op> {
    let user = if u.ratio(9, 10)? {
        spelling_of_existing(u, s)?
    } else {
        user_name(u, s)?
    };
    let right = canonical(&user)
        .and_then(|c| s.accounts.get(&c))
        .map(|a| a.password.clone());
    let password = match (right, u.int_in_range(0..=9)?) {
        (Some(right), 0..=5) => right,
        (Some(right), 6) => with_other_tail(&right),
        (Some(right), 7) => format!("{right}x"),
        (_, 8) => u.choose(PASSWORDS)?.to_string(),
        _ => "wrong password!".to_string(),
    };
    Ok(Op::Login {
        user,
        password,
        device: u.int_in_range(0..=3)?,
    })
}

/// The same password with its last character changed: a truncating comparison accepts it.
fn with_other_tail(password: &str) -> String {
    let mut p: String = password.to_owned();
    let last = p.pop().unwrap_or('a');
    p.push(if last == 'Z' { 'Y' } else { 'Z' });
    p
}

fn spelling(u: &mut Unstructured<'_>) -> Result<String> {
    let row = u.choose(NAMES)?;
    Ok(u.choose(row)?.to_string())
}

fn spelling_of_existing(u: &mut Unstructured<'_>, s: &State) -> Result<String> {
    let names: Vec<&String> = s.accounts.keys().collect();
    let Ok(name) = u.choose(&names) else {
        return spelling(u);
    };
    // Another spelling of the same account when the table has one.
    for row in NAMES {
        if row
            .iter()
            .any(|n| canonical(n).as_deref() == Some(name.as_str()))
        {
            return Ok(u.choose(row)?.to_string());
        }
    }
    Ok(name.to_string())
}

fn user_name(u: &mut Unstructured<'_>, s: &State) -> Result<String> {
    match u.int_in_range(0..=9)? {
        0 => Ok(u.choose(INVALID_NAMES)?.to_string()),
        1 | 2 => spelling(u),
        _ => spelling_of_existing(u, s),
    }
}

fn arbitrary_text(u: &mut Unstructured<'_>) -> Result<String> {
    let len = u.int_in_range(0..=24)?;
    let mut out = String::new();
    for _ in 0..len {
        out.push(char::from_u32(u.int_in_range(0x20..=0x2FFF)?).unwrap_or('?'));
    }
    Ok(out)
}

/// The right password of the token's owner most of the time, a wrong one otherwise.
fn password_for_token(u: &mut Unstructured<'_>, s: &State, token: &Token) -> Result<String> {
    let right = match token {
        Token::Access(k) => s
            .access
            .get(*k)
            .and_then(|t| s.accounts.get(&s.sessions[t.session].user))
            .map(|a| a.password.clone()),
        _ => None,
    };
    Ok(match right {
        Some(p) if u.ratio(3, 4)? => p,
        Some(p) if u.ratio(1, 2)? => with_other_tail(&p),
        _ => "wrong password!".to_string(),
    })
}

/// A session handle, preferring the most recent ones.
fn session(u: &mut Unstructured<'_>, s: &State) -> Result<usize> {
    let n = s.sessions.len();
    if n == 0 {
        return Ok(0);
    }
    Ok(if u.ratio(2, 3)? {
        n - 1 - u.int_in_range(0..=(n - 1).min(2))?
    } else {
        u.choose_index(n)?
    })
}

fn refresh_token(u: &mut Unstructured<'_>, s: &State) -> Result<Token> {
    if u.ratio(1, 12)? {
        return hostile(u, s, Kind::Refresh);
    }
    let session = session(u, s)?;
    let current = s.sessions.get(session).map_or(0, |x| x.generation);
    let generation = match u.int_in_range(0..=19)? {
        0..=11 => current,
        12..=17 => current.saturating_sub(1),
        _ => u.int_in_range(0..=current)?,
    };
    Ok(Token::Refresh {
        session,
        generation,
    })
}

fn access_token(u: &mut Unstructured<'_>, s: &State) -> Result<Token> {
    let n = s.access.len();
    if n == 0 || u.ratio(1, 12)? {
        return hostile(u, s, Kind::Access);
    }
    Ok(Token::Access(if u.ratio(3, 5)? {
        n - 1 - u.int_in_range(0..=(n - 1).min(1))?
    } else {
        u.choose_index(n)?
    }))
}

fn challenge_token(u: &mut Unstructured<'_>, s: &State) -> Result<Token> {
    let n = s.challenges.len();
    if n == 0 || u.ratio(1, 12)? {
        return hostile(u, s, Kind::Challenge);
    }
    Ok(Token::Challenge(if u.ratio(3, 4)? {
        n - 1
    } else {
        u.choose_index(n)?
    }))
}

fn any_token(u: &mut Unstructured<'_>, s: &State) -> Result<Token> {
    match u.int_in_range(0..=3)? {
        0 => access_token(u, s),
        1 | 2 => refresh_token(u, s),
        _ => hostile(u, s, Kind::Any),
    }
}

#[derive(PartialEq)]
enum Kind {
    Access,
    Refresh,
    Challenge,
    Any,
}

/// A token that must be refused: cross-typed, truncated, forged or garbage.
fn hostile(u: &mut Unstructured<'_>, s: &State, wanted: Kind) -> Result<Token> {
    let session = session(u, s)?;
    let generation = s.sessions.get(session).map_or(0, |x| x.generation);
    let mut options: Vec<Token> = vec![Token::Garbage(u.choose(GARBAGE)?.to_string())];
    if !s.sessions.is_empty() {
        options.push(Token::ForgedV2 {
            session,
            generation,
        });
        options.push(Token::Truncated(Box::new(Token::Refresh {
            session,
            generation,
        })));
        if wanted != Kind::Refresh {
            options.push(Token::Refresh {
                session,
                generation,
            });
        }
    }
    if let Some(k) = s.access.len().checked_sub(1) {
        options.push(Token::Truncated(Box::new(Token::Access(k))));
        if wanted != Kind::Access {
            options.push(Token::Access(k));
        }
    }
    if let Some(c) = s.challenges.len().checked_sub(1) {
        if wanted != Kind::Challenge {
            options.push(Token::Challenge(c));
        }
    }
    if u.ratio(1, 10)? {
        options.push(Token::Garbage("A".repeat(5000)));
    }
    Ok(u.choose(&options)?.clone())
}

/// A tick, usually landing one second before, on, or after some deadline of the state.
fn tick(u: &mut Unstructured<'_>, s: &State) -> Result<u64> {
    let p = &s.params;
    let mut deadlines: Vec<u64> = Vec::new();
    for t in s.access.iter().rev().take(3) {
        deadlines.push(t.issued_at + p.access_ttl);
    }
    for x in s.sessions.iter().rev().take(3).filter(|x| !x.revoked) {
        deadlines.extend([
            x.last_active + p.idle_timeout,
            x.created_at + p.absolute_timeout,
            x.auth_time + p.step_up_window,
        ]);
        if let Some(at) = x.rotated_at {
            deadlines.push(at + p.refresh_grace);
        }
    }
    for a in s.accounts.values() {
        deadlines.extend(a.locked_until);
    }
    for c in s.challenges.iter().rev().take(2).filter(|c| !c.dead) {
        deadlines.push(c.created_at + p.mfa_challenge_ttl);
    }
    deadlines.retain(|d| *d + 1 > s.now);
    if !deadlines.is_empty() && u.ratio(3, 4)? {
        let d = *u.choose(&deadlines)?;
        let offset = *u.choose(&[-1i64, 0, 0, 1])?;
        let target = (d as i64 + offset).max(s.now as i64) as u64;
        return Ok(target - s.now);
    }
    Ok(match u.int_in_range(0..=3)? {
        0 => u.int_in_range(1..=5)?,
        1 => u.int_in_range(1..=60)?,
        2 => u.int_in_range(1..=1000)?,
        _ => u.int_in_range(1..=50_000)?,
    })
}
