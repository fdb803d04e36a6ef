//! The values operations are made of: names in many scripts (and their spellings), passwords,
//! hostile strings, and choosers that pick existing handles (the latest most of the time) or
//! something that must be refused (forged, truncated, cross-typed, garbage tokens).

use crate::model::accounts::canonical;
use crate::model::{Op, State, Text, Token};
use arbitrary::{Result, Unstructured};
use rustc_hash::FxHashMap;
use std::cell::RefCell;

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
    // 128 characters in 256 and in 512 bytes: limits counted in bytes instead of characters
    // show.
    "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
    "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
];

pub const WEAK_PASSWORDS: &[&str] = &[
    "short",
    "",
    "1234567",
    // 129 characters, multibyte: one over the limit.
    "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
];

/// An entry of this module's tables as a [`Text`], one allocation per entry and thread: every
/// operation that names it shares it, so what the model works out about it (its PRECIS
/// preparation) is worked out once, not on every step.
pub fn shared(entry: &'static str) -> Text {
    thread_local! {
        static TEXTS: RefCell<FxHashMap<(usize, usize), Text>> = RefCell::default();
    }
    // Keyed by address and length: a table entry is a `'static` literal (two entries may share
    // an address only as a prefix, so the length tells them apart).
    TEXTS.with(|t| {
        t.borrow_mut()
            .entry((entry.as_ptr() as usize, entry.len()))
            .or_insert_with(|| entry.into())
            .clone()
    })
}

/// The text every generated wrong password is.
pub fn wrong_password() -> Text {
    shared("wrong password!")
}

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

/// A registration: mostly a new spelling from [`NAMES`], sometimes a name already taken, an
/// invalid or over-long one, or arbitrary text; mostly a good password.
pub fn register(u: &mut Unstructured<'_>, s: &State, mfa_share: (u32, u32)) -> Result<Op> {
    let user = match u.int_in_range(0..=19)? {
        0 => shared(u.choose(INVALID_NAMES)?),
        1 => "n".repeat(*u.choose(&[256usize, 257, 2000])?).into(),
        2 => arbitrary_text(u)?.into(),
        // A name with an account already (another spelling): UsernameTaken.
        3..=5 if !s.accounts.is_empty() => spelling_of_existing(u, s)?,
        _ => spelling(u)?,
    };
    let password = match u.int_in_range(0..=9)? {
        0 => shared(u.choose(WEAK_PASSWORDS)?),
        1 => "w".repeat(129).into(),
        _ => shared(u.choose(PASSWORDS)?),
    };
    Ok(Op::Register {
        user,
        password,
        mfa: mfa_share.0 > 0 && u.ratio(mfa_share.0, mfa_share.1)?,
    })
}

pub fn login(u: &mut Unstructured<'_>, s: &State) -> Result<Op> {
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
        (Some(right), 6) => with_other_tail(&right).into(),
        (Some(right), 7) => format!("{right}x").into(),
        (_, 8) => shared(u.choose(PASSWORDS)?),
        _ => wrong_password(),
    };
    Ok(Op::Login {
        user,
        password,
        device: u.int_in_range(0..=3)?,
    })
}

/// The same password with its last character changed: a truncating comparison accepts it.
pub fn with_other_tail(password: &str) -> String {
    let mut p: String = password.to_owned();
    let last = p.pop().unwrap_or('a');
    p.push(if last == 'Z' { 'Y' } else { 'Z' });
    p
}

pub fn spelling(u: &mut Unstructured<'_>) -> Result<Text> {
    let row = u.choose(NAMES)?;
    Ok(shared(u.choose(row)?))
}

pub fn spelling_of_existing(u: &mut Unstructured<'_>, s: &State) -> Result<Text> {
    let names: Vec<&Text> = s.accounts.keys().collect();
    let Ok(name) = u.choose(&names) else {
        return spelling(u);
    };
    spelling_of(u, name)
}

/// A spelling of the account `name`: another entry of its row of [`NAMES`] when it has one.
pub fn spelling_of(u: &mut Unstructured<'_>, name: &str) -> Result<Text> {
    match rows().get(name) {
        Some(row) => Ok(shared(u.choose(row)?)),
        None => Ok(name.into()),
    }
}

/// The row of [`NAMES`] each canonical name belongs to (computed once).
fn rows() -> &'static std::collections::HashMap<String, &'static [&'static str]> {
    static ROWS: std::sync::OnceLock<std::collections::HashMap<String, &'static [&'static str]>> =
        std::sync::OnceLock::new();
    ROWS.get_or_init(|| {
        let mut rows = std::collections::HashMap::new();
        for row in NAMES {
            for n in row.iter() {
                if let Some(c) = canonical(n) {
                    rows.entry(c).or_insert(*row);
                }
            }
        }
        rows
    })
}

pub fn user_name(u: &mut Unstructured<'_>, s: &State) -> Result<Text> {
    match u.int_in_range(0..=9)? {
        0 => Ok(shared(u.choose(INVALID_NAMES)?)),
        1 | 2 => spelling(u),
        _ => spelling_of_existing(u, s),
    }
}

pub fn arbitrary_text(u: &mut Unstructured<'_>) -> Result<String> {
    let len = u.int_in_range(0..=24)?;
    let mut out = String::new();
    for _ in 0..len {
        out.push(char::from_u32(u.int_in_range(0x20..=0x2FFF)?).unwrap_or('?'));
    }
    Ok(out)
}

/// The right password of the token's owner most of the time, a wrong one otherwise.
pub fn password_for_token(u: &mut Unstructured<'_>, s: &State, token: &Token) -> Result<Text> {
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
        Some(p) if u.ratio(1, 2)? => with_other_tail(&p).into(),
        _ => wrong_password(),
    })
}

/// A session handle, preferring the most recent ones.
pub fn session(u: &mut Unstructured<'_>, s: &State) -> Result<usize> {
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

pub fn refresh_token(u: &mut Unstructured<'_>, s: &State) -> Result<Token> {
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

pub fn access_token(u: &mut Unstructured<'_>, s: &State) -> Result<Token> {
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

pub fn challenge_token(u: &mut Unstructured<'_>, s: &State) -> Result<Token> {
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

pub fn any_token(u: &mut Unstructured<'_>, s: &State) -> Result<Token> {
    match u.int_in_range(0..=3)? {
        0 => access_token(u, s),
        1 | 2 => refresh_token(u, s),
        _ => hostile(u, s, Kind::Any),
    }
}

#[derive(PartialEq)]
pub enum Kind {
    Access,
    Refresh,
    Challenge,
    Any,
}

/// A token that must be refused: cross-typed, truncated, forged or garbage.
pub fn hostile(u: &mut Unstructured<'_>, s: &State, wanted: Kind) -> Result<Token> {
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
