//! scripts/fuzz-rustc-wrapper, the RUSTC_WRAPPER that scopes coverage instrumentation in the
//! nightly `lockstep` fuzz build: it must take the sancov flags off every crate outside its list,
//! and leave everything else (and the listed crates) exactly as cargo-fuzz wrote it.

use std::process::Command;

const SANCOV: [&str; 3] = [
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
];

/// The arguments the wrapper hands to rustc (here `echo`) for a crate, with FUZZ_INSTRUMENT.
fn passed(crate_name: Option<&str>, instrument: Option<&str>) -> Vec<String> {
    let wrapper = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/fuzz-rustc-wrapper");
    let mut cmd = Command::new(wrapper);
    cmd.arg("echo");
    if let Some(name) = crate_name {
        cmd.args(["--crate-name", name]);
    }
    cmd.args([
        "--edition=2021",
        "--cfg",
        "fuzzing",
        "-Cllvm-args=-other-option",
    ])
    .args(SANCOV)
    .env_remove("FUZZ_INSTRUMENT");
    if let Some(list) = instrument {
        cmd.env("FUZZ_INSTRUMENT", list);
    }
    let out = cmd.output().expect("the wrapper runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn instrumented(args: &[String]) -> bool {
    let present = SANCOV
        .iter()
        .filter(|f| args.iter().any(|a| a == *f))
        .count();
    assert!(
        present == 0 || present == SANCOV.len(),
        "half-instrumented: {args:?}"
    );
    present == SANCOV.len()
}

#[test]
fn only_the_listed_crates_keep_coverage_instrumentation() {
    assert!(instrumented(&passed(Some("auth"), Some("auth"))));
    for other in ["tokio", "authcheck", "serde_json", "authy"] {
        let args = passed(Some(other), Some("auth"));
        assert!(!instrumented(&args), "{other}: {args:?}");
        for kept in [
            "--cfg",
            "fuzzing",
            "-Cllvm-args=-other-option",
            "--edition=2021",
        ] {
            assert!(
                args.iter().any(|a| a == kept),
                "{other} lost {kept}: {args:?}"
            );
        }
    }
    assert!(instrumented(&passed(Some("tokio"), Some("tokio auth"))));
    assert!(!instrumented(&passed(Some("auth"), Some("authcheck"))));
}

#[test]
fn everything_keeps_it_by_default_with_all_and_when_no_crate_is_named() {
    assert!(instrumented(&passed(Some("tokio"), None)));
    assert!(instrumented(&passed(Some("tokio"), Some("all"))));
    // cargo asks rustc about itself (`-vV`, `--print`) without a crate name.
    assert!(instrumented(&passed(None, Some("auth"))));
}
