//! scripts/fuzz-rustc-wrapper, the RUSTC_WRAPPER that scopes coverage instrumentation in the
//! nightly `lockstep` fuzz build: it must take the sancov flags off every crate outside its list,
//! and leave everything else (and the listed crates) exactly as cargo-fuzz wrote it. And
//! scripts/fuzz-env.sh's `fuzz_for`: the build each target gets (scope, comparison tracing, and
//! a target directory of its own for each non-default build).

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

/// The cargo command line `fuzz_for TARGET build` runs (a stand-in `cargo` on the PATH prints it,
/// with the scope the wrapper would see), under the given overrides.
fn fuzz_for_build(target: &str, overrides: &[(&str, &str)]) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let bin = tempfile::tempdir().unwrap();
    let cargo = bin.path().join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\necho \"instrument=${FUZZ_INSTRUMENT:-all} cargo $*\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let mut cmd = Command::new("bash");
    cmd.current_dir(root)
        .env("PATH", path)
        .env_remove("FUZZ_SCOPE")
        .env_remove("FUZZ_TRACE_COMPARES")
        .env_remove("FUZZ_SANITIZER")
        .envs(overrides.iter().copied())
        .args([
            "-c",
            &format!("source scripts/fuzz-env.sh >/dev/null && fuzz_for {target} build"),
        ]);
    let out = cmd.output().expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Environment variables set for one `fuzz_for` call.
type Overrides = &'static [(&'static str, &'static str)];

#[test]
fn each_target_gets_its_build_and_each_non_default_build_its_own_directory() {
    let cases: [(&str, Overrides, &str); 5] = [
        (
            "lockstep",
            &[],
            "instrument=auth cargo +nightly fuzz build -O -s none --no-trace-compares --target-dir target-auth-nocmp lockstep",
        ),
        (
            "trace_parse",
            &[],
            "instrument=all cargo +nightly fuzz build -O -s none trace_parse",
        ),
        (
            "lockstep",
            &[("FUZZ_TRACE_COMPARES", "yes")],
            "instrument=auth cargo +nightly fuzz build -O -s none --target-dir target-auth lockstep",
        ),
        (
            "lockstep",
            &[("FUZZ_SCOPE", "all")],
            "instrument=all cargo +nightly fuzz build -O -s none --no-trace-compares --target-dir target-nocmp lockstep",
        ),
        (
            "http_request",
            &[("FUZZ_SANITIZER", "address")],
            "instrument=all cargo +nightly fuzz build -O -s address --no-default-features http_request",
        ),
    ];
    for (target, overrides, expected) in cases {
        assert_eq!(
            fuzz_for_build(target, overrides),
            expected,
            "{target} {overrides:?}"
        );
    }
}
