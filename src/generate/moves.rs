//! Moves: what the generator can add to a trace in one decision. Besides one operation of a
//! kind from the case's swarm mix, moves that build what single operations rarely do:
//!
//! - **repeat** the previous operation k times, literally (the same wrong password, the same
//!   retried refresh, the same tick) or re-drawn with the same kind;
//! - **keep alive**: hold a session open with calls just inside its idle timeout until a
//!   far deadline (the absolute timeout, a lock's lapse, any pending deadline) comes, then
//!   probe it at one second before, on or after;
//! - **approach a limit**: push a counter of the model (wrong passwords, wrong codes) to one or
//!   two below its limit, so the next operation decides on the edge;
//! - **observe**: after a call, look at what it acted on with an operation whose answer the
//!   call changed, so a call that left out part of its effect is seen at once.

use super::swarm::{runnable, Swarm};
use super::time::{self, RecentCalls};
use super::values;
use crate::adapter::Capabilities;
use crate::model::{
    AccessToken, Code, CounterKind, Deadline, DeadlineKind, Op, OpKind, RolloutStep, Scope, State,
    Subject, Token, Upstream, Version,
};
use arbitrary::{Result, Unstructured};

/// One operation of `kind` that makes sense in `s` (most of the time).
pub fn one(
    u: &mut Unstructured<'_>,
    s: &State,
    kind: OpKind,
    caps: Capabilities,
    swarm: &Swarm,
    recent: &RecentCalls,
) -> Result<Op> {
    Ok(match kind {
        OpKind::Register => {
            // Cases that verify codes want MFA accounts; without our provider nobody could
            // read the codes.
            let share = if !caps.mfa || !s.choices.mfa {
                (0, 1)
            } else if swarm.enabled(OpKind::VerifyMfa) {
                (2, 3)
            } else {
                (1, 3)
            };
            values::register(u, s, share)?
        }
        OpKind::Login => values::login(u, s)?,
        OpKind::VerifyMfa => Op::VerifyMfa {
            challenge: values::challenge_token(u, s)?,
            code: if u.ratio(7, 10)? {
                Code::Right
            } else {
                Code::Wrong
            },
        },
        OpKind::Refresh => Op::Refresh {
            token: values::refresh_token(u, s)?,
        },
        OpKind::Access => Op::Access {
            token: values::access_token(u, s)?,
        },
        OpKind::Sensitive => Op::Sensitive {
            token: values::access_token(u, s)?,
        },
        OpKind::Reauthenticate => {
            let token = values::access_token(u, s)?;
            let password = values::password_for_token(u, s, &token)?;
            Op::Reauthenticate { token, password }
        }
        OpKind::Logout => Op::Logout {
            token: values::access_token(u, s)?,
            scope: if s.choices.logout_scopes {
                *u.choose(&[Scope::Local, Scope::Local, Scope::Others, Scope::Global])?
            } else {
                Scope::Local
            },
        },
        OpKind::Revoke => Op::Revoke {
            token: values::any_token(u, s)?,
        },
        OpKind::ChangePassword => {
            let token = values::access_token(u, s)?;
            let old = values::password_for_token(u, s, &token)?;
            let new = if u.ratio(1, 5)? {
                values::shared(u.choose(values::WEAK_PASSWORDS)?)
            } else {
                values::shared(u.choose(values::PASSWORDS)?)
            };
            Op::ChangePassword { token, old, new }
        }
        OpKind::AdminDisable => Op::AdminDisable {
            user: values::user_name(u, s)?,
        },
        OpKind::AdminEnable => Op::AdminEnable {
            user: values::user_name(u, s)?,
        },
        OpKind::AdminUnlock => Op::AdminUnlock {
            user: values::user_name(u, s)?,
        },
        OpKind::Tick => Op::Tick {
            seconds: time::tick(u, s, recent)?,
        },
        OpKind::UpstreamFault => Op::UpstreamFault {
            mode: *u.choose(&[
                Upstream::Up,
                Upstream::Up,
                Upstream::Up,
                Upstream::Down,
                Upstream::Garbage,
            ])?,
        },
        OpKind::Deploy => Op::Deploy {
            version: if s.version == Version::V1 {
                Version::V2
            } else {
                Version::V1
            },
        },
        OpKind::Restart => Op::Restart,
        // Upgrade steps are laid over a generated trace by `crate::upgrade`, never drawn here.
        OpKind::Rollout => Op::Rollout {
            step: *u.choose(&[
                RolloutStep::Start,
                RolloutStep::Finish,
                RolloutStep::Rollback,
                RolloutStep::Finalize,
            ])?,
        },
        OpKind::Crash => Op::Crash,
    })
}

