//! The `authcheck` command line: exit codes, the JSON summary, replay.

use std::process::Command;

fn authcheck(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_authcheck"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_prints_its_seed_and_a_json_summary_as_the_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let (code, stdout, _) = authcheck(&[
        "check",
        "--cases",
        "20",
        "--seed",
        "9",
        "--store",
        "memory",
        "--json",
        "--out-dir",
        out_dir,
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("seed 9"));
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["cases"], 20);
    assert_eq!(last["seed"], 9);
    assert_eq!(last["divergences"], 0);
    assert!(last["failure"].is_null());
    for key in ["ops", "elapsed_ms", "ops_per_sec"] {
        assert!(last[key].is_number(), "{key}: {last}");
    }
    assert!(
        last["coverage"]["covered"].as_u64().unwrap()
            <= last["coverage"]["total"].as_u64().unwrap()
    );
    assert!(last["coverage"]["missing"].is_array());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(authcheck(&["check", "--cases", "many"]).0, 2);
    assert_eq!(authcheck(&["frobnicate"]).0, 2);
    assert_eq!(authcheck(&["replay", "/no/such/file.trace"]).0, 2);
}

#[test]
fn replay_passes_a_good_trace_and_fails_a_wrong_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.trace");
    std::fs::write(
        &good,
        "# reproduces: a login\nregister \"alice\" \"correct horse battery\" nomfa # => registered\nlogin \"ALICE\" \"correct horse battery\" device=0 # => issued session#0 aal1\naccess access#0 # => authorized \"alice\" aal1 session#0\n",
    )
    .unwrap();
    let (code, stdout, _) = authcheck(&["replay", good.to_str().unwrap(), "--store", "memory"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("PASS"));

    let wrong = dir.path().join("wrong.trace");
    std::fs::write(
        &wrong,
        "register \"alice\" \"correct horse battery\" nomfa # => rejected username-taken\n",
    )
    .unwrap();
    let (code, stdout, _) = authcheck(&["replay", wrong.to_str().unwrap(), "--store", "memory"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("the file expects `rejected username-taken`, the model says `registered`"),
        "{stdout}"
    );
}

#[test]
fn shrink_of_a_passing_trace_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ok.trace");
    std::fs::write(&file, "tick 5\n").unwrap();
    let (code, stdout, _) = authcheck(&["shrink", file.to_str().unwrap(), "--store", "memory"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing to shrink"));
}

#[test]
fn promote_writes_the_next_numbered_regression_with_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let traces = dir.path().join("traces");
    std::fs::create_dir_all(&traces).unwrap();
    std::fs::write(traces.join("0007-existing.trace"), "tick 1\n").unwrap();
    // A lockstep fuzzer input: generator bytes.
    let artifact = dir.path().join("crash-0123");
    std::fs::write(&artifact, authcheck::campaign::case_bytes(3)).unwrap();
    let (code, stdout, stderr) = authcheck(&[
        "promote",
        artifact.to_str().unwrap(),
        "--name",
        "from-fuzzer",
        "--dir",
        traces.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let written = traces.join("0008-from-fuzzer.trace");
    let trace =
        authcheck::trace::Trace::parse(&std::fs::read_to_string(&written).unwrap()).unwrap();
    // The correct service passes it: kept as a guard, and said so.
    assert!(trace
        .header_value("reproduces")
        .unwrap()
        .contains("passed when promoted"));
    assert!(trace
        .header_value("promoted-from")
        .unwrap()
        .contains("crash-0123"));
    assert!(!trace.ops().is_empty());
    assert!(trace.steps().all(|(_, expected)| expected.is_some()));
}

#[test]
fn upgrade_refuses_a_missing_side_or_a_build_that_is_not_there() {
    let missing = "/nonexistent/auth-server";
    for (args, says) in [
        (
            &["upgrade", "--cases", "1"][..],
            "upgrade needs --from OLD and --to NEW",
        ),
        (
            &["upgrade", "--from", missing, "--to", missing],
            "/nonexistent/auth-server: no such file",
        ),
        (
            &[
                "upgrade",
                "--from",
                "rev:no-such-revision",
                "--to",
                "rev:HEAD",
            ],
            "no-such-revision",
        ),
    ] {
        let (code, _, stderr) = authcheck(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// A known finding whose trace passes on the target is fixed: `check` says so and stops.
#[test]
fn a_known_finding_that_passes_is_a_usage_error() {
    let trace = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/regressions/traces/0001-grace-retry.trace"
    );
    let (code, stdout, stderr) = authcheck(&[
        "check", "--cases", "5", "--seed", "1", "--store", "memory", "--known", trace,
    ]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("0001-grace-retry.trace passes on this target"),
        "{stderr}"
    );
}

/// `merge` adds up each known finding's passed-over cases across shards, in text and JSON.
#[test]
fn merge_adds_up_the_cases_passed_over_as_each_known_finding() {
    let dir = tempfile::tempdir().unwrap();
    let shard = |name: &str, known: &str| {
        let path = dir.path().join(name);
        let json = format!(r#"{{"cases": 10, "ops": 100, "divergences": 0, "known": {known}}}"#);
        std::fs::write(&path, format!("some text\n{json}\n")).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let a = shard("a.json", r#"{"one.trace": 2, "two.trace": 1}"#);
    let b = shard("b.json", r#"{"one.trace": 3}"#);
    let (code, stdout, stderr) = authcheck(&["merge", &a, &b]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("passed over as known: 5 cases diverged like one.trace"),
        "{stdout}"
    );
    assert!(
        stdout.contains("passed over as known: 1 cases diverged like two.trace"),
        "{stdout}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        summary["known"],
        serde_json::json!({"one.trace": 5, "two.trace": 1})
    );
}
