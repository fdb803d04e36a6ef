//! The side-by-side peer: the same model and the same service driver, written as a
//! `proptest-state-machine` test the way a user of that crate would — a `ReferenceStateMachine`
//! whose transitions are uniform choices over the same names, passwords and handles, and a
//! `StateMachineTest` that runs each transition against the in-process service and asserts the
//! model's outcome. No deadline bias, no hostile tokens, proptest's own shrinking. Used by
//! `authcheck flaws` to compare the two harnesses flaw by flaw.

use crate::driver::{in_process, Connection, Driver, Flaw, InProcess, StoreKind};
use crate::generate::{NAMES, PASSWORDS, WEAK_PASSWORDS};
use crate::model::{Code, Op, Params, Scope, State, Token, Upstream, Version};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    /// The flaw the system under test runs with (the trait's functions take no arguments).
    static FLAW: Cell<Option<Flaw>> = const { Cell::new(None) };
}

pub struct Reference;

impl ReferenceStateMachine for Reference {
    type State = State;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<State> {
        Just(State::new(Params::default())).boxed()
    }

    fn transitions(s: &State) -> BoxedStrategy<Op> {
        let names: Vec<String> = NAMES
            .iter()
            .flat_map(|row| row.iter().map(|n| n.to_string()))
            .collect();
        let mut passwords: Vec<String> = PASSWORDS
            .iter()
            .chain(WEAK_PASSWORDS)
            .map(|p| p.to_string())
            .collect();
        passwords.push("wrong password!".into());
        let name = proptest::sample::select(names);
        let password = proptest::sample::select(passwords);
        let mut options: Vec<BoxedStrategy<Op>> = vec![
            (name.clone(), password.clone(), any::<bool>())
                .prop_map(|(user, password, mfa)| Op::Register {
                    user: user.into(),
                    password: password.into(),
                    mfa,
                })
                .boxed(),
            (name.clone(), password.clone(), 0..4u8)
                .prop_map(|(user, password, device)| Op::Login {
                    user: user.into(),
                    password: password.into(),
                    device,
                })
                .boxed(),
            (1..=1_000u64)
                .prop_map(|seconds| Op::Tick { seconds })
                .boxed(),
            prop_oneof![Just(Version::V1), Just(Version::V2)]
                .prop_map(|version| Op::Deploy { version })
                .boxed(),
            Just(Op::Restart).boxed(),
            prop_oneof![
                Just(Upstream::Up),
                Just(Upstream::Down),
                Just(Upstream::Garbage)
            ]
            .prop_map(|mode| Op::UpstreamFault { mode })
            .boxed(),
            (name.clone(), 0..3u8)
                .prop_map(|(user, which)| match which {
                    0 => Op::AdminDisable { user: user.into() },
                    1 => Op::AdminEnable { user: user.into() },
                    _ => Op::AdminUnlock { user: user.into() },
                })
                .boxed(),
        ];
        let generations: Vec<(usize, u64)> = s
            .sessions
            .iter()
            .enumerate()
            .flat_map(|(i, x)| (0..=x.generation).map(move |g| (i, g)))
            .collect();
        if !generations.is_empty() {
            let refresh = proptest::sample::select(generations);
            options.push(
                refresh
                    .clone()
                    .prop_map(|(session, generation)| Op::Refresh {
                        token: Token::Refresh {
                            session,
                            generation,
                        },
                    })
                    .boxed(),
            );
            options.push(
                refresh
                    .prop_map(|(session, generation)| Op::Revoke {
                        token: Token::Refresh {
                            session,
                            generation,
                        },
                    })
                    .boxed(),
            );
        }
        if !s.access.is_empty() {
            let access = (0..s.access.len()).prop_map(Token::Access);
            options.push(
                access
                    .clone()
                    .prop_map(|token| Op::Access { token })
                    .boxed(),
            );
            options.push(
                access
                    .clone()
                    .prop_map(|token| Op::Sensitive { token })
                    .boxed(),
            );
            options.push(
                (access.clone(), password.clone())
                    .prop_map(|(token, password)| Op::Reauthenticate {
                        token,
                        password: password.into(),
                    })
                    .boxed(),
            );
            options.push(
                (
                    access.clone(),
                    prop_oneof![Just(Scope::Local), Just(Scope::Others), Just(Scope::Global)],
                )
                    .prop_map(|(token, scope)| Op::Logout { token, scope })
                    .boxed(),
            );
            options.push(
                (access, password.clone(), password)
                    .prop_map(|(token, old, new)| Op::ChangePassword {
                        token,
                        old: old.into(),
                        new: new.into(),
                    })
                    .boxed(),
            );
        }
        if !s.challenges.is_empty() {
            options.push(
                (
                    (0..s.challenges.len()).prop_map(Token::Challenge),
                    any::<bool>(),
                )
                    .prop_map(|(challenge, right)| Op::VerifyMfa {
                        challenge,
                        code: if right { Code::Right } else { Code::Wrong },
                    })
                    .boxed(),
            );
        }
        proptest::strategy::Union::new(options).boxed()
    }