/// How many times to repeat: up to a little past the largest limit of the case, now and then
/// much longer.
pub fn repetitions(u: &mut Unstructured<'_>, s: &State) -> Result<usize> {
    let p = &s.params;
    let limit = p.lockout_threshold.max(p.mfa_max_attempts).min(20) as usize;
    Ok(if u.ratio(1, 8)? {
        u.int_in_range(1..=30)?
    } else {
        u.int_in_range(1..=limit + 2)?
    })
}

/// A session to keep alive and the deadline to keep it alive for: a pending deadline of the
/// state, or a counterfactual one, preferring the far ones (the absolute timeout, a lock).
pub fn keep_alive_target(
    u: &mut Unstructured<'_>,
    s: &State,
    recent: &RecentCalls,
) -> Result<Option<(usize, u64)>> {
    let live: Vec<usize> = (0..s.sessions.len()).filter(|i| s.live(*i)).collect();
    if live.is_empty() || s.params.idle_timeout < 2 {
        return Ok(None);
    }
    let deadlines = s.deadlines();
    let far: Vec<_> = deadlines
        .iter()
        .filter(|d| matches!(d.kind, DeadlineKind::Absolute | DeadlineKind::LockLapse))
        .collect();
    let (session, at) = match u.int_in_range(0..=3)? {
        0 | 1 if !far.is_empty() => {
            let d = u.choose(&far)?;
            let session = match d.subject {
                Subject::Session(i) if live.contains(&i) => i,
                _ => *u.choose(&live)?,
            };
            (session, d.at)
        }
        _ => match time::pick_target(u, s, recent)? {
            Some(at) => (*u.choose(&live)?, at),
            None => return Ok(None),
        },
    };
    Ok((at > s.now + 1).then_some((session, at)))
}

/// One keep-alive call on `session`: its latest access token while that is valid, else a
/// refresh of its current generation (which issues a new one).
pub fn keep_alive_call(u: &mut Unstructured<'_>, s: &State, session: usize) -> Result<Op> {
    let latest = s.access.iter().rposition(|a| a.session == session);
    let generation = s.sessions[session].generation;
    let refresh = Op::Refresh {
        token: Token::Refresh {
            session,
            generation,
        },
    };
    Ok(match latest {
        Some(k) if s.authorize(&Token::Access(k)).is_ok() && u.ratio(1, 2)? => Op::Access {
            token: Token::Access(k),
        },
        _ => refresh,
    })
}

/// The gap between keep-alive calls: just inside the idle timeout, half of it, or anything
/// shorter.
pub fn keep_alive_step(u: &mut Unstructured<'_>, s: &State) -> Result<u64> {
    let idle = s.params.idle_timeout;
    Ok(match u.int_in_range(0..=2)? {
        0 => idle - 1,
        1 => (idle / 2).max(1),
        _ => u.int_in_range(1..=idle - 1)?,
    })
}

/// An operation that looks at `session` once the clock is at the target.
pub fn probe(u: &mut Unstructured<'_>, s: &State, session: usize) -> Result<Op> {
    let latest = s.access.iter().rposition(|a| a.session == session);
    let generation = s.sessions[session].generation;
    Ok(match (u.int_in_range(0..=3)?, latest) {
        (0, Some(k)) => Op::Access {
            token: Token::Access(k),
        },
        (1, Some(k)) if s.choices.step_up => Op::Sensitive {
            token: Token::Access(k),
        },
        (1, Some(k)) => Op::Access {
            token: Token::Access(k),
        },
        (2, _) if generation > 0 => Op::Refresh {
            token: Token::Refresh {
                session,
                generation: generation - 1,
            },
        },
        _ => Op::Refresh {
            token: Token::Refresh {
                session,
                generation,
            },
        },
    })
}

