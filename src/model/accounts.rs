//! Accounts: PRECIS names, registration, the login check order and lockout, admin actions
//! (PROTOCOL.md §3, rules 6, 9, 11).
//!
//! Names and passwords are compared after RFC 8265 preparation (UsernameCaseMapped,
//! OpaqueString). The model takes that preparation from the `precis-profiles` crate directly:
//! RFC 8265 is the normative definition PROTOCOL.md §3 points to.

use super::text::{Preparation, Text};
use super::{Aal, Account, Outcome, Reason, State};
use precis_core::profile::PrecisFastInvocation;
use precis_profiles::{OpaqueString, UsernameCaseMapped};
use rustc_hash::FxHashMap;
use std::cell::RefCell;

/// Longest canonical username, in bytes, and longest raw input considered (README decisions).
pub const MAX_USERNAME_BYTES: usize = 256;
const MAX_USERNAME_INPUT_BYTES: usize = 4 * MAX_USERNAME_BYTES;
/// Password length bounds in characters after preparation (PROTOCOL.md §3), and longest raw input.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;
const MAX_PASSWORD_INPUT_BYTES: usize = 4 * 128;

/// The account a typed username names, or `None` for an empty or disallowed name.
pub fn canonical(user: &str) -> Option<String> {
    canonical_ref(user).map(|c| c.to_string())
}

/// The prepared password, or `None` when it is disallowed or out of bounds.
pub fn prepared(password: &str) -> Option<String> {
    prepared_ref(password).map(|p| p.to_string())
}

/// A prepared string, copied only when preparation changed it (the lockstep's hot path
/// prepares a name or password on most steps).
#[derive(Debug, Clone)]
pub(super) enum Prepared<'a> {
    /// The input was already in its prepared form.
    AsTyped(&'a str),
    /// What preparation made of it.
    Mapped(Text),
    /// What preparation made of it, as the typed text remembers it.
    Remembered(&'a Text),
}

impl std::ops::Deref for Prepared<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Prepared::AsTyped(s) => s,
            Prepared::Mapped(s) => s,
            Prepared::Remembered(s) => s,
        }
    }
}

impl Prepared<'_> {
    /// The prepared text to keep, given the `typed` text it was prepared from: the typed text
    /// itself (shared, not copied) when preparation left it as it was.
    pub(super) fn keep(self, typed: &Text) -> Text {
        match self {
            Prepared::AsTyped(_) => typed.clone(),
            Prepared::Mapped(m) => m,
            Prepared::Remembered(m) => m.clone(),
        }
    }

    /// Whether this, prepared from `typed`, is `stored` (the same shared text is equal without
    /// comparing 512 bytes).
    fn is(&self, typed: &Text, stored: &Text) -> bool {
        let same = match self {
            Prepared::AsTyped(_) => typed.same(stored),
            Prepared::Mapped(m) => m.same(stored),
            Prepared::Remembered(m) => m.same(stored),
        };
        same || **self == **stored
    }
}

/// [`canonical`], without copying a name that is already canonical.
fn canonical_ref(user: &str) -> Option<Prepared<'_>> {
    if user.is_empty() || user.len() > MAX_USERNAME_INPUT_BYTES {
        return None;
    }
    // Printable ASCII other than space is where UsernameCaseMapped is plain lowercasing (the
    // tests hold this against the crate); generated names live there.
    if user.bytes().all(|b| b.is_ascii_graphic()) {
        if user.len() > MAX_USERNAME_BYTES {
            return None;
        }
        return Some(match user.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Prepared::Mapped(user.to_ascii_lowercase().into()),
            false => Prepared::AsTyped(user),
        });
    }
    memo(&CANONICAL, user, |user| {
        let c = UsernameCaseMapped::enforce(user).ok()?;
        (!c.is_empty() && c.len() <= MAX_USERNAME_BYTES).then(|| c.into())
    })
}

