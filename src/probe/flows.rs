//! The probe's flows: short session flows a real client runs, chosen by the profile (a flow the
//! protocol switches off is never sent) and made safe by construction — only the probe's own
//! account, no admin operation, no password change, local logouts only, fewer wrong passwords
//! than the lockout threshold, and whatever a flow leaves open is logged out at its end (the
//! model says what is still open).

use crate::model::profile::Lockout;
use crate::model::{Op, Outcome, Profile, Scope, State, Token};

/// A named flow: the operations, with handles numbered as in a fresh round (the round's first
/// login issues `session#0`, `access#0`, `refresh#0.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub name: &'static str,
    pub ops: Vec<Op>,
    /// A flow that waits on purpose across a deadline (`--long`).
    pub long: bool,
}

/// Who the probe is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub password: String,
}

fn access(k: usize) -> Token {
    Token::Access(k)
}

fn refresh(session: usize, generation: u64) -> Token {
    Token::Refresh {
        session,
        generation,
    }
}

/// The flows for `profile`; `long` adds the ones that wait across a window.
pub fn flows(profile: &Profile, account: &Account, long: bool) -> Vec<Flow> {
    let c = &profile.choices;
    let login = || Op::Login {
        user: account.user.as_str().into(),
        password: account.password.as_str().into(),
        device: 0,
    };
    let mut all = vec![Flow {
        name: "login-refresh-access",
        ops: vec![
            login(),
            Op::Access { token: access(0) },
            Op::Refresh {
                token: refresh(0, 0),
            },
            Op::Access { token: access(1) },
            Op::Refresh {
                token: refresh(0, 1),
            },
        ],
        long: false,
    }];
    all.push(Flow {
        name: "refresh-retry",
        ops: vec![
            login(),
            Op::Refresh {
                token: refresh(0, 0),
            },
            // The response was lost: the client retries with the token it still holds.
            Op::Refresh {
                token: refresh(0, 0),
            },
            Op::Access { token: access(2) },
        ],
        long: false,
    });
    if c.logout {
        all.push(Flow {
            name: "logout",
            ops: vec![
                login(),
                Op::Logout {
                    token: access(0),
                    scope: Scope::Local,
                },
                Op::Access { token: access(0) },
                Op::Refresh {
                    token: refresh(0, 0),
                },
            ],
            long: false,
        });
    }
    all.push(Flow {
        name: "revoke",
        ops: vec![
            login(),
            Op::Revoke {
                token: refresh(0, 0),
            },
            Op::Refresh {
                token: refresh(0, 0),
            },
            Op::Access { token: access(0) },
        ],
        long: false,
    });
    if c.step_up {
        all.push(Flow {
            name: "step-up",
            ops: vec![
                login(),
                Op::Sensitive { token: access(0) },
                Op::Reauthenticate {
                    token: access(0),
                    password: account.password.as_str().into(),
                },
                Op::Sensitive { token: access(0) },
            ],
            long: false,
        });
    }
    if failure_budget(profile) > 0 {
        all.push(Flow {
            name: "wrong-password",
            ops: vec![
                Op::Login {
                    user: account.user.as_str().into(),
                    password: format!("{}-not", account.password).into(),
                    device: 0,
                },
                // A right password resets the count: the next round starts from zero.
                login(),
            ],
            long: false,
        });
    }
    if long {
        let p = &profile.params;
        all.push(Flow {
            name: "retry-after-grace",
            ops: vec![
                login(),
                Op::Refresh {
                    token: refresh(0, 0),
                },
                Op::Tick {
                    seconds: p.refresh_grace + 1,
                },
                Op::Refresh {
                    token: refresh(0, 0),
                },
            ],
            long: true,
        });
        all.push(Flow {
            name: "access-expiry",
            ops: vec![
                login(),
                Op::Tick {
                    seconds: p.access_ttl + 1,
                },
                Op::Access { token: access(0) },
                Op::Refresh {
                    token: refresh(0, 0),
                },
            ],
            long: true,
        });
    }
    all.retain(|f| allowed(profile, account, &f.ops));
    all
}

/// How many wrong passwords a flow may send: fewer than the lockout threshold, so the probe can
/// never lock its own account (and the flow's right password resets the count).
pub fn failure_budget(profile: &Profile) -> u32 {
    match profile.choices.lockout {
        Lockout::None => 1,
        Lockout::Distinct | Lockout::AsInvalidCredentials => {
            profile.params.lockout_threshold.saturating_sub(1).min(1)
        }
    }
}

/// What no probe flow ever sends.
pub fn forbidden(op: &Op) -> bool {
    matches!(
        op,
        Op::Register { .. }
            | Op::AdminDisable { .. }
            | Op::AdminEnable { .. }
            | Op::AdminUnlock { .. }
            | Op::ChangePassword { .. }
            | Op::Deploy { .. }
            | Op::Restart
            | Op::UpstreamFault { .. }
            | Op::Logout {
                scope: Scope::Others | Scope::Global,
                ..
            }
    )
}

fn allowed(profile: &Profile, account: &Account, ops: &[Op]) -> bool {
    let wrong_passwords = ops
        .iter()
        .filter(|op| matches!(op, Op::Login { password, .. } if **password != *account.password))
        .count() as u32;
    !ops.iter().any(forbidden) && wrong_passwords <= failure_budget(profile)
}

/// After a flow: what ends every session the model still counts as open, so the probe leaves
/// nothing behind — a local logout with a still-good access token, else a revocation of the
/// session's current refresh token (RFC 7009 needs no access token).
pub fn cleanup(state: &State) -> Vec<Op> {
    let accepted = |op: &Op| {
        let mut probe = state.clone();
        !matches!(probe.apply(op), Outcome::Rejected(_))
    };
    let mut ops = Vec::new();
    for (i, session) in state.sessions.iter().enumerate() {
        if session.revoked {
            continue;
        }
        let logout = state
            .access
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, a)| a.session == i)
            .map(|(k, _)| Op::Logout {
                token: access(k),
                scope: Scope::Local,
            })
            .find(|op| state.choices.logout && accepted(op));
        let end = logout.unwrap_or(Op::Revoke {
            token: refresh(i, session.generation),
        });
        ops.push(end);
    }
    ops
}
