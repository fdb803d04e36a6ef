//! The model on its own: purity, and the DESIGN §5 exposing traces give the outcomes DESIGN says.

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
