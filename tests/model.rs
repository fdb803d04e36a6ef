//! The model on its own: purity, and the PROTOCOL.md §10 exposing traces give the outcomes PROTOCOL.md says.

use authcheck::model::{step, Grant, Op, Outcome, Params, Reason, State, Token, TokenReason};
use authcheck::trace::Trace;

fn outcomes(text: &str) -> Vec<Outcome> {
    let ops = Trace::parse(text).unwrap().ops();
    let mut state = State::new(Params::default());
    ops.iter().map(|op| state.apply(op)).collect()
}

const SETUP: &str = "register \"alice\" \"correct horse battery\" nomfa\nlogin \"alice\" \"correct horse battery\" device=0\n";

fn last(text: &str) -> Outcome {
    outcomes(&format!("{SETUP}{text}")).pop().unwrap()
}

#[test]
fn step_is_pure_and_deterministic() {
    let mut state = State::new(Params::default());
    for op in Trace::parse(SETUP).unwrap().ops() {
        state.apply(&op);
    }
    let op = Op::Refresh {
        token: Token::Refresh {
            session: 0,
            generation: 0,
        },
    };
    let before = state.clone();
    let (a, oa) = step(&state, &op);
    let (b, ob) = step(&state, &op);
    assert_eq!(state, before, "step must not touch its input");
    assert_eq!((a, oa), (b, ob));
}

#[test]
fn grace_retry_and_grace_for_any_ancestor() {
    assert_eq!(
        last("refresh refresh#0.0\nrefresh refresh#0.0\n"),
        Outcome::Refreshed {
            session: 0,
            generation: 1
        }
    );
    assert_eq!(
        last("refresh refresh#0.0\nrefresh refresh#0.1\nrefresh refresh#0.0\n"),
        Outcome::Rejected(Reason::InvalidGrant(Grant::Reuse))
    );
    assert_eq!(
        last("refresh refresh#0.0\ntick 10\nrefresh refresh#0.0\n"),
        Outcome::Rejected(Reason::InvalidGrant(Grant::Reuse))
    );
}

#[test]
fn logout_disable_and_password_change_end_refresh() {
    let revoked = Outcome::Rejected(Reason::InvalidGrant(Grant::Revoked));
    assert_eq!(
        last("logout access#0 local\nrefresh refresh#0.0\n"),
        revoked
    );
    assert_eq!(
        last("admin-disable \"alice\"\nrefresh refresh#0.0\n"),
        revoked
    );
    assert_eq!(
        last("login \"alice\" \"correct horse battery\" device=1\nchange-password access#1 \"correct horse battery\" \"another password\"\nrefresh refresh#0.0\n"),
        revoked
    );
}

#[test]
fn token_confusion_and_expiry_boundary() {
    assert_eq!(
        last("access refresh#0.0\n"),
        Outcome::Rejected(Reason::Unauthorized(TokenReason::Unknown))
    );
    assert_eq!(
        last("tick 300\naccess access#0\n"),
        Outcome::Rejected(Reason::Unauthorized(TokenReason::Expired))
    );
    assert!(matches!(
        last("tick 299\naccess access#0\n"),
        Outcome::Authorized { .. }
    ));
    assert_eq!(
        last("tick 301\nrefresh refresh#0.0\nsensitive access#1\n"),
        Outcome::Rejected(Reason::StepUpRequired)
    );
}

#[test]
fn lockout_counts_per_canonical_account_and_resets_on_success() {
    let wrong = |name: &str| format!("login \"{name}\" \"wrong password!\" device=0\n");
    let four = wrong("Alice").repeat(4);
    assert_eq!(
        last(&format!(
            "{four}{}login \"alice\" \"correct horse battery\" device=0\n",
            wrong("alice")
        )),
        Outcome::Rejected(Reason::Locked)
    );
    let reset = format!("{four}login \"alice\" \"correct horse battery\" device=0\n{}login \"alice\" \"correct horse battery\" device=0\n", wrong("alice"));
    assert!(matches!(last(&reset), Outcome::Issued { .. }));
}

#[test]
fn unicode_names_in_nfc_and_nfd_are_one_account() {
    let o = outcomes("register \"\u{00C9}milie\" \"correct horse battery\" nomfa\ndeploy v2\nlogin \"e\u{301}milie\" \"correct horse battery\" device=0\n");
    assert_eq!(
        o[2],
        Outcome::Issued {
            session: 0,
            aal: authcheck::model::Aal::Aal1
        }
    );
}

#[test]
fn a_password_differing_only_in_its_tail_is_wrong() {
    let long = "p".repeat(120);
    let o = outcomes(&format!(
        "register \"bob\" \"{long}AAAA\" nomfa\nlogin \"bob\" \"{long}BBBB\" device=0\n"
    ));
    assert_eq!(o[1], Outcome::Rejected(Reason::InvalidCredentials));
}

#[test]
fn every_profile_file_parses_and_design_toml_is_the_default() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let profile = authcheck::model::Profile::load(&path).unwrap();
            if path.file_stem().is_some_and(|s| s == "design") {
                assert_eq!(profile.params, Params::default());
                assert_eq!(profile.choices, authcheck::model::Choices::default());
            }
            seen += 1;
        }
    }
    assert!(seen >= 4, "{seen} profiles");
}

/// The outcomes of `SETUP` + `text` under these choices (`key=value` words).
fn under(choices: &str, text: &str) -> Vec<Outcome> {
    let choices: authcheck::model::Choices = choices.parse().unwrap();
    let ops = Trace::parse(&format!("{SETUP}{text}")).unwrap().ops();
    let mut state = State::with_choices(Params::default(), choices);
    ops.iter().map(|op| state.apply(op)).collect()
}