/// A boundary probe: a tick to one second before, on or after a pending deadline of the model,
/// then an operation on what that deadline belongs to (its token, its session, its account, its
/// challenge) — so the answer that depends on the deadline is asked for right there. Which
/// operation's answer depends on it is the model's to say: of the operations on the subject,
/// those the model answers differently one second before the deadline and on it are preferred
/// (three times in four). A step-up window is then probed with a sensitive call and a grace
/// window with the previous refresh token, as a service that moved that one timestamp would
/// answer differently there, and no list here says which rule reads which deadline. A third of
/// the time after a call that moved a deadline, the tick lands instead on or just after where
/// that deadline was: a service that did not move it (a reauthentication that left `auth_time`
/// as it was, a call that did not extend the idle window) decides there as if it had passed.
pub fn probe_deadline(
    u: &mut Unstructured<'_>,
    s: &State,
    recent: &RecentCalls,
) -> Result<Option<Vec<Op>>> {
    if !recent.moved().is_empty() && u.ratio(1, 3)? {
        let moved = u.choose(recent.moved())?;
        let target = moved.was.saturating_add(*u.choose(&[0, 1])?);
        return probe_at(u, s, &moved.now, target);
    }
    let deadlines = s.deadlines();
    let focused: Vec<&Deadline> = deadlines.iter().filter(|d| recent.in_focus(s, d)).collect();
    let d = if !focused.is_empty() && u.ratio(1, 2)? {
        *u.choose(&focused)?
    } else {
        let Ok(d) = u.choose(&deadlines) else {
            return Ok(None);
        };
        d
    };
    let target = d.at.saturating_add_signed(*u.choose(&[-1i64, 0, 1])?);
    probe_at(u, s, d, target)
}

/// A call that must leave a session alone, then a probe of one of its deadlines: a pending
/// deadline `d` of a standing session; at a second between now and `d` (the next one, half the
/// time, while its access token is likely still accepted), a call on the session that the model
/// says changes nothing of it: no deadline moved, nothing revoked, rotated or issued (a
/// sensitive call refused for want of a step-up, a reauthentication or a password change with a
/// wrong password, a password change to a weak one, an access token already refused…); then a
/// tick to `d`, or a second before it, and the call `d` decides. A service that took the
/// refused call for activity, or for a proof of the password, moved the deadline and answers as
/// though it had not passed. Which calls leave the session alone is the model's to say.
pub fn neutral_probe(
    u: &mut Unstructured<'_>,
    s: &State,
    caps: Capabilities,
) -> Result<Option<Vec<Op>>> {
    let live: Vec<usize> = (0..s.sessions.len()).filter(|&i| s.live(i)).collect();
    let Ok(&session) = u.choose(&live) else {
        return Ok(None);
    };
    let subject = Subject::Session(session);
    let deadlines: Vec<Deadline> = s
        .deadlines_of(&subject)
        .into_iter()
        .filter(|d| d.at > s.now + 1 && d.finite())
        .collect();
    let Ok(d) = u.choose(&deadlines) else {
        return Ok(None);
    };
    let last = d.at - s.now - 1;
    let wait = if u.ratio(1, 2)? {
        1
    } else {
        u.int_in_range(1..=last)?
    };
    let tick = Op::Tick { seconds: wait };
    let mut at_call = s.clone();
    at_call.apply(&tick);
    let mut calls = probe_candidates(u, &at_call, &subject)?;
    // The refusals of the calls that prove the password: a wrong one, or (for a password
    // change) a right one with a new password too weak to take.
    if let Some(k) = at_call.access.iter().rposition(|a| a.session == session) {
        let token = Token::Access(k);
        calls.push(Op::Reauthenticate {
            token: token.clone(),
            password: values::wrong_password(),
        });
        calls.push(Op::ChangePassword {
            token: token.clone(),
            old: values::wrong_password(),
            new: "a new passphrase 2".into(),
        });
        if let Some(account) = at_call.accounts.get(&at_call.sessions[session].user) {
            calls.push(Op::ChangePassword {
                token,
                old: account.password.clone(),
                new: values::shared(u.choose(values::WEAK_PASSWORDS)?),
            });
        }
    }
    let neutral: Vec<Op> = calls
        .into_iter()
        .filter(|op| runnable(op.kind(), caps, s.choices))
        .filter(|op| {
            let mut after = at_call.clone();
            after.apply(op);
            leaves_alone(&at_call, &after, session)
        })
        .collect();
    let Ok(call) = u.choose(&neutral) else {
        return Ok(None);
    };
    let mut after = at_call;
    after.apply(call);
    let target = d.at - *u.choose(&[0, 0, 1])?;
    let Some(probe) = probe_at(u, &after, d, target)? else {
        return Ok(None);
    };
    Ok(Some([vec![tick, call.clone()], probe].concat()))
}

