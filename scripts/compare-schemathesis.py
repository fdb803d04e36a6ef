#!/usr/bin/env python3
"""Schemathesis and authcheck side by side, on the same auth-server: the correct build and every
catalogue flaw (docs/PROTOCOL.md §10), both tools as black boxes over HTTP.

    scripts/compare-schemathesis.py [--flaws ID,ID|all] [--seed N] [--st-max-examples N]
                                    [--authcheck-cases N] [--out results.json]

For each server (the correct one first, then one per flaw) the script starts a fresh
`auth-server --flaw ID` (a `flaws` build) on 127.0.0.1 for each tool, with the same flags: an
admin token, a cheap argon2 cost, and a stub OTP provider on loopback. Then:

- Schemathesis (pinned below, in a venv this script creates under target/): `st run` on the
  served /openapi.json, all its phases (examples, coverage, fuzzing, stateful: it chains calls
  through the document's OpenAPI links), its default checks, a fixed seed and
  --max-examples, no example database. It is configured as a careful user would: the `admin`
  security scheme gets the admin token, and the `session` scheme a fresh access token of an
  account the script registers (Schemathesis' dynamic auth).
- authcheck: `authcheck check --target http://… --admin-token …` with a fixed seed and case count.

A finding counts as a detection of a flaw only if the same tool did not also report it on the
correct server (for Schemathesis: the same check on the same operation); whatever a tool reports
on the correct server is a false alarm. Prints a Markdown table; --out writes every detail.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SCHEMATHESIS = "schemathesis==4.32.5"
ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "compare-admin-token"
SERVER_FLAGS = [
    "--admin-token", ADMIN_TOKEN,
    # Cheap hashing for both tools alike: a production cost makes every login ~50 ms.
    "--argon2-memory-kib", "64", "--argon2-iterations", "1",
]
PROBE_USER = "schemathesis-probe"
PROBE_PASSWORD = "probe password 1234"


def flaw_ids():
    """The catalogue's ids, from the table of docs/PROTOCOL.md §10."""
    text = (ROOT / "docs/PROTOCOL.md").read_text()
    section = text.split("## 10. The flaw catalogue", 1)[1]
    return re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M)


class OtpStub(BaseHTTPRequestHandler):
    """The upstream OTP provider (PROTOCOL.md §9): sends nothing, approves code 000000."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.endswith("/send"):
            answer = {"challenge_ref": "ref-" + str(time.monotonic_ns())}
        else:
            answer = {"approved": body.get("code") == "000000"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def start_otp_stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), OtpStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


class Server:
    """A fresh auth-server on 127.0.0.1:0 (it prints its address as its first line)."""

    def __init__(self, binary, flaw, otp_url):
        args = [binary, "--listen", "127.0.0.1:0", "--otp-url", otp_url, *SERVER_FLAGS]
        if flaw:
            args += ["--flaw", flaw]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.base = "http://" + self.process.stdout.readline().strip()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait()


def post(url, body):
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        return response.status


def venv_schemathesis():
    venv = ROOT / "target" / "schemathesis-venv"
    st = venv / "bin" / "st"
    if not st.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", SCHEMATHESIS], check=True)
    return st


def run_schemathesis(st, base, seed, max_examples, workdir):
    post(base + "/v1/accounts", {"username": PROBE_USER, "password": PROBE_PASSWORD})
    config = workdir / "schemathesis.toml"
    config.write_text(
        f"""
[auth.openapi.admin]
bearer = "{ADMIN_TOKEN}"

