//! Running against a shared server (one already running, as a black box): it remembers every
//! run before this one, so each run — a case, a retry of it, each candidate the shrinker tries,
//! a replay — gets user names no earlier run used. Without that, a retry or a shrunk trace
//! meets the accounts an earlier run left behind and reports a divergence the service never
//! made.

use crate::model::Op;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Appends `suffix` to every valid user name, so runs sharing one server cannot meet.
/// (An ASCII suffix keeps PRECIS equivalence: spellings of one account stay one account;
/// invalid names stay as they are, so they stay invalid.)
pub fn isolate_names(ops: &[Op], suffix: &str) -> Vec<Op> {
    let rename = |user: &mut crate::model::Text| {
        if crate::model::accounts::canonical(user).is_some() {
            *user = format!("{user}{suffix}").into();
        }
    };
    ops.iter()
        .cloned()
        .map(|mut op| {
            match &mut op {
                Op::Register { user, .. }
                | Op::Login { user, .. }
                | Op::AdminDisable { user }
                | Op::AdminEnable { user }
                | Op::AdminUnlock { user } => rename(user),
                _ => {}
            }
            op
        })
        .collect()
}

/// `outcome` as it reads under the trace's own names: the suffix [`isolate_names`] added to a
/// user name the service answered with is taken off again.
pub fn unisolate_outcome(outcome: &mut crate::model::Outcome, suffix: &str) {
    if let crate::model::Outcome::Authorized { user, .. } = outcome {
        if let Some(name) = user.strip_suffix(suffix) {
            *user = name.into();
        }
    }
}

/// A suffix no earlier run used: this process's nonce (the clock and the pid, so two processes
/// against one server differ) and a counter of the runs in this process.
pub fn fresh_suffix() -> String {
    static NONCE: OnceLock<u64> = OnceLock::new();
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let nonce = *NONCE.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64 ^ u64::from(std::process::id()))
            .unwrap_or(0)
            % 0xffff_ffff
    });
    format!("-{nonce:x}-{}", RUNS.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_gets_names_no_other_run_had() {
        let ops = vec![Op::AdminUnlock { user: "bob".into() }];
        let a = isolate_names(&ops, &fresh_suffix());
        let b = isolate_names(&ops, &fresh_suffix());
        assert_ne!(a, b);
        assert!(matches!(&a[0], Op::AdminUnlock { user } if user.starts_with("bob-")));
    }

    #[test]
    fn an_answer_reads_under_the_trace_names() {
        let mut o = crate::model::Outcome::Authorized {
            user: "straße-1f-3".into(),
            aal: crate::model::Aal::Aal1,
            session: 0,
        };
        unisolate_outcome(&mut o, "-1f-3");
        assert!(
            matches!(o, crate::model::Outcome::Authorized { ref user, .. } if &**user == "straße")
        );
    }

    #[test]
    fn invalid_names_stay_invalid() {
        let ops = vec![Op::AdminUnlock { user: "".into() }];
        assert_eq!(isolate_names(&ops, "-x-1"), ops);
    }
}