/// Whether the session and its access tokens are as they were: no deadline moved, nothing
/// revoked, rotated or issued. A refused call leaves them alone; a logout or a reuse does not,
/// though neither moves a deadline's second.
fn leaves_alone(before: &State, after: &State, session: usize) -> bool {
    let tokens = |s: &State| -> Vec<AccessToken> {
        s.access
            .iter()
            .filter(|a| a.session == session)
            .cloned()
            .collect()
    };
    after.sessions[session] == before.sessions[session] && tokens(after) == tokens(before)
}

/// A tick to `target`, then an operation on `d`'s subject, preferably one whose answer `d`
/// decides.
fn probe_at(
    u: &mut Unstructured<'_>,
    s: &State,
    d: &Deadline,
    target: u64,
) -> Result<Option<Vec<Op>>> {
    if target <= s.now {
        return Ok(None);
    }
    let tick = Op::Tick {
        seconds: target - s.now,
    };
    let candidates = probe_candidates(u, s, &d.subject)?;
    let decisive = decisive(s, d.at, &candidates);
    let pool = if !decisive.is_empty() && u.ratio(3, 4)? {
        decisive
    } else {
        candidates
    };
    let Ok(probe) = u.choose(&pool) else {
        return Ok(None);
    };
    Ok(Some(vec![tick, probe.clone()]))
}

/// Every operation a boundary probe may ask of `subject` in `s`.
fn probe_candidates(u: &mut Unstructured<'_>, s: &State, subject: &Subject) -> Result<Vec<Op>> {
    let step_up = s.choices.step_up;
    // An access token's calls: the sensitive one and a reauthentication only where the
    // profile has step-up.
    let token_calls = |k: usize| {
        let token = Token::Access(k);
        let session = &s.sessions[s.access[k].session];
        let mut calls = vec![Op::Access {
            token: token.clone(),
        }];
        if step_up {
            calls.push(Op::Sensitive {
                token: token.clone(),
            });
            if let Some(account) = s.accounts.get(&session.user) {
                calls.push(Op::Reauthenticate {
                    token: token.clone(),
                    password: account.password.clone(),
                });
            }
        }
        calls
    };
    Ok(match subject {
        Subject::Access(k) => {
            let mut calls = token_calls(*k);
            calls.push(Op::Revoke {
                token: Token::Access(*k),
            });
            calls
        }
        Subject::Session(i) => {
            let latest = s.access.iter().rposition(|a| a.session == *i);
            let mut calls = latest.map(token_calls).unwrap_or_default();
            let generation = s.sessions[*i].generation;
            for generation in (generation.saturating_sub(1)..=generation).rev() {
                calls.push(Op::Refresh {
                    token: Token::Refresh {
                        session: *i,
                        generation,
                    },
                });
            }
            calls
        }
        Subject::Account(name) => {
            let user = values::spelling_of(u, name)?;
            let device = u.int_in_range(0..=3)?;
            [
                s.accounts[name.as_str()].password.clone(),
                values::wrong_password(),
            ]
            .map(|password| Op::Login {
                user: user.clone(),
                password,
                device,
            })
            .into()
        }
        Subject::Challenge(c) => [Code::Right, Code::Wrong]
            .map(|code| Op::VerifyMfa {
                challenge: Token::Challenge(*c),
                code,
            })
            .into(),
    })
}

