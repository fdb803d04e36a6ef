//! The driver's side of the symbolic handles: concrete tokens by handle, and handles derived from
//! what the service answers.

use crate::model::Token;
// Hash flooding is no threat to a test run, so the fast hash serves (SipHash was a few per cent
// of a fuzz execution).
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::DriverError;

/// What a service handed out, numbered in the order it was first seen.
#[derive(Debug, Default, Clone)]
pub struct Handles {
    session_ids: Vec<String>,
    session_index: HashMap<String, usize>,
    refresh: HashMap<(usize, u64), String>,
    refresh_index: HashMap<String, (usize, u64)>,
    latest_generation: Vec<u64>,
    access: Vec<String>,
    /// The session each access token belongs to.
    access_session: Vec<usize>,
    access_index: HashMap<String, usize>,
    challenges: Vec<String>,
    challenge_index: HashSet<String>,
    codes: Vec<Option<String>>,
}

/// Tokens of a successful login, refresh or password change, as the service returned them.
pub struct Issued<'a> {
    /// `None` when the API does not name sessions.
    pub session_id: Option<&'a str>,
    pub access_token: &'a str,
    pub refresh_token: &'a str,
}

impl Handles {
    /// A brand-new session: its id and both tokens must never have been seen. (An API without
    /// session ids gets one made up, in the order sessions appear.)
    pub fn new_session(&mut self, t: Issued<'_>) -> Result<usize, DriverError> {
        let session = self.session_ids.len();
        let id = t
            .session_id
            .map_or_else(|| format!("session-{session}"), str::to_owned);
        if self.session_index.contains_key(&id) {
            return Err(DriverError::Violation(format!(
                "session id {id} issued twice"
            )));
        }
        self.session_ids.push(id.clone());
        self.session_index.insert(id, session);
        self.latest_generation.push(0);
        self.fresh(t.refresh_token, "refresh token")?;
        self.refresh
            .insert((session, 0), t.refresh_token.to_owned());
        self.refresh_index
            .insert(t.refresh_token.to_owned(), (session, 0));
        self.new_access(t.access_token, session)?;
        Ok(session)
    }

    /// Tokens for an existing session: returns (session, generation of the refresh token). A
    /// refresh token seen before keeps its generation; a new one is the next generation. The
    /// session is the one the answer names, or — for an API without session ids — `presented`,
    /// the session of the token the request presented. `same_pair` allows the access token to
    /// be one handed out before for this session (a grace retry that returns the same pair).
    pub fn rotated(
        &mut self,
        t: Issued<'_>,
        presented: Option<usize>,
        same_pair: bool,
    ) -> Result<(usize, u64), DriverError> {
        let session = match t.session_id {
            Some(id) => self.session(id)?,
            None => presented
                .filter(|s| *s < self.session_ids.len())
                .ok_or_else(|| {
                    DriverError::Violation("tokens for a token that names no session".into())
                })?,
        };
        let generation = match self.refresh_index.get(t.refresh_token) {
            Some(&(s, g)) if s == session => g,
            Some(&(s, _)) => {
                return Err(DriverError::Violation(format!(
                    "session #{session} was handed the refresh token of session #{s}"
                )))
            }
            None => {
                self.fresh(t.refresh_token, "refresh token")?;
                let g = self.latest_generation[session] + 1;
                self.latest_generation[session] = g;
                self.refresh
                    .insert((session, g), t.refresh_token.to_owned());
                self.refresh_index
                    .insert(t.refresh_token.to_owned(), (session, g));
                g
            }
        };
        match self.access_index.get(t.access_token) {
            Some(&k) if same_pair && self.access_session[k] == session => {}
            _ => self.new_access(t.access_token, session)?,
        }
        Ok((session, generation))
    }

    /// The session an access token handle belongs to.
    pub fn session_of_access(&self, k: usize) -> Option<usize> {
        self.access_session.get(k).copied()
    }

    /// The handle of a session the service names (it must be one it issued).
    pub fn session(&self, session_id: &str) -> Result<usize, DriverError> {
        self.session_index.get(session_id).copied().ok_or_else(|| {
            DriverError::Violation(format!("answer names session {session_id}, never issued"))
        })
    }

    pub fn new_challenge(&mut self, id: &str, code: Option<String>) -> Result<usize, DriverError> {
        self.fresh(id, "challenge id")?;
        self.challenge_index.insert(id.to_owned());
        self.challenges.push(id.to_owned());
        self.codes.push(code);
        Ok(self.challenges.len() - 1)
    }

