//! Concurrent cases from bytes: a prefix that sets up accounts, sessions and a pending MFA
//! challenge — often with a counter brought close to its limit — then 2–3 branches aimed at one
//! account, then (usually) a suffix that looks at what the race left behind.
//!
//! Branches are drawn, swarm-style, from every operation that writes per-account or per-session
//! state: refreshes (current and previous), right and wrong logins, right and wrong MFA codes,
//! access, step-up, right and wrong reauthentication, logout, revocation, password change (with
//! the right and a wrong old password), admin disable/enable/unlock, and registration of one
//! name. Any two writes to one account can meet. A lost update of a counter does not change the
//! racing answers; it changes the next one, which is why the suffix exists.

use super::Case;
use crate::adapter::Capabilities;
use crate::campaign::case_bytes;
use crate::generate::swarm::Swarm;
use crate::generate::{shapes, Generator};
use crate::model::accounts::canonical;
use crate::model::{Choices, Code, CounterKind, Op, Params, Scope, State, Subject, Text, Token};
use arbitrary::{Result, Unstructured};

const PASSWORD: &str = "correct horse battery";
const WRONG: &str = "wrong password!";

/// What the generator may use.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `Some` fixes the protocol numbers, `None` draws them.
    pub params: Option<Params>,
    /// The protocol choices (nothing is spent on what they switch off).
    pub choices: Choices,
    /// What the target can do.
    pub caps: Capabilities,
}

impl Settings {
    /// Numbers drawn, this repository's protocol, every capability.
    pub const ALL: Settings = Settings {
        params: None,
        choices: Choices::PROTOCOL,
        caps: Capabilities::ALL,
    };
}

/// The case of `case_seed`.
pub fn case(case_seed: u64, settings: &Settings) -> Case {
    let bytes = case_bytes(case_seed);
    let mut u = Unstructured::new(&bytes);
    decode(&mut u, settings).unwrap_or(Case {
        params: settings.params.unwrap_or_default(),
        prefix: Vec::new(),
        branches: Vec::new(),
        suffix: Vec::new(),
    })
}

/// Decodes a case; the prefix always leaves two users with a session each.
pub fn decode(u: &mut Unstructured<'_>, settings: &Settings) -> Result<Case> {
    let params = match settings.params {
        Some(p) => p,
        None => shapes::draw(u)?,
    };
    let register = |user: &str, mfa| Op::Register {
        user: user.into(),
        password: PASSWORD.into(),
        mfa,
    };
    let login = |user: &str| Op::Login {
        user: user.into(),
        password: PASSWORD.into(),
        device: 0,
    };
    let mut start = vec![
        register("alice", false),
        register("bob", false),
        login("alice"),
        login("bob"),
    ];
    let mfa = settings.caps.mfa && settings.choices.mfa;
    if mfa && u.ratio(1, 2)? {
        // An MFA account with a challenge pending, so codes can race too.
        start.extend([register("carol", true), login("carol")]);
    }
    let mut state = State::with_choices(params, settings.choices);
    for op in &start {
        state.apply(op);
    }
    // A few generated operations (swarm mix and moves), keeping only what leaves the start's
    // handles and accounts alone and does not run the clock past the sessions.
    let extra = u.int_in_range(0..=8)?;
    let caps = settings.caps;
    let swarm = Swarm::draw(u, caps, settings.choices)?;
    let generated = Generator::resume(state.clone(), caps, swarm).run(u, extra);
    let max_tick = params.access_ttl.min(params.idle_timeout) / 2;
    let mut prefix = start;
    for op in generated {
        let keep = match &op {
            Op::Register { .. } => false,
            Op::Tick { seconds } => *seconds <= max_tick,
            op => !state.dangles(op),
        };
        if keep {
            state.apply(&op);
            prefix.push(op);
        }
    }
    let mut target = pick_target(u, &state)?;
    let mut menu = BranchMenu::draw(u, settings)?;
    let mut watch = None;
    // Half the cases race a counter: one of the model's counters is brought close to its
    // limit, the branches aim at its owner, and the writes that move it are weighted up.
    if u.ratio(1, 2)? {
        if let Some((ops, owner, kind)) = approach(u, &mut state)? {
            prefix.extend(ops);
            target = target_of(&state, &owner);
            menu.emphasise(kind);
            watch = Some(kind);
        }
    }
    let n = if u.ratio(1, 3)? { 3 } else { 2 };
    let mut branches = Vec::new();
    for _ in 0..n {
        // Most branches aim at the target account, so they collide; the others at any account
        // (two users at once is a race too: one response buffer, one session table).
        let aim = if u.ratio(2, 3)? {
            target.clone()
        } else {
            pick_target(u, &state)?
        };
        branches.push(branch(u, &state, &aim, &menu)?);
    }
    // A third of the cases start every branch with the same request: a client retrying while
    // its first try is in flight, the commonest race there is.
    if u.ratio(1, 3)? {
        let first = branches[0][0].clone();
        for b in branches.iter_mut().skip(1) {
            b[0] = first.clone();
        }
    }
    let suffix = if watch.is_some() || u.ratio(2, 3)? {
        observe(u, &state, &target, watch, settings)?
    } else {
        Vec::new()
    };
    Ok(Case {
        params,
        prefix,
        branches,
        suffix,
    })
}