/// [`prepared`], without copying a password that prepares to itself.
fn prepared_ref(password: &str) -> Option<Prepared<'_>> {
    if password.len() > MAX_PASSWORD_INPUT_BYTES {
        return None;
    }
    // OpaqueString leaves printable ASCII (space included) as it is (the tests hold this
    // against the crate).
    if password.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return PASSWORD_CHARS
            .contains(&password.len())
            .then_some(Prepared::AsTyped(password));
    }
    memo(&PREPARED, password, |password| {
        let p = OpaqueString::enforce(password).ok()?;
        PASSWORD_CHARS
            .contains(&p.chars().count())
            .then(|| p.into())
    })
}

/// [`canonical_ref`] of an operation's text (worked out once per shared text).
// Inlined: returned through memory, the answer stalled the step reading it back (perf).
#[inline]
fn canonical_text(user: &Text) -> Option<Prepared<'_>> {
    remembered(user, user.as_name(|s| preparation(canonical_ref(s))))
}

/// [`prepared_ref`] of an operation's text (worked out once per shared text).
#[inline]
pub(super) fn prepared_text(password: &Text) -> Option<Prepared<'_>> {
    remembered(
        password,
        password.as_password(|s| preparation(prepared_ref(s))),
    )
}

/// What a text keeps of its preparation.
fn preparation(prepared: Option<Prepared<'_>>) -> Preparation {
    prepared.map(|p| match p {
        Prepared::AsTyped(_) => None,
        Prepared::Mapped(m) => Some(m),
        Prepared::Remembered(m) => Some(m.clone()),
    })
}

/// A text's kept preparation, as a [`Prepared`] borrowing from the text.
#[inline]
fn remembered<'a>(typed: &'a Text, kept: &'a Preparation) -> Option<Prepared<'a>> {
    Some(match kept.as_ref()? {
        None => Prepared::AsTyped(typed),
        Some(mapped) => Prepared::Remembered(mapped),
    })
}

/// Names a profile with `usernames = "exact-ascii"` accepts.
fn exact_ascii(user: &str) -> bool {
    (1..=150).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b))
}

type Memo = RefCell<FxHashMap<Box<str>, Option<Text>>>;

/// Entries a memo keeps before it starts over (hostile inputs are mostly one-offs).
const MEMO_LIMIT: usize = 4096;

thread_local! {
    // PRECIS preparation is a pure function of its input; remembering answers keeps the model
    // pure and takes it off the lockstep's hot path (generated traces reuse a few names).
    static CANONICAL: Memo = Memo::default();
    static PREPARED: Memo = Memo::default();
}

fn memo<'a>(
    table: &'static std::thread::LocalKey<Memo>,
    input: &'a str,
    compute: impl FnOnce(&str) -> Option<Text>,
) -> Option<Prepared<'a>> {
    let answer = table.with(|t| {
        if let Some(hit) = t.borrow().get(input) {
            return hit.clone();
        }
        let answer = compute(input);
        let mut t = t.borrow_mut();
        if t.len() > MEMO_LIMIT {
            t.clear();
        }
        t.insert(input.into(), answer.clone());
        answer
    })?;
    // The same text as the input needs no shared copy.
    Some(match &*answer == input {
        true => Prepared::AsTyped(input),
        false => Prepared::Mapped(answer),
    })
}

impl State {
    /// The account a typed username names under this state's choices (PRECIS, or exact ASCII),
    /// or `None` for a name no account can have.
    pub fn account_name(&self, user: &str) -> Option<String> {
        self.account_key(user).map(|name| name.to_string())
    }