fn unauthorized(r: TokenReason) -> Outcome {
    Outcome::Rejected(Reason::Unauthorized(r))
}

#[test]
fn each_profile_choice_changes_the_rule_it_names() {
    let refreshed = |generation| Outcome::Refreshed {
        session: 0,
        generation,
    };
    // rotation=keep: the same refresh token (generation 0) again and again.
    let o = under(
        "rotation=keep",
        "refresh refresh#0.0\nrefresh refresh#0.0\n",
    );
    assert_eq!(o[2..], [refreshed(0), refreshed(0)]);
    // grace_retry=same-pair: the retry hands back the rotation's access token (no access#2).
    let o = under(
        "grace_retry=same-pair",
        "refresh refresh#0.0\nrefresh refresh#0.0\naccess access#2\n",
    );
    assert_eq!(o[3], refreshed(1));
    assert_eq!(o[4], unauthorized(TokenReason::Unknown));
    // reuse=reject: reuse is refused, the session lives on.
    let o = under(
        "reuse=reject",
        "refresh refresh#0.0\ntick 11\nrefresh refresh#0.0\nrefresh refresh#0.1\n",
    );
    assert_eq!(o[4], Outcome::Rejected(Reason::InvalidGrant(Grant::Reuse)));
    assert_eq!(o[5], refreshed(2));
    // revoke=token-pair: revoking the refresh token ends it and its access token, not the
    // session's later ones; revoking an access token ends only that one.
    let o = under(
        "revoke=token-pair",
        "refresh refresh#0.0\nrevoke access#0\naccess access#0\naccess access#1\nrevoke refresh#0.1\naccess access#1\nrefresh refresh#0.1\n",
    );
    assert_eq!(o[4], unauthorized(TokenReason::Revoked));
    assert!(matches!(o[5], Outcome::Authorized { .. }));
    assert_eq!(o[7], unauthorized(TokenReason::Revoked));
    assert_eq!(
        o[8],
        Outcome::Rejected(Reason::InvalidGrant(Grant::Revoked))
    );
    // revoke=pair: revoking the current access token ends its refresh token too; an access
    // token a refresh already replaced is gone, and revoking it takes nothing with it.
    let o = under("revoke=pair", "revoke access#0\nrefresh refresh#0.0\n");
    assert_eq!(
        o[3],
        Outcome::Rejected(Reason::InvalidGrant(Grant::Revoked))
    );
    let o = under(
        "revoke=pair rotation=keep rotation_ends_previous_access=true",
        "refresh refresh#0.0\nrevoke access#0\naccess access#0\nrefresh refresh#0.0\n",
    );
    assert!(matches!(o[4], Outcome::Rejected(Reason::Unauthorized(_))));
    assert_eq!(o[5], refreshed(0));
    // disable_ends_sessions=false: the tokens live on; logins are refused.
    let o = under(
        "disable_ends_sessions=false",
        "admin-disable \"alice\"\naccess access#0\nlogin \"alice\" \"correct horse battery\" device=0\n",
    );
    assert!(matches!(o[3], Outcome::Authorized { .. }));
    assert_eq!(o[4], Outcome::Rejected(Reason::Disabled));
    // password_change_ends_other_sessions=false.
    let o = under(
        "password_change_ends_other_sessions=false",
        "login \"alice\" \"correct horse battery\" device=1\nchange-password access#1 \"correct horse battery\" \"another password\"\naccess access#0\n",
    );
    assert!(matches!(o[4], Outcome::Authorized { .. }));
    // lockout=as-invalid-credentials and lockout=none.
    let wrong = "login \"alice\" \"wrong password!\" device=0\n".repeat(5);
    let right = "login \"alice\" \"correct horse battery\" device=0\n";
    let quiet = under("lockout=as-invalid-credentials", &format!("{wrong}{right}"));
    assert_eq!(
        quiet.last(),
        Some(&Outcome::Rejected(Reason::InvalidCredentials))
    );
    let none = under("lockout=none", &format!("{wrong}{right}"));
    assert!(matches!(none.last(), Some(Outcome::Issued { .. })));
    // step_up=false: a sensitive call never asks for a fresh factor.
    let o = under(
        "step_up=false",
        "tick 301\nrefresh refresh#0.0\nsensitive access#1\n",
    );
    assert!(matches!(o[4], Outcome::Authorized { .. }));
    // logout_scopes=false: every logout ends only its own session.
    let o = under(
        "logout_scopes=false",
        "login \"alice\" \"correct horse battery\" device=1\nlogout access#1 global\naccess access#0\n",
    );
    assert!(matches!(o[4], Outcome::Authorized { .. }));
}

/// A state reset after a run (what the lockstep loop does between runs, to keep its lists'
/// capacity) is the state before anything happened, under the new numbers and choices.
#[test]
fn reset_is_the_state_before_anything_happened() {
    let text = format!("{SETUP}tick 5\nrefresh refresh#0.0\ndeploy v2\nupstream down\n");
    let mut state = State::new(Params::default());
    for op in Trace::parse(&text).unwrap().ops() {
        state.apply(&op);
    }
    let params = Params {
        refresh_grace: 3,
        ..Params::default()
    };
    let choices = authcheck::model::Choices {
        step_up: false,
        ..Default::default()
    };
    state.reset(params, choices);
    assert_eq!(state, State::with_choices(params, choices));
    // And it runs on like a fresh one.
    assert_eq!(
        state.apply(&Op::Login {
            user: "alice".into(),
            password: "correct horse battery".into(),
            device: 0,
        }),
        State::with_choices(params, choices).apply(&Op::Login {
            user: "alice".into(),
            password: "correct horse battery".into(),
            device: 0,
        })
    );
}