    fn apply(mut state: State, op: &Op) -> State {
        state.apply(op);
        state
    }

    fn preconditions(state: &State, op: &Op) -> bool {
        !state.dangles(op)
    }
}

pub struct Test;

impl StateMachineTest for Test {
    /// The service and a copy of the model stepped alongside (for the expected outcome).
    type SystemUnderTest = (Connection<InProcess>, State);
    type Reference = Reference;

    fn init_test(_: &State) -> Self::SystemUnderTest {
        let flaw = FLAW.with(Cell::get);
        let driver = in_process(StoreKind::Memory, Params::default(), 0, flaw).expect("service");
        (driver, State::new(Params::default()))
    }

    fn apply(mut sut: Self::SystemUnderTest, _: &State, op: Op) -> Self::SystemUnderTest {
        let expected = sut.1.apply(&op);
        let actual = sut.0.apply(&op);
        assert_eq!(actual, Ok(expected), "{op}");
        sut
    }
}

/// The peer's result against one flawed service.
#[derive(Debug, Clone)]
pub struct PeerDetection {
    pub detected: bool,
    pub cases: u64,
    pub elapsed: Duration,
    /// Transitions in the shrunk failing case, up to the failing one.
    pub shrunk_len: usize,
}

/// Runs the peer for up to `budget` cases from `seed` against the service with `flaw`.
pub fn detect(flaw: Option<Flaw>, seed: u64, budget: u32) -> PeerDetection {
    FLAW.with(|f| f.set(flaw));
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: budget,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let cases = Cell::new(0u64);
    let failed = Cell::new(false);
    let start = Instant::now();
    // Failing cases panic inside the runner; keep their messages off the terminal.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = runner.run(
        &Reference::sequential_strategy(1..40),
        |(state, transitions, seen)| {
            if !failed.get() {
                cases.set(cases.get() + 1);
            }
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Test::test_sequential(Config::default(), state, transitions, seen)
            }));
            if outcome.is_err() {
                failed.set(true);
                return Err(TestCaseError::fail("the service left the model"));
            }
            Ok(())
        },
    );
    std::panic::set_hook(hook);
    let elapsed = start.elapsed();
    match result {
        Err(TestError::Fail(_, (_, transitions, _))) => PeerDetection {
            detected: true,
            cases: cases.get(),
            elapsed,
            shrunk_len: failing_prefix(flaw, &transitions),
        },
        _ => PeerDetection {
            detected: false,
            cases: cases.get(),
            elapsed,
            shrunk_len: 0,
        },
    }
}

/// How many transitions run before (and including) the first one the service gets wrong.
fn failing_prefix(flaw: Option<Flaw>, transitions: &[Op]) -> usize {
    let Ok(mut driver) = in_process(StoreKind::Memory, Params::default(), 0, flaw) else {
        return transitions.len();
    };
    let mut model = State::new(Params::default());
    for (i, op) in transitions.iter().enumerate() {
        if driver.apply(op) != Ok(model.apply(op)) {
            return i + 1;
        }
    }
    transitions.len()
}
