//! Concurrent cases from bytes: a short model-aware prefix that sets up accounts and sessions,
//! then 2–3 branches aimed at each other: refreshes of the same token, logins of the same user,
//! logout or password change while another device refreshes, registration of one name twice.

use super::Case;
use crate::campaign::case_bytes;
use crate::generate::generate;
use crate::model::{Op, Params, Scope, State, Token};
use arbitrary::{Result, Unstructured};

const PASSWORD: &str = "correct horse battery";

/// The case of `case_seed`.
pub fn case(case_seed: u64, params: Params) -> Case {
    let bytes = case_bytes(case_seed);
    let mut u = Unstructured::new(&bytes);
    decode(&mut u, params).unwrap_or(Case {
        prefix: Vec::new(),
        branches: Vec::new(),
    })
}

/// Decodes a case; the prefix always leaves two users with a session each.
pub fn decode(u: &mut Unstructured<'_>, params: Params) -> Result<Case> {
    let mut prefix = vec![
        Op::Register {
            user: "alice".into(),
            password: PASSWORD.into(),
            mfa: false,
        },
        Op::Register {
            user: "bob".into(),
            password: PASSWORD.into(),
            mfa: false,
        },
        Op::Login {
            user: "alice".into(),
            password: PASSWORD.into(),
            device: 0,
        },
        Op::Login {
            user: "bob".into(),
            password: PASSWORD.into(),
            device: 0,
        },
    ];
    let extra = u.int_in_range(0..=6)?;
    let more = generate(u, params, extra);
    // Keep only what does not disturb the fixed start's handles and stays valid.
    prefix.extend(
        more.into_iter()
            .filter(|op| !matches!(op, Op::Register { .. })),
    );
    prefix.retain(|op| !matches!(op, Op::Tick { seconds } if *seconds > 200));
    let mut state = State::new(params);
    let mut valid = Vec::new();
    for op in prefix {
        if !state.dangles(&op) {
            state.apply(&op);
            valid.push(op);
        }
    }
    let n = if u.ratio(1, 3)? { 3 } else { 2 };
    // Most branches aim at one session, so they collide.
    let target = pick_session(u, &state)?;
    let mut branches = Vec::new();
    for _ in 0..n {
        branches.push(branch(u, &state, target)?);
    }
    Ok(Case {
        prefix: valid,
        branches,
    })
}

fn pick_session(u: &mut Unstructured<'_>, s: &State) -> Result<usize> {
    let live: Vec<usize> = (0..s.sessions.len())
        .filter(|i| !s.sessions[*i].revoked)
        .collect();
    Ok(match live.as_slice() {
        [] => 0,
        l => *u.choose(l)?,
    })
}

fn latest_access(s: &State, session: usize) -> Token {
    match s.access.iter().rposition(|a| a.session == session) {
        Some(k) => Token::Access(k),
        None => Token::Garbage("no access token".into()),
    }
}

fn branch(u: &mut Unstructured<'_>, s: &State, target: usize) -> Result<Vec<Op>> {
    let session = if u.ratio(4, 5)? {
        target
    } else {
        pick_session(u, s)?
    };
    let generation = s.sessions.get(session).map_or(0, |x| x.generation);
    let current = Token::Refresh {
        session,
        generation,
    };
    let access = latest_access(s, session);
    // Two devices logging in at once is as likely as two refreshes of one token.
    let any_user = if u.ratio(1, 2)? { "alice" } else { "bob" }.to_owned();
    let first = match u.int_in_range(0..=19)? {
        0..=5 => Op::Refresh {
            token: current.clone(),
        },
        6 | 7 => Op::Refresh {
            token: Token::Refresh {
                session,
                generation: generation.saturating_sub(1),
            },
        },
        8..=12 => Op::Login {
            user: any_user,
            password: PASSWORD.into(),
            device: 1,
        },
        13 | 14 => Op::Logout {
            token: access.clone(),
            scope: *u.choose(&[Scope::Local, Scope::Global, Scope::Others])?,
        },
        15 | 16 => Op::ChangePassword {
            token: access.clone(),
            old: PASSWORD.into(),
            new: "another password".into(),
        },
        17 => Op::Register {
            user: "carol".into(),
            password: PASSWORD.into(),
            mfa: false,
        },
        _ => Op::Revoke {
            token: current.clone(),
        },
    };
    let mut ops = vec![first];
    // A follow-up that uses what the first op returned, or the shared session again.
    for i in 0..u.int_in_range(0..=2)? {
        let creates_tokens = matches!(
            ops[i],
            Op::Login { .. } | Op::Refresh { .. } | Op::ChangePassword { .. }
        );
        let next = match u.int_in_range(0..=5)? {
            0 | 1 if creates_tokens => Op::Access {
                token: Token::Local {
                    op: i,
                    refresh: false,
                },
            },
            2 if creates_tokens => Op::Refresh {
                token: Token::Local {
                    op: i,
                    refresh: true,
                },
            },
            3 => Op::Refresh {
                token: current.clone(),
            },
            4 => Op::Access {
                token: access.clone(),
            },
            _ => Op::Sensitive {
                token: access.clone(),
            },
        };
        ops.push(next);
    }
    Ok(ops)
}