/// The account the branches aim at: its canonical name and its latest live session, if any.
#[derive(Debug, Clone)]
struct Target {
    user: String,
    session: Option<usize>,
}

fn pick_target(u: &mut Unstructured<'_>, s: &State) -> Result<Target> {
    let users: Vec<&Text> = s.accounts.keys().collect();
    let user = if u.ratio(1, 2)? && s.accounts.contains_key("alice") {
        "alice".to_owned()
    } else {
        u.choose(&users)?.to_string()
    };
    let mut target = target_of(s, &user);
    // An account without a live session (an MFA one, say) borrows one for the token ops.
    target.session = target
        .session
        .or_else(|| (0..s.sessions.len()).rev().find(|i| s.live(*i)));
    Ok(target)
}

fn target_of(s: &State, user: &str) -> Target {
    let session = (0..s.sessions.len())
        .rev()
        .find(|i| *s.sessions[*i].user == *user && s.live(*i));
    Target {
        user: user.to_owned(),
        session,
    }
}

/// One of the model's counters brought to one or two below its limit (no operations when it
/// is there already): the operations, the account it belongs to, and the kind of branch
/// operation that moves it.
fn approach(
    u: &mut Unstructured<'_>,
    s: &mut State,
) -> Result<Option<(Vec<Op>, String, BranchKind)>> {
    let gap = u.int_in_range(1..=2)?;
    let counters: Vec<_> = s
        .counters()
        .into_iter()
        .filter(|c| c.value + gap <= c.limit)
        .collect();
    let Ok(c) = u.choose(&counters) else {
        return Ok(None);
    };
    let (op, owner, kind) = match (&c.kind, &c.subject) {
        (CounterKind::WrongPasswords, Subject::Account(name)) => (
            Op::Login {
                user: name.as_str().into(),
                password: WRONG.into(),
                device: 2,
            },
            name.clone(),
            BranchKind::LoginWrong,
        ),
        (CounterKind::WrongCodes, Subject::Challenge(ch)) => (
            Op::VerifyMfa {
                challenge: Token::Challenge(*ch),
                code: Code::Wrong,
            },
            s.challenges[*ch].user.to_string(),
            BranchKind::VerifyWrong,
        ),
        _ => return Ok(None),
    };
    let n = (c.limit - gap - c.value) as usize;
    let ops = vec![op; n];
    for op in &ops {
        s.apply(op);
    }
    Ok(Some((ops, owner, kind)))
}

/// What a branch operation does, before it is given its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BranchKind {
    RefreshCurrent,
    RefreshPrevious,
    LoginRight,
    LoginWrong,
    VerifyRight,
    VerifyWrong,
    Access,
    Sensitive,
    ReauthRight,
    ReauthWrong,
    Logout,
    Revoke,
    ChangePassword,
    ChangePasswordWrongOld,
    AdminDisable,
    AdminEnable,
    AdminUnlock,
    Register,
}

const BRANCH_KINDS: [(BranchKind, u32); 18] = [
    (BranchKind::RefreshCurrent, 6),
    (BranchKind::RefreshPrevious, 2),
    (BranchKind::LoginRight, 5),
    (BranchKind::LoginWrong, 4),
    (BranchKind::VerifyRight, 2),
    (BranchKind::VerifyWrong, 2),
    (BranchKind::Access, 2),
    (BranchKind::Sensitive, 1),
    (BranchKind::ReauthRight, 1),
    (BranchKind::ReauthWrong, 2),
    (BranchKind::Logout, 2),
    (BranchKind::Revoke, 2),
    (BranchKind::ChangePassword, 2),
    (BranchKind::ChangePasswordWrongOld, 1),
    (BranchKind::AdminDisable, 1),
    (BranchKind::AdminEnable, 1),
    (BranchKind::AdminUnlock, 1),
    (BranchKind::Register, 1),
];