/// The operations of `ops` that the model, from `s`, answers differently one second before
/// `at` and on it.
fn decisive(s: &State, at: u64, ops: &[Op]) -> Vec<Op> {
    if at <= s.now {
        return Vec::new();
    }
    let at_time = |t: u64| {
        let mut state = s.clone();
        state.apply(&Op::Tick { seconds: t - s.now });
        state
    };
    let (before, on) = (at_time(at - 1), at_time(at));
    ops.iter()
        .filter(|op| answers_differ(&before, &on, op))
        .cloned()
        .collect()
}

/// Whether the model answers `op` differently from state `a` and from state `b`.
fn answers_differ(a: &State, b: &State, op: &Op) -> bool {
    a.clone().apply(op) != b.clone().apply(op)
}

/// After a call, an operation on what it acted on or on another session of the same user,
/// preferably (three times in four) one whose answer the call changed: the model, from the
/// state `before` the call and from the state `after` it, answers it differently. A service
/// that left out part of what a call does (a reauthentication that kept `auth_time`, a logout
/// or a password change that left a token usable, a disable that left sessions alive) still
/// answers as before the call; one that did something a refused call must not, answers
/// otherwise. No list here says which call changes what: the model does.
pub fn observe(
    u: &mut Unstructured<'_>,
    before: &State,
    after: &State,
    recent: &RecentCalls,
    caps: Capabilities,
) -> Result<Option<Op>> {
    let mut candidates: Vec<Op> = Vec::new();
    for subject in observed(after, recent.focus()) {
        for op in probe_candidates(u, after, &subject)? {
            if runnable(op.kind(), caps, after.choices) && !candidates.contains(&op) {
                candidates.push(op);
            }
        }
    }
    // A call that changed nothing changed no answer. Otherwise the first candidate in a random
    // order whose answer changed is a uniform pick of those that did, found without running
    // the model on every candidate (this runs on a sixth of the generator's moves).
    if u.ratio(3, 4)? && before != after {
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, u.int_in_range(0..=i)?);
        }
        let changed = |&i: &usize| answers_differ(before, after, &candidates[i]);
        if let Some(i) = order.into_iter().find(changed) {
            return Ok(Some(candidates.swap_remove(i)));
        }
    }
    Ok(u.choose(&candidates).ok().cloned())
}

/// What an observation may look at: the subjects of `focus` that exist in `s`, and the latest
/// few sessions of each user they belong to (a call on one session may end the others).
fn observed(s: &State, focus: &[Subject]) -> Vec<Subject> {
    const SESSIONS_PER_USER: usize = 2;
    let mut out: Vec<Subject> = Vec::new();
    let mut users: Vec<&str> = Vec::new();
    for subject in focus {
        let user = match subject {
            Subject::Access(k) => s.access.get(*k).map(|t| &*s.sessions[t.session].user),
            Subject::Session(i) => s.sessions.get(*i).map(|x| &*x.user),
            Subject::Account(name) => s.accounts.contains_key(name).then_some(name.as_str()),
            Subject::Challenge(c) => s.challenges.get(*c).map(|c| &*c.user),
        };
        let Some(user) = user else {
            continue; // a handle never issued, a name with no account: nothing to look at
        };
        out.push(subject.clone());
        if !users.contains(&user) {
            users.push(user);
        }
    }
    for user in users {
        let sessions = (0..s.sessions.len())
            .rev()
            .filter(|&i| *s.sessions[i].user == *user);
        for i in sessions.take(SESSIONS_PER_USER) {
            if !out.contains(&Subject::Session(i)) {
                out.push(Subject::Session(i));
            }
        }
    }
    out
}

