//! Accounts: PRECIS names, registration, the login check order and lockout, admin actions
//! (PROTOCOL.md §3, rules 6, 9, 11).
//!
//! Names and passwords are compared after RFC 8265 preparation (UsernameCaseMapped,
//! OpaqueString). The model takes that preparation from the `precis-profiles` crate directly:
//! RFC 8265 is the normative definition PROTOCOL.md §3 points to.

use super::{Aal, Account, Outcome, Reason, State};
use precis_core::profile::PrecisFastInvocation;
use precis_profiles::{OpaqueString, UsernameCaseMapped};

/// Longest canonical username, in bytes, and longest raw input considered (README decisions).
pub const MAX_USERNAME_BYTES: usize = 256;
const MAX_USERNAME_INPUT_BYTES: usize = 4 * MAX_USERNAME_BYTES;
/// Password length bounds in characters after preparation (PROTOCOL.md §3), and longest raw input.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;
const MAX_PASSWORD_INPUT_BYTES: usize = 4 * 128;

/// The account a typed username names, or `None` for an empty or disallowed name.
pub fn canonical(user: &str) -> Option<String> {
    memo(&CANONICAL, user, |user| {
        if user.is_empty() || user.len() > MAX_USERNAME_INPUT_BYTES {
            return None;
        }
        let c = UsernameCaseMapped::enforce(user).ok()?.into_owned();
        (!c.is_empty() && c.len() <= MAX_USERNAME_BYTES).then_some(c)
    })
}

/// The prepared password, or `None` when it is disallowed or out of bounds.
pub fn prepared(password: &str) -> Option<String> {
    memo(&PREPARED, password, |password| {
        if password.len() > MAX_PASSWORD_INPUT_BYTES {
            return None;
        }
        let p = OpaqueString::enforce(password).ok()?.into_owned();
        PASSWORD_CHARS.contains(&p.chars().count()).then_some(p)
    })
}

type Memo = std::cell::RefCell<std::collections::HashMap<String, Option<String>>>;

thread_local! {
    // PRECIS preparation is a pure function of its input; remembering answers keeps the model
    // pure and takes it off the lockstep's hot path (generated traces reuse a few names).
    static CANONICAL: Memo = Memo::default();
    static PREPARED: Memo = Memo::default();
}

fn memo(
    table: &'static std::thread::LocalKey<Memo>,
    input: &str,
    compute: impl FnOnce(&str) -> Option<String>,
) -> Option<String> {
    if let Some(hit) = table.with(|t| t.borrow().get(input).cloned()) {
        return hit;
    }
    let answer = compute(input);
    table.with(|t| {
        let mut t = t.borrow_mut();
        if t.len() > 4096 {
            t.clear(); // bounded: hostile inputs are mostly one-offs
        }
        t.insert(input.to_owned(), answer.clone());
    });
    answer
}

impl State {
    /// The account a typed username names under this state's choices (PRECIS, or exact ASCII),
    /// or `None` for a name no account can have.
    pub fn account_name(&self, user: &str) -> Option<String> {
        match self.choices.usernames {
            super::profile::Usernames::Precis => canonical(user),
            super::profile::Usernames::ExactAscii => {
                let ok = (1..=150).contains(&user.len())
                    && user
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b));
                ok.then(|| user.to_owned())
            }
        }
    }

    pub(super) fn register(&mut self, user: &str, password: &str, mfa: bool) -> Outcome {
        let Some(name) = self.account_name(user) else {
            return Outcome::Rejected(Reason::InvalidUsername);
        };
        let Some(password) = prepared(password) else {
            return Outcome::Rejected(Reason::WeakPassword);
        };
        if self.accounts.contains_key(&name) {
            return Outcome::Rejected(Reason::UsernameTaken);
        }
        self.accounts.insert(
            name,
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
    pub(super) fn login(&mut self, user: &str, password: &str) -> Outcome {
        use super::profile::Lockout;
        let (now, p, lockout) = (self.now, self.params, self.choices.lockout);
        let Some(name) = self.account_name(user) else {
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
        if prepared(password).as_deref() != Some(account.password.as_str()) {
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
        if account.mfa {
            return self.start_challenge(&name);
        }
        let session = self.create_session(&name, Aal::Aal1);
        Outcome::Issued {
            session,
            aal: Aal::Aal1,
        }
    }

    /// Whether `password` is the account's password (no counting: only Login counts).
    pub(super) fn password_matches(&self, user: &str, password: &str) -> bool {
        self.accounts
            .get(user)
            .is_some_and(|a| prepared(password).as_deref() == Some(a.password.as_str()))
    }

    pub(super) fn admin_disable(&mut self, user: &str) -> Outcome {
        let Some(name) = self.known(user) else {
            return Outcome::Rejected(Reason::UnknownUser);
        };
        if let Some(account) = self.accounts.get_mut(&name) {
            account.disabled = true;
        }
        if self.choices.disable_ends_sessions {
            for s in self.sessions.iter_mut().filter(|s| s.user == name) {
                s.revoked = true;
            }
        }
        // A login in progress dies with the account (README decision).
        for c in self.challenges.iter_mut().filter(|c| c.user == name) {
            c.dead = true;
        }
        Outcome::Done
    }

    pub(super) fn admin_enable(&mut self, user: &str) -> Outcome {
        self.with_account(user, |a| a.disabled = false)
    }

    pub(super) fn admin_unlock(&mut self, user: &str) -> Outcome {
        self.with_account(user, |a| {
            a.failures = 0;
            a.locked_until = None;
        })
    }

    fn known(&self, user: &str) -> Option<String> {
        self.account_name(user)
            .filter(|name| self.accounts.contains_key(name))
    }

    fn with_account(&mut self, user: &str, change: impl FnOnce(&mut Account)) -> Outcome {
        match self
            .account_name(user)
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
