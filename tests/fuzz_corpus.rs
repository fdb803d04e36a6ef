//! The fuzz corpus: the seed corpus is generated here from the regression traces, generated
//! sequences and issued tokens (so it never drifts from the code), and every target runs over
//! every committed input, on stable, under `cargo test`.
//!
//! Seed files are named `seed-<sha256 prefix>`; anything else in `fuzz/corpus/<target>/` was
//! found by fuzzing and merged in, and is replayed too. Outside CI a missing or stale seed file is
//! (re)written; in CI (`CI` set) it is a failure: regenerate locally with
//! `cargo test --test fuzz_corpus` and commit.

use authcheck::campaign::case_bytes;
use authcheck::fuzzing::{self, TRACE_MAGIC};
use authcheck::generate::generate;
use authcheck::lockstep::expectations;
use authcheck::model::Params;
use authcheck::trace::Trace;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("lockstep", fuzzing::lockstep),
    ("trace_parse", fuzzing::trace_parse),
    ("token_decode", fuzzing::token_decode),
    ("http_request", fuzzing::http_request),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn regression_traces() -> Vec<Vec<u8>> {
    authcheck::trace::read_dir(&authcheck::trace::regressions_dir())
        .unwrap()
        .into_iter()
        .map(|(_, text)| text.into_bytes())
        .collect()
}

const HTTP_SEEDS: &[&str] = &[
    "POST /v1/accounts\ncontent-type: application/json\n\n{\"username\":\"bob\",\"password\":\"correct horse battery\"}",
    "POST /v1/session/login\ncontent-type: application/json\n\n{\"username\":\"alice\",\"password\":\"correct horse battery\",\"device\":\"d\"}",
    "POST /v1/session/login\ncontent-type: application/json\n\n{\"username\":\"carol\",\"password\":\"correct horse battery\"}",
    "POST /v1/session/mfa\ncontent-type: application/json\n\n{\"challenge_id\":\"mfa_x\",\"code\":\"123456\"}",
    "POST /v1/session/refresh\ncontent-type: application/json\n\n{\"refresh_token\":\"rt_x\"}",
    "GET /v1/session\nauthorization: Bearer at_x\n\n",
    "POST /v1/session/sensitive\nauthorization: Bearer at_x\n\n",
    "POST /v1/session/reauth\nauthorization: Bearer at_x\ncontent-type: application/json\n\n{\"password\":\"x\"}",
    "POST /v1/session/logout\nauthorization: Bearer at_x\ncontent-type: application/json\n\n{\"scope\":\"global\"}",
    "POST /v1/session/password\nauthorization: Bearer at_x\ncontent-type: application/json\n\n{\"old_password\":\"a\",\"new_password\":\"b\"}",
    "POST /v1/oauth/revoke\ncontent-type: application/json\n\n{\"token\":\"anything\"}",
    "POST /v1/admin/users/alice/disable\nauthorization: Bearer admin-token\n\n",
    "POST /v1/admin/users/%FF/unlock\nauthorization: Bearer admin-token\n\n",
    "POST /v1/session/login\ncontent-type: application/json\n\n{\"username\":",
    "GET /nowhere\n\n",
];

/// Every seed input, by target.
fn seed_corpus() -> BTreeMap<&'static str, Vec<Vec<u8>>> {
    let params = Params::default();
    let traces = regression_traces();
    let mut corpus: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
    let lockstep = corpus.entry("lockstep").or_default();
    for t in &traces {
        lockstep.push([TRACE_MAGIC, t.as_slice()].concat());
    }
    for seed in 0..16 {
        lockstep.push(case_bytes(seed)[..1024].to_vec());
    }
    let parse = corpus.entry("trace_parse").or_default();
    parse.extend(traces.iter().cloned());
    for seed in 0..8 {
        let ops = generate(
            &mut arbitrary::Unstructured::new(&case_bytes(seed)),
            params,
            30,
        );
        parse.push(
            Trace::new(&["generated".into()], &ops, &expectations(params, &ops))
                .to_string()
                .into_bytes(),
        );
    }
    let tokens = corpus.entry("token_decode").or_default();
    for t in fuzzing::issued_tokens() {
        // A V2 token with its generation zero-padded: same MAC input, a spelling never issued.
        let parts: Vec<&str> = t.split('.').collect();
        if let [v, sid, generation, mac] = parts.as_slice() {
            tokens.push(format!("{v}.{sid}.0{generation}.{mac}").into_bytes());
        }
        tokens.push(t.as_bytes()[..t.len() - 1].to_vec());
        tokens.push(t.into_bytes());
    }
    tokens.push(
        b"v2.s_AAAAAAAAAAAAAAAAAAAAAA.0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_vec(),
    );
    corpus
        .entry("http_request")
        .or_default()
        .extend(HTTP_SEEDS.iter().map(|s| s.as_bytes().to_vec()));
    corpus
}

fn seed_name(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!(
        "seed-{}",
        digest
            .iter()
            .take(10)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

#[test]
fn seed_corpus_is_current_and_every_target_runs_clean_over_the_corpus() {
    let in_ci = std::env::var_os("CI").is_some();
    let mut problems = Vec::new();
    for (target, inputs) in seed_corpus() {
        let dir = root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let wanted: BTreeMap<String, Vec<u8>> =
            inputs.into_iter().map(|b| (seed_name(&b), b)).collect();
        for (name, bytes) in &wanted {
            let path = dir.join(name);
            if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
                if in_ci {
                    problems.push(format!("{target}/{name} is missing or stale"));
                } else {
                    std::fs::write(&path, bytes).unwrap();
                }
            }
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.starts_with("seed-") && !wanted.contains_key(&name) {
                if in_ci {
                    problems.push(format!("{target}/{name} is a stale seed"));
                } else {
                    std::fs::remove_file(dir.join(&name)).unwrap();
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "regenerate the seed corpus with `cargo test --test fuzz_corpus` and commit: {problems:?}"
    );

    for (target, run) in TARGETS {
        let dir = root().join("fuzz/corpus").join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{target} has no corpus");
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            if let Err(panic) = std::panic::catch_unwind(|| run(&bytes)) {
                let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
                panic!("{target} fails on {}: {message}", file.display());
            }
        }
    }
}

#[test]
fn every_regression_trace_is_a_lockstep_input() {
    for trace in regression_traces() {
        if String::from_utf8_lossy(&trace).contains("\n== branch") {
            continue; // concurrent traces are not lockstep inputs
        }
        let input = [TRACE_MAGIC, trace.as_slice()].concat();
        assert!(fuzzing::plan_from_bytes(&input).is_some_and(|plan| !plan.ops.is_empty()));
    }
}

#[test]
fn http_inputs_decode_to_requests() {
    for seed in HTTP_SEEDS {
        assert!(fuzzing::decode_request(seed.as_bytes()).is_some(), "{seed}");
    }
    assert!(fuzzing::decode_request(b"NOT A METHOD /\n\n").is_none());
}