/// Whether the profile has `kind` and the target can run it.
fn available(kind: BranchKind, settings: &Settings) -> bool {
    let (c, caps) = (settings.choices, settings.caps);
    match kind {
        BranchKind::VerifyRight | BranchKind::VerifyWrong => c.mfa && caps.mfa,
        BranchKind::Sensitive | BranchKind::ReauthRight | BranchKind::ReauthWrong => c.step_up,
        BranchKind::ChangePassword | BranchKind::ChangePasswordWrongOld => c.password_change,
        BranchKind::Logout => c.logout,
        BranchKind::AdminDisable | BranchKind::AdminEnable | BranchKind::AdminUnlock => {
            c.admin && caps.admin
        }
        _ => true,
    }
}

/// The case's branch mix (swarm): a third of cases keep every kind, the others about half.
struct BranchMenu(Vec<(BranchKind, u32)>);

impl BranchMenu {
    fn draw(u: &mut Unstructured<'_>, settings: &Settings) -> Result<Self> {
        let all: Vec<(BranchKind, u32)> = BRANCH_KINDS
            .into_iter()
            .filter(|(k, _)| available(*k, settings))
            .collect();
        let mut menu = all.clone();
        if !u.ratio(1, 3)? {
            for (_, w) in menu.iter_mut() {
                if u.ratio(1, 2)? {
                    *w = 0;
                }
            }
            if menu.iter().all(|(_, w)| *w == 0) {
                menu = all;
            }
        }
        Ok(BranchMenu(menu))
    }

    /// `kind` on, and the most likely choice.
    fn emphasise(&mut self, kind: BranchKind) {
        let total: u32 = self.0.iter().map(|(_, w)| w).sum();
        match self.0.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, w)) => *w = total.max(1) * 2,
            None => self.0.push((kind, total.max(1) * 2)),
        }
    }

    fn pick(&self, u: &mut Unstructured<'_>) -> Result<BranchKind> {
        let total: u32 = self.0.iter().map(|(_, w)| w).sum();
        let mut pick = u.int_in_range(0..=total - 1)?;
        for (kind, w) in &self.0 {
            if pick < *w {
                return Ok(*kind);
            }
            pick -= w;
        }
        Ok(BranchKind::RefreshCurrent)
    }
}

fn latest_access(s: &State, session: Option<usize>) -> Token {
    match session.and_then(|x| s.access.iter().rposition(|a| a.session == x)) {
        Some(k) => Token::Access(k),
        None => Token::Garbage("no access token".into()),
    }
}

fn refresh_of(s: &State, session: Option<usize>, back: u64) -> Token {
    match session {
        Some(x) => Token::Refresh {
            session: x,
            generation: s.sessions[x].generation.saturating_sub(back),
        },
        None => Token::Garbage("no session".into()),
    }
}

fn password_of(s: &State, user: &str) -> String {
    s.accounts
        .get(user)
        .map_or_else(|| PASSWORD.to_owned(), |a| a.password.to_string())
}

/// The latest challenge still open (of the target's account if it has one).
fn open_challenge(s: &State, user: &str) -> Option<Token> {
    let open = |c: &usize| {
        let ch = &s.challenges[*c];
        !ch.dead && s.now < ch.created_at.saturating_add(s.params.mfa_challenge_ttl)
    };
    let all: Vec<usize> = (0..s.challenges.len()).filter(open).collect();
    all.iter()
        .rev()
        .find(|c| *s.challenges[**c].user == *user)
        .or(all.last())
        .map(|c| Token::Challenge(*c))
}

/// A spelling of `user` the way a second device might type it.
fn spelling(u: &mut Unstructured<'_>, user: &str) -> Result<String> {
    Ok(if u.ratio(1, 4)? {
        let upper = user.to_uppercase();
        if canonical(&upper).as_deref() == Some(user) {
            upper
        } else {
            user.to_owned()
        }
    } else {
        user.to_owned()
    })
}

