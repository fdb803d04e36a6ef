#!/usr/bin/env python3
"""The mutation yardstick: how many mutants of auth's session logic do campaigns alone kill?

Every mutant cargo-mutants generates in the session logic of `auth` (rules, service, stores,
tokens, credentials) is applied to a source tree in turn; the `authcheck` binary is rebuilt and
the only "test" is a set of generated campaigns (no hand-written regression traces, no unit
tests of `auth`). A mutant is killed when a campaign finds a divergence (or fails to finish),
unviable when it does not compile, survived otherwise.

    scripts/mutation-yardstick.py [--tree DIR] [--out results.json] [--only SUBSTRING]

--tree is a checkout of this repository (default: this one): run it on an older revision's
worktree to compare generators. The tree is restored after every mutant.
"""
import argparse
import json
import os
import subprocess
import sys
import time

SCOPE = (
    "auth/src/rules.rs",
    "auth/src/service",  # service.rs before the split, service/ after
    "auth/src/store/",
    "auth/src/tokens.rs",
    "auth/src/credentials.rs",
)

# The campaigns, at CI-like budgets with fixed seeds: sequential (mixed) and concurrent, on
# both stores. The first that finds a divergence kills the mutant.
CAMPAIGNS = (
    "check --cases 500 --seed 1 --store memory",
    "check --cases 100 --seed 2 --store sqlite",
    "check --concurrent --cases 200 --seed 3 --store memory",
    "check --concurrent --cases 40 --seed 4 --store sqlite",
)

# A fast build: the workspace at opt-level 1, dependencies (argon2, SQLite) optimised.
PROFILE = [
    "--config", 'profile.mutants.inherits="dev"',
    "--config", "profile.mutants.opt-level=1",
    "--config", "profile.mutants.debug=false",
    "--config", 'profile.mutants.package."*".opt-level=3',
]


def run(cmd, cwd, timeout=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default="mutation-yardstick.json")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    tree = args.tree
    listing = run(["cargo", "mutants", "--list", "--json", "--diff", "-p", "auth"], tree)
    mutants = [
        m for m in json.loads(listing.stdout)
        if m["file"].startswith(SCOPE) and args.only in m["name"]
    ]
    build = ["cargo", *PROFILE, "build", "-q", "--profile", "mutants", "--bin", "authcheck"]
    base = run(build, tree)
    if base.returncode != 0:
        sys.exit("the unmutated tree does not build:\n" + base.stderr)
    binary = os.path.join(tree, "target", "mutants", "authcheck")
    for c in CAMPAIGNS:
        r = run([binary, *c.split()], tree, timeout=600)
        if r.returncode != 0:
            sys.exit(f"the unmutated service fails `{c}`:\n{r.stdout[-3000:]}")
    results = []
    started = time.time()
    for i, m in enumerate(mutants):
        path = os.path.join(tree, m["file"])
        original = open(path).read()
        patch = subprocess.run(["patch", "--quiet", "--forward", path], input=m["diff"],
                               cwd=tree, capture_output=True, text=True)
        outcome, by = "unviable", None
        try:
            if patch.returncode != 0:
                outcome = "not-applied"
            elif run(build, tree).returncode == 0:
                outcome = "survived"
                for c in CAMPAIGNS:
                    try:
                        r = run([binary, *c.split()], tree, timeout=300)
                    except subprocess.TimeoutExpired:
                        outcome, by = "killed", f"{c} (timeout)"
                        break
                    if r.returncode != 0:
                        outcome, by = "killed", c
                        break
        finally:
            open(path, "w").write(original)
        results.append({"name": m["name"], "file": m["file"], "outcome": outcome, "by": by})
        rate = (time.time() - started) / (i + 1)
        print(f"[{i + 1}/{len(mutants)}] {outcome:9} {m['name']}  ({rate:.0f}s/mutant)", flush=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    counts = {}
    for r in results:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