    /// The latest refresh generation seen for a session handle.
    pub fn generation(&self, session: usize) -> u64 {
        self.latest_generation.get(session).copied().unwrap_or(0)
    }

    /// A fingerprint of how many handles of each kind exist (for the concurrency checker's memo).
    pub fn counts(&self) -> (usize, usize, usize, u64) {
        (
            self.session_ids.len(),
            self.access.len(),
            self.challenges.len(),
            self.latest_generation.iter().sum(),
        )
    }

    /// Whether this refresh token was handed out before.
    pub fn knows_refresh(&self, token: &str) -> bool {
        self.refresh_index.contains_key(token)
    }

    /// How many challenges were seen.
    pub fn challenge_count(&self) -> usize {
        self.challenges.len()
    }

    pub fn code(&self, challenge: &Token) -> Option<&str> {
        match challenge {
            Token::Challenge(c) => self.codes.get(*c)?.as_deref(),
            _ => None,
        }
    }

    /// The concrete string for a token handle. Handles never issued render as strings no
    /// service could have issued.
    pub fn render(&self, token: &Token) -> String {
        match token {
            Token::Access(k) => self
                .access
                .get(*k)
                .cloned()
                .unwrap_or_else(|| format!("at_never_issued_{k}")),
            Token::Refresh {
                session,
                generation,
            } => self
                .refresh
                .get(&(*session, *generation))
                .cloned()
                .unwrap_or_else(|| format!("rt_never_issued_{session}_{generation}")),
            Token::Challenge(c) => self
                .challenges
                .get(*c)
                .cloned()
                .unwrap_or_else(|| format!("mfa_never_issued_{c}")),
            Token::Truncated(inner) => {
                let mut s = self.render(inner);
                s.pop();
                s
            }
            Token::ForgedV2 {
                session,
                generation,
            } => {
                let id = self
                    .session_ids
                    .get(*session)
                    .map_or("s_never_issued", String::as_str);
                // A well-formed V2 token whose MAC is 32 zero bytes.
                format!("v2.{id}.{generation}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            }
            Token::Garbage(s) => s.clone(),
            Token::Local { op, refresh } => format!("unresolved_local_{op}_{refresh}"),
        }
    }

    fn new_access(&mut self, token: &str, session: usize) -> Result<(), DriverError> {
        self.fresh(token, "access token")?;
        self.access_index
            .insert(token.to_owned(), self.access.len());
        self.access.push(token.to_owned());
        self.access_session.push(session);
        Ok(())
    }

    /// Whether `token` was never handed out before, as a token of any kind. (Every token that
    /// passes is then indexed under its kind, so the indexes are the record of what was seen.)
    fn fresh(&self, token: &str, what: &str) -> Result<(), DriverError> {
        let seen = self.access_index.contains_key(token)
            || self.refresh_index.contains_key(token)
            || self.challenge_index.contains(token);
        if seen {
            Err(DriverError::Violation(format!("{what} handed out twice")))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued<'a>(session_id: &'a str, access: &'a str, refresh: &'a str) -> Issued<'a> {
        Issued {
            session_id: Some(session_id),
            access_token: access,
            refresh_token: refresh,
        }
    }

    /// No token is handed out twice, as the same kind or as another.
    #[test]
    fn a_token_seen_before_as_any_kind_is_a_violation() {
        let mut h = Handles::default();
        h.new_session(issued("s0", "a0", "r0")).unwrap();
        h.new_challenge("c0", None).unwrap();
        for (access, refresh) in [
            ("a0", "r1"),
            ("r0", "r1"),
            ("c0", "r1"),
            ("a1", "a0"),
            ("a1", "c0"),
        ] {
            let mut again = h.clone();
            let err = again
                .new_session(issued("s1", access, refresh))
                .unwrap_err();
            assert!(
                matches!(err, DriverError::Violation(_)),
                "{access} {refresh}: {err:?}"
            );
        }
        assert!(h.new_challenge("r0", None).is_err());
        assert!(h.new_challenge("a0", None).is_err());
        assert!(h.new_challenge("c0", None).is_err());
        // A fresh session and a rotation with new tokens pass.
        h.new_session(issued("s1", "a1", "r1")).unwrap();
        assert_eq!(
            h.rotated(issued("s1", "a2", "r2"), None, false).unwrap(),
            (1, 1)
        );
        let err = h
            .rotated(issued("s1", "a3", "c0"), None, false)
            .unwrap_err();
        assert!(matches!(err, DriverError::Violation(_)), "{err:?}");
    }
}