fn op_of(u: &mut Unstructured<'_>, s: &State, t: &Target, kind: BranchKind) -> Result<Op> {
    let access = latest_access(s, t.session);
    Ok(match kind {
        BranchKind::RefreshCurrent => Op::Refresh {
            token: refresh_of(s, t.session, 0),
        },
        BranchKind::RefreshPrevious => Op::Refresh {
            token: refresh_of(s, t.session, 1),
        },
        BranchKind::LoginRight | BranchKind::LoginWrong => Op::Login {
            user: spelling(u, &t.user)?.into(),
            password: if kind == BranchKind::LoginRight {
                password_of(s, &t.user).into()
            } else {
                WRONG.into()
            },
            device: 1,
        },
        BranchKind::VerifyRight | BranchKind::VerifyWrong => match open_challenge(s, &t.user) {
            Some(challenge) => Op::VerifyMfa {
                challenge,
                code: if kind == BranchKind::VerifyRight {
                    Code::Right
                } else {
                    Code::Wrong
                },
            },
            None => return op_of(u, s, t, BranchKind::LoginWrong),
        },
        BranchKind::Access => Op::Access { token: access },
        BranchKind::Sensitive => Op::Sensitive { token: access },
        BranchKind::ReauthRight | BranchKind::ReauthWrong => {
            let owner = t
                .session
                .map_or_else(|| t.user.clone(), |x| s.sessions[x].user.to_string());
            Op::Reauthenticate {
                token: access,
                password: if kind == BranchKind::ReauthRight {
                    password_of(s, &owner).into()
                } else {
                    WRONG.into()
                },
            }
        }
        BranchKind::Logout => Op::Logout {
            token: access,
            scope: if s.choices.logout_scopes {
                *u.choose(&[Scope::Local, Scope::Global, Scope::Others])?
            } else {
                Scope::Local
            },
        },
        BranchKind::Revoke => Op::Revoke {
            token: if u.ratio(1, 2)? {
                refresh_of(s, t.session, 0)
            } else {
                access
            },
        },
        BranchKind::ChangePassword | BranchKind::ChangePasswordWrongOld => {
            let owner = t
                .session
                .map_or_else(|| t.user.clone(), |x| s.sessions[x].user.to_string());
            Op::ChangePassword {
                token: access,
                old: if kind == BranchKind::ChangePassword {
                    password_of(s, &owner).into()
                } else {
                    WRONG.into()
                },
                new: "another password".into(),
            }
        }
        BranchKind::AdminDisable => Op::AdminDisable {
            user: spelling(u, &t.user)?.into(),
        },
        BranchKind::AdminEnable => Op::AdminEnable {
            user: spelling(u, &t.user)?.into(),
        },
        BranchKind::AdminUnlock => Op::AdminUnlock {
            user: spelling(u, &t.user)?.into(),
        },
        BranchKind::Register => Op::Register {
            user: "dora".into(),
            password: PASSWORD.into(),
            mfa: false,
        },
    })
}

fn branch(u: &mut Unstructured<'_>, s: &State, t: &Target, menu: &BranchMenu) -> Result<Vec<Op>> {
    let kind = menu.pick(u)?;
    let first = op_of(u, s, t, kind)?;
    let mut ops = vec![first];
    // Follow-ups: what the first op returned, the same kind again, or another of the mix.
    for i in 0..u.int_in_range(0..=2)? {
        let creates_tokens = matches!(
            ops[i],
            Op::Login { .. }
                | Op::Refresh { .. }
                | Op::ChangePassword { .. }
                | Op::VerifyMfa { .. }
        );
        let next = match u.int_in_range(0..=5)? {
            0 if creates_tokens => Op::Access {
                token: Token::Local {
                    op: i,
                    refresh: false,
                },
            },
            1 if creates_tokens => Op::Refresh {
                token: Token::Local {
                    op: i,
                    refresh: true,
                },
            },
            2 | 3 => ops[i].clone(),
            _ => {
                let kind = menu.pick(u)?;
                op_of(u, s, t, kind)?
            }
        };
        ops.push(next);
    }
    Ok(ops)
}

/// Operations that look at the target once the race is over: its login, its session's refresh
/// and access tokens, a pending challenge — first, when a counter was raced, the operation
/// whose answer that counter decides.
fn observe(
    u: &mut Unstructured<'_>,
    s: &State,
    t: &Target,
    watch: Option<BranchKind>,
    settings: &Settings,
) -> Result<Vec<Op>> {
    let mut out = Vec::new();
    match watch {
        Some(BranchKind::LoginWrong) => out.push(op_of(u, s, t, BranchKind::LoginRight)?),
        Some(BranchKind::VerifyWrong) => out.push(op_of(u, s, t, BranchKind::VerifyRight)?),
        _ => {}
    }
    for _ in 0..u.int_in_range(1..=3)? {
        let kind = *u.choose(&[
            BranchKind::LoginRight,
            BranchKind::LoginRight,
            BranchKind::RefreshCurrent,
            BranchKind::Access,
            BranchKind::Sensitive,
            BranchKind::VerifyRight,
        ])?;
        if available(kind, settings) {
            out.push(op_of(u, s, t, kind)?);
        }
    }
    Ok(out)
}