    /// [`State::account_name`], borrowing the typed name when it already is the account's.
    fn account_key<'a>(&self, user: &'a str) -> Option<Prepared<'a>> {
        match self.choices.usernames {
            super::profile::Usernames::Precis => canonical_ref(user),
            super::profile::Usernames::ExactAscii => {
                exact_ascii(user).then_some(Prepared::AsTyped(user))
            }
        }
    }

    /// [`State::account_key`] of an operation's text (PRECIS worked out once per text).
    fn account_key_text<'a>(&self, user: &'a Text) -> Option<Prepared<'a>> {
        match self.choices.usernames {
            super::profile::Usernames::Precis => canonical_text(user),
            super::profile::Usernames::ExactAscii => self.account_key(user),
        }
    }

    pub(super) fn register(&mut self, user: &Text, typed: &Text, mfa: bool) -> Outcome {
        let Some(name) = self.account_key_text(user) else {
            return Outcome::Rejected(Reason::InvalidUsername);
        };
        let Some(password) = prepared_text(typed) else {
            return Outcome::Rejected(Reason::WeakPassword);
        };
        let password = password.keep(typed);
        if self.accounts.contains_key(&name) {
            return Outcome::Rejected(Reason::UsernameTaken);
        }
        self.accounts.insert(
            name.keep(user),
            Account {
                password,
                mfa: mfa && self.choices.mfa,
                disabled: false,
                failures: 0,
                locked_until: None,
            },
        );
        Outcome::Registered
    }

    /// Rule 9 order: unknown user → locked → wrong password (counted) → disabled → MFA.
    pub(super) fn login(&mut self, user: &Text, password: &Text) -> Outcome {
        use super::profile::Lockout;
        let (now, p, lockout) = (self.now, self.params, self.choices.lockout);
        let Some(name) = self.account_key_text(user) else {
            return Outcome::Rejected(Reason::InvalidCredentials);
        };
        let Some(account) = self.accounts.get_mut(&name) else {
            return Outcome::Rejected(Reason::InvalidCredentials);
        };
        if let Some(until) = account.locked_until {
            if super::deadlines::valid(now, until) {
                return Outcome::Rejected(match lockout {
                    Lockout::AsInvalidCredentials => Reason::InvalidCredentials,
                    _ => Reason::Locked,
                });
            }
            // The lock lapsed at `until`: it and the count are gone.
            account.locked_until = None;
            account.failures = 0;
        }
        if !prepared_text(password).is_some_and(|p| p.is(password, &account.password)) {
            if lockout == Lockout::None {
                return Outcome::Rejected(Reason::InvalidCredentials);
            }
            account.failures += 1;
            if account.failures >= p.lockout_threshold {
                account.locked_until = Some(now.saturating_add(p.lockout_duration));
                account.failures = 0;
            }
            return Outcome::Rejected(Reason::InvalidCredentials);
        }
        // A right password resets the count, whatever happens next.
        account.failures = 0;
        if account.disabled {
            return Outcome::Rejected(Reason::Disabled);
        }
        let name = name.keep(user);
        if account.mfa {
            return self.start_challenge(name);
        }
        let session = self.create_session(name, Aal::Aal1);
        Outcome::Issued {
            session,
            aal: Aal::Aal1,
        }
    }

    /// Whether `password` is the account's password (no counting: only Login counts).
    pub(super) fn password_matches(&self, user: &str, password: &Text) -> bool {
        self.accounts
            .get(user)
            .is_some_and(|a| prepared_text(password).is_some_and(|p| p.is(password, &a.password)))
    }

    pub(super) fn admin_disable(&mut self, user: &Text) -> Outcome {
        let Some(name) = self.known(user) else {
            return Outcome::Rejected(Reason::UnknownUser);
        };
        if let Some(account) = self.accounts.get_mut(&name) {
            account.disabled = true;
        }
        if self.choices.disable_ends_sessions {
            for s in self.sessions.iter_mut().filter(|s| *s.user == *name) {
                s.revoked = true;
            }
        }
        // A login in progress dies with the account (README decision).
        for c in self.challenges.iter_mut().filter(|c| *c.user == *name) {
            c.dead = true;
        }
        Outcome::Done
    }

    pub(super) fn admin_enable(&mut self, user: &Text) -> Outcome {
        self.with_account(user, |a| a.disabled = false)
    }

    pub(super) fn admin_unlock(&mut self, user: &Text) -> Outcome {
        self.with_account(user, |a| {
            a.failures = 0;
            a.locked_until = None;
        })
    }

    fn known<'a>(&self, user: &'a Text) -> Option<Prepared<'a>> {
        self.account_key_text(user)
            .filter(|name| self.accounts.contains_key(name))
    }

    fn with_account(&mut self, user: &Text, change: impl FnOnce(&mut Account)) -> Outcome {
        match self
            .account_key_text(user)
            .and_then(|name| self.accounts.get_mut(&name))
        {
            Some(account) => {
                change(account);
                Outcome::Done
            }
            None => Outcome::Rejected(Reason::UnknownUser),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 8265 straight from the crate, with no fast path and no memo.
    fn by_crate(user: &str) -> (Option<String>, Option<String>) {
        let name = (!user.is_empty() && user.len() <= MAX_USERNAME_INPUT_BYTES)
            .then(|| UsernameCaseMapped::enforce(user).ok())
            .flatten()
            .map(|c| c.into_owned())
            .filter(|c| !c.is_empty() && c.len() <= MAX_USERNAME_BYTES);
        let password = (user.len() <= MAX_PASSWORD_INPUT_BYTES)
            .then(|| OpaqueString::enforce(user).ok())
            .flatten()
            .map(|p| p.into_owned())
            .filter(|p| PASSWORD_CHARS.contains(&p.chars().count()));
        (name, password)
    }

    fn ours(input: &str) -> (Option<String>, Option<String>) {
        (canonical(input), prepared(input))
    }

    #[test]
    fn the_ascii_fast_path_is_rfc_8265_for_every_short_ascii_string() {
        // Every ASCII character alone, in pairs, and padded to a valid password length, so that
        // both the names and the passwords cross the fast path's edges (space, DEL, controls).
        for a in 0u8..128 {
            for b in 0u8..128 {
                for input in [
                    String::from(a as char),
                    format!("{}{}", a as char, b as char),
                    format!("{}Passw0rd{}", a as char, b as char),
                ] {
                    assert_eq!(ours(&input), by_crate(&input), "{input:?}");
                }
            }
        }
    }

    #[test]
    fn the_ascii_fast_path_keeps_the_length_limits() {
        for len in [7, 8, 128, 129, 256, 257, 512, 513, 1024, 1025] {
            for c in ['a', 'A', ' '] {
                let input = c.to_string().repeat(len);
                assert_eq!(ours(&input), by_crate(&input), "{c:?} × {len}");
            }
        }
    }

    #[test]
    fn a_shared_text_is_prepared_as_its_content_is() {
        let inputs = [
            "alice",
            "Alice",
            "ＡＬＩＣＥ",
            "İpek",
            "Straße",
            "e\u{301}milie",
            "two words",
            "",
            "correct horse battery",
            "pässwörd ünïcödé",
            "short",
            "\u{200B}",
            "Ⅸ",
        ];
        for input in inputs {
            let text: Text = input.into();
            let held = text.clone(); // shared: answers are remembered by address
            for round in ["first", "remembered"] {
                let name = canonical_text(&text).map(|p| p.to_string());
                let password = prepared_text(&text).map(|p| p.to_string());
                assert_eq!((name, password), by_crate(input), "{input:?}, {round}");
            }
            drop(held);
        }
    }

    #[test]
    fn exact_ascii_names_are_compared_byte_for_byte() {
        use crate::model::profile::Usernames;
        use crate::model::{Choices, Op, Params};
        let choices = Choices {
            usernames: Usernames::ExactAscii,
            ..Choices::default()
        };
        let mut s = State::with_choices(Params::default(), choices);
        let register = |user: &str| Op::Register {
            user: user.into(),
            password: "correct horse battery".into(),
            mfa: false,
        };
        let login = |user: &str| Op::Login {
            user: user.into(),
            password: "correct horse battery".into(),
            device: 0,
        };
        assert_eq!(s.apply(&register("Alice")), Outcome::Registered);
        assert_eq!(s.apply(&register("alice")), Outcome::Registered);
        for name in ["two words", "émilie", ""] {
            assert_eq!(
                s.apply(&register(name)),
                Outcome::Rejected(Reason::InvalidUsername),
                "{name:?}"
            );
        }
        assert_eq!(
            s.apply(&login("ALICE")),
            Outcome::Rejected(Reason::InvalidCredentials)
        );
        assert!(matches!(s.apply(&login("Alice")), Outcome::Issued { .. }));
        assert_eq!(s.account_name("Alice").as_deref(), Some("Alice"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]
        #[test]
        fn preparation_matches_the_crate(input in "[ -~]{0,40}|\\PC{0,12}|[a-zA-Z0-9\\u{00c0}-\\u{00ff} ]{0,20}") {
            prop_assert_eq!(ours(&input), by_crate(&input));
        }
    }
}