/// Operations that push one counter of the model to `gap` below its limit (`None` when no
/// counter is far enough from it).
pub fn approach_limit(u: &mut Unstructured<'_>, s: &State) -> Result<Option<Vec<Op>>> {
    let gap = u.int_in_range(1..=2)?;
    let counters: Vec<_> = s
        .counters()
        .into_iter()
        .filter(|c| c.value + gap < c.limit)
        .collect();
    if counters.is_empty() {
        return Ok(None);
    }
    let c = u.choose(&counters)?;
    let n = (c.limit - gap - c.value) as usize;
    let mut ops = Vec::with_capacity(n);
    for _ in 0..n {
        ops.push(match (&c.kind, &c.subject) {
            (CounterKind::WrongPasswords, Subject::Account(name)) => Op::Login {
                user: values::spelling_of(u, name)?,
                password: "wrong password!".into(),
                device: u.int_in_range(0..=3)?,
            },
            (CounterKind::WrongCodes, Subject::Challenge(c)) => Op::VerifyMfa {
                challenge: Token::Challenge(*c),
                code: Code::Wrong,
            },
            _ => return Ok(None),
        });
    }
    Ok(Some(ops))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::Params;

    /// Under `params`, alice registered and logged in at 0 (session #0, access #0), then 100 s
    /// later.
    pub(in crate::generate) fn logged_in(params: Params) -> State {
        let mut s = State::new(params);
        let password: crate::model::Text = "correct horse battery".into();
        for op in [
            Op::Register {
                user: "alice".into(),
                password: password.clone(),
                mfa: false,
            },
            Op::Login {
                user: "alice".into(),
                password,
                device: 0,
            },
            Op::Tick { seconds: 100 },
        ] {
            s.apply(&op);
        }
        s
    }

    /// [`logged_in`] with a step-up window (200 s) that ends before her access token (300 s)
    /// and her idle timeout.
    fn stepped_up() -> State {
        logged_in(Params {
            step_up_window: 200,
            ..Params::default()
        })
    }

    fn deadline(s: &State, kind: DeadlineKind) -> Deadline {
        s.deadlines_of(&Subject::Session(0))
            .into_iter()
            .find(|d| d.kind == kind)
            .expect("a pending deadline of that kind")
    }

    /// At a step-up window's end only the sensitive call answers differently; at the idle
    /// timeout, long after the access token expired, only the refresh does.
    #[test]
    fn the_model_says_which_calls_a_deadline_decides() {
        let s = stepped_up();
        let mut u = Unstructured::new(&[0; 16]);
        let calls = probe_candidates(&mut u, &s, &Subject::Session(0)).unwrap();
        let kinds = |ops: Vec<Op>| ops.iter().map(Op::kind).collect::<Vec<_>>();
        let step_up = deadline(&s, DeadlineKind::StepUp);
        assert_eq!(kinds(decisive(&s, step_up.at, &calls)), [OpKind::Sensitive]);
        let idle = deadline(&s, DeadlineKind::Idle);
        assert_eq!(kinds(decisive(&s, idle.at, &calls)), [OpKind::Refresh]);
    }

    /// A reauthentication moves the step-up window's end; where it was is remembered, for a
    /// probe of a service that did not move it.
    #[test]
    fn a_call_that_moves_a_deadline_leaves_where_it_was() {
        let mut s = stepped_up();
        let was = deadline(&s, DeadlineKind::StepUp).at;
        let mut recent = RecentCalls::default();
        recent.apply(
            &mut s,
            &Op::Reauthenticate {
                token: Token::Access(0),
                password: "correct horse battery".into(),
            },
        );
        let moved: Vec<_> = recent
            .moved()
            .iter()
            .map(|m| (m.now.kind, m.was, m.now.at))
            .collect();
        assert!(
            moved.contains(&(DeadlineKind::StepUp, was, was + 100)),
            "{moved:?}"
        );
        recent.apply(&mut s, &Op::Tick { seconds: 1 });
        assert!(recent.moved().is_empty(), "a tick moves no deadline");
    }

    /// Once her step-up window has passed, a reauthentication changes what a sensitive call
    /// answers, and nothing else an observation can ask: that call is what `observe` picks
    /// when it takes what changed. A password change on her second session ends the first:
    /// the first session's calls are looked at too.
    #[test]
    fn an_observation_asks_what_the_call_changed() {
        let picks = |before: &State, op: Op| {
            let mut after = before.clone();
            let mut recent = RecentCalls::default();
            recent.apply(&mut after, &op);
            let mut picked = Vec::new();
            for seed in 0..64u8 {
                let bytes: Vec<u8> = (0..64)
                    .map(|i| seed.wrapping_mul(31).wrapping_add(i))
                    .collect();
                let mut u = Unstructured::new(&bytes);
                let caps = Capabilities::ALL;
                if let Some(op) = observe(&mut u, before, &after, &recent, caps).unwrap() {
                    picked.push(op);
                }
            }
            picked
        };
        let mut s = stepped_up();
        s.apply(&Op::Tick { seconds: 150 }); // past auth_time + 200
        let reauth = Op::Reauthenticate {
            token: Token::Access(0),
            password: "correct horse battery".into(),
        };
        let picked = picks(&s, reauth);
        let sensitive = Op::Sensitive {
            token: Token::Access(0),
        };
        let share = picked.iter().filter(|op| **op == sensitive).count();
        assert!(
            share * 2 > picked.len(),
            "{share} of {}: {picked:?}",
            picked.len()
        );

        let mut s = logged_in(Params::default());
        s.apply(&Op::Login {
            user: "alice".into(),
            password: "correct horse battery".into(),
            device: 1,
        });
        let change = Op::ChangePassword {
            token: Token::Access(1),
            old: "correct horse battery".into(),
            new: "hunter2hunter2".into(),
        };
        let picked = picks(&s, change);
        assert!(
            picked.iter().any(|op| op.token().is_some_and(|t| matches!(
                t,
                Token::Access(0) | Token::Refresh { session: 0, .. }
            ))),
            "the other session: {picked:?}"
        );
        // A call on a handle never issued gives nothing to look at.
        let mut u = Unstructured::new(&[7; 32]);
        let mut after = s.clone();
        let mut recent = RecentCalls::default();
        recent.apply(
            &mut after,
            &Op::Access {
                token: Token::Access(9),
            },
        );
        let observed = observe(&mut u, &s, &after, &recent, Capabilities::ALL).unwrap();
        assert_eq!(observed, None);
    }

    /// A neutral probe makes a call the model says leaves the session alone, at a
    /// second before one of them, then ticks to that deadline (or a second before) and asks
    /// there; refused calls with a wrong password are among those it makes.
    #[test]
    fn a_neutral_call_is_followed_to_a_deadline_it_must_have_left_alone() {
        let s = stepped_up();
        let session = Subject::Session(0);
        let mut wrong_password = 0;
        let mut made = 0;
        for seed in 0..64u8 {
            let bytes: Vec<u8> = (0..96)
                .map(|i| seed.wrapping_mul(41).wrapping_add(i))
                .collect();
            let mut u = Unstructured::new(&bytes);
            let Some(ops) = neutral_probe(&mut u, &s, Capabilities::ALL).unwrap() else {
                continue;
            };
            made += 1;
            let [wait @ Op::Tick { .. }, call, to @ Op::Tick { .. }, probe] = &ops[..] else {
                panic!("a tick, a call, a tick and a probe: {ops:?}");
            };
            let mut at_call = s.clone();
            at_call.apply(wait);
            let unmoved = at_call.deadlines_of(&session);
            let mut after = at_call.clone();
            after.apply(call);
            assert_eq!(after.deadlines_of(&session), unmoved, "{call:?} moved one");
            assert_eq!(
                after.sessions[0], at_call.sessions[0],
                "{call:?} changed it"
            );
            after.apply(to);
            assert!(
                unmoved
                    .iter()
                    .any(|d| after.now == d.at || after.now + 1 == d.at),
                "the tick to {} is on no deadline of {unmoved:?}",
                after.now
            );
            assert!(probe.token().is_some(), "{probe:?} asks about the session");
            wrong_password += usize::from(matches!(
                call,
                Op::Reauthenticate { password, .. } | Op::ChangePassword { old: password, .. }
                    if *password == values::wrong_password()
            ));
        }
        assert!(made > 32, "{made} of 64");
        assert!(wrong_password > 0);
    }
}