[auth.dynamic.openapi.session]
path = "/v1/session/login"
payload = {{ username = "{PROBE_USER}", password = "{PROBE_PASSWORD}" }}
extract_selector = "/access_token"
"""
    )
    reports = workdir / "st-report"
    command = [
        str(st), "--config-file", str(config), "run", base + "/openapi.json",
        "--seed", str(seed), "--max-examples", str(max_examples),
        "--generation-database", "none", "--no-color",
        "--report", "junit", "--report-dir", str(reports),
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, cwd=workdir)
    elapsed = time.monotonic() - started
    findings = []
    for junit in reports.glob("junit*.xml"):
        for case in ET.parse(junit).iter("testcase"):
            for failure in case:
                if failure.tag not in ("failure", "error"):
                    continue
                text = failure.text or failure.get("message") or ""
                for code, title in re.findall(r"- (ST\d+) ([^\n]+)", text) or [("error", text.strip()[:80])]:
                    status = re.search(r"\[(\d{3})\] ", text)
                    findings.append({
                        "operation": case.get("name"),
                        "check": code,
                        "title": title.strip(),
                        "status": status.group(1) if status else None,
                    })
    return {
        "exit": done.returncode,
        "seconds": round(elapsed, 1),
        "findings": findings,
        "summary": [line for line in done.stdout.splitlines() if "generated" in line][-1:],
    }


def run_authcheck(authcheck, base, seed, cases, workdir):
    command = [
        str(authcheck), "check", "--target", base, "--admin-token", ADMIN_TOKEN,
        "--seed", str(seed), "--cases", str(cases), "--json",
        "--out-dir", str(workdir / "authcheck-failures"),
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    failure = summary.get("failure") or None
    return {
        "exit": done.returncode,
        "seconds": round(elapsed, 1),
        "cases": summary.get("cases"),
        "failure": failure,
    }


def schemathesis_verdict(result, baseline):
    seen = {(f["check"], f["operation"]) for f in baseline["findings"]} if baseline else set()
    new = [f for f in result["findings"] if (f["check"], f["operation"]) not in seen]
    if baseline is None:
        new = result["findings"]
    return new


def describe_st(findings):
    if not findings:
        return "—"
    parts = sorted({f"{f['check']} {f['title']} ({f['operation']}{', ' + f['status'] if f['status'] else ''})" for f in findings})
    return "; ".join(parts[:3]) + (f"; +{len(parts) - 3} more" if len(parts) > 3 else "")


def shorten(text, width=28):
    """Long quoted values (a 130-character password) cut in the middle, for a table cell."""
    return re.sub(r'"([^"]{%d,})"' % (width + 1), lambda m: f'"{m.group(1)[:12]}…{m.group(1)[-8:]}"', text)


def describe_ac(failure):
    if not failure:
        return "—"
    if failure.get("kind") == "concurrent":
        return f"not linearizable, {failure['shrunk_len']} ops"
    return shorten(f"step {failure['step']} `{failure['op']}`: expected {failure['expected']}, got {failure['actual']} ({failure['shrunk_len']} ops)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flaws", default="all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--st-max-examples", type=int, default=100)
    parser.add_argument("--authcheck-cases", type=int, default=500)
    parser.add_argument("--out", help="write every detail of the run as JSON")
    parser.add_argument("--table-from", help="only print the table of an earlier run's --out file")
    args = parser.parse_args()
    if args.table_from:
        print_table(json.loads(Path(args.table_from).read_text()), args)
        return

    subprocess.run(
        ["cargo", "build", "--release", "--features", "flaws", "-p", "authcheck", "-p", "auth"],
        cwd=ROOT, check=True,
    )
    binary = ROOT / "target" / "release" / "auth-server"
    authcheck = ROOT / "target" / "release" / "authcheck"
    st = venv_schemathesis()
    otp_url = start_otp_stub()
    flaws = flaw_ids() if args.flaws == "all" else args.flaws.split(",")

    results = []
    baseline = None
    for flaw in [None, *flaws]:
        name = flaw or "(correct)"
        print(f"== {name}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            with Server(binary, flaw, otp_url) as server:
                st_result = run_schemathesis(st, server.base, args.seed, args.st_max_examples, workdir)
            with Server(binary, flaw, otp_url) as server:
                ac_result = run_authcheck(authcheck, server.base, args.seed, args.authcheck_cases, workdir)
        if flaw is None:
            baseline = st_result
            st_new = st_result["findings"]
        else:
            st_new = schemathesis_verdict(st_result, baseline)
        results.append({"server": name, "schemathesis": st_result, "schemathesis_new": st_new, "authcheck": ac_result})
        print(f"   schemathesis {st_result['seconds']} s: {describe_st(st_new)}", file=sys.stderr)
        print(f"   authcheck    {ac_result['seconds']} s: {describe_ac(ac_result['failure'])}", file=sys.stderr)

    print_table(results, args)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


def print_table(results, args):
    print(f"Schemathesis {SCHEMATHESIS.split('==')[1]} (seed {args.seed}, --max-examples {args.st_max_examples}, all phases, default checks) "
          f"vs authcheck (seed {args.seed}, {args.authcheck_cases} cases), both black box on the same auth-server flags.\n")
    print("| server | Schemathesis | time | how it reads | authcheck | time | how it reads |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        correct = r["server"] == "(correct)"
        st_hit = bool(r["schemathesis_new"])
        ac_hit = bool(r["authcheck"]["failure"])
        mark = lambda hit: ("false alarm" if hit else "clean") if correct else ("**detected**" if hit else "missed")
        print(f"| `{r['server']}` | {mark(st_hit)} | {r['schemathesis']['seconds']} s | {describe_st(r['schemathesis_new'])} "
              f"| {mark(ac_hit)} | {r['authcheck']['seconds']} s | {describe_ac(r['authcheck']['failure'])} |")
    detected = lambda tool: sum(1 for r in results[1:] if (r["schemathesis_new"] if tool == "st" else r["authcheck"]["failure"]))
    print(f"\nDetected: Schemathesis {detected('st')}/{len(results) - 1}, authcheck {detected('ac')}/{len(results) - 1}.")


if __name__ == "__main__":
    main()
