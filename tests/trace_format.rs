//! The trace format: print → parse → print is the identity, for every generated trace.

use authcheck::generate::generate;
use authcheck::lockstep::expectations;
use authcheck::model::{Op, Params, Token};
use authcheck::trace::Trace;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x7ace),
        ..ProptestConfig::default()
    })]

    #[test]
    fn print_parse_print_is_the_identity(bytes in proptest::collection::vec(any::<u8>(), 0..4096), with_expectations: bool) {
        let params = Params::default();
        let ops = generate(&mut arbitrary::Unstructured::new(&bytes), params, 80);
        let expected = if with_expectations { expectations(params, &ops) } else { vec![] };
        let trace = Trace::new(&["reproduces: nothing".into(), "".into()], &ops, &expected);
        let printed = trace.to_string();
        let parsed = Trace::parse(&printed).map_err(|e| TestCaseError::fail(format!("{e}\n{printed}")))?;
        prop_assert_eq!(&parsed, &trace);
        prop_assert_eq!(parsed.to_string(), printed);
    }

    #[test]
    fn any_string_survives_quoting(s in ".*", g in any::<String>()) {
        let ops = vec![
            Op::Register { user: s.as_str().into(), password: g.as_str().into(), mfa: true },
            Op::Revoke { token: Token::Garbage(g.clone()) },
            Op::Refresh { token: Token::Truncated(Box::new(Token::Garbage(s))) },
        ];
        let trace = Trace::new(&[], &ops, &[]);
        prop_assert_eq!(Trace::parse(&trace.to_string()).unwrap().ops(), ops);
    }
}

#[test]
fn hand_written_traces_parse_with_comments_and_spacing() {
    let text = "# reproduces: grace retry\n\n# a comment between steps\nregister \"alice\" \"correct horse battery\" nomfa # => registered\nlogin   \"ALICE\"   \"correct horse battery\"   device=2\nrefresh refresh#0.0       # => refreshed session#0 gen=1\naccess garbage:\"a # b\"    # => rejected unauthorized:unknown\n";
    let trace = Trace::parse(text).unwrap();
    assert_eq!(trace.ops().len(), 4);
    assert_eq!(trace.header(), vec!["reproduces: grace retry".to_owned()]);
    assert_eq!(
        trace.header_value("reproduces").as_deref(),
        Some("grace retry")
    );
    // Reprinting normalises spacing only; reparsing gives the same trace.
    assert_eq!(Trace::parse(&trace.to_string()).unwrap(), trace);
}

#[test]
fn parse_errors_name_the_line() {
    for (text, line) in [
        ("register \"a\" \"b\"\n", 1),
        ("tick 5\nrefresh session#0\n", 2),
        ("tick 5\ntick 6\naccess access#x\n", 3),
        ("login \"a\" \"unterminated device=1\n", 1),
        ("tick 5 # ok\n", 1),
        ("tick 5 # => exploded\n", 1),
    ] {
        let err = Trace::parse(text).unwrap_err();
        assert_eq!(err.line, line, "{text:?}: {err}");
    }
}
