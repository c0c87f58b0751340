#!/usr/bin/env python3
"""Mutation check of the conformance suite against the fake.

Applies each mutant of mutation/mutants.txt, one at a time, to a private
copy of the module, runs the fake's conformance suite there, and counts the
mutants the suite kills (the suite fails). Prints one line per mutant and
the score; exits 1 when the score is under --min (default 95 %) or a mutant
no longer applies (its original lines are not in the file exactly once).
Run with `make mutation`; not part of `make test`.
"""
import argparse, os, re, shutil, subprocess, sys, tempfile, time

def parse(path):
    mutants, cur = [], None
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith("## "):
            cur = {"name": line[3:].strip(), "file": None, "old": [], "new": []}
            mutants.append(cur)
        elif cur is None or line.startswith("#") or not line.strip():
            continue
        elif line.startswith("file: "):
            cur["file"] = line[6:].strip()
        elif line.startswith("- "):
            cur["old"].append(line[2:])
        elif line.startswith("+ "):
            cur["new"].append(line[2:])
        else:
            sys.exit(f"mutants: cannot read line {line!r}")
    for m in mutants:
        if not m["file"] or not m["old"]:
            sys.exit(f"mutant {m['name']!r}: needs a file and original lines")
    return mutants

def run_suite(tree, timeout):
    cmd = ["go", "test", "-count=1", "-timeout", f"{timeout}s", "-run", "TestConformance", "./fake"]
    p = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
    out = p.stdout + p.stderr
    fails = re.findall(r"--- FAIL: (TestConformance/\S+/\S+)", out)
    return p.returncode, fails, out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--min", type=float, default=95.0)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--only", default="", help="run only mutants whose name matches this regular expression")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    mutants = [m for m in parse(os.path.join(root, "mutation", "mutants.txt")) if re.search(args.only, m["name"])]
    tmp = tempfile.mkdtemp(prefix="ctrgate-mutation-")
    tree = os.path.join(tmp, "src")
    try:
        shutil.copytree(root, tree, ignore=shutil.ignore_patterns(".git", "bin", ".state"))
        code, fails, out = run_suite(tree, args.timeout)
        if code != 0:
            print(out[-4000:])
            sys.exit("mutation: the unmutated suite fails on the fake; fix that first")
        killed, broken = 0, []
        for i, m in enumerate(mutants, 1):
            path = os.path.join(tree, m["file"])
            orig = open(path, encoding="utf-8").read()
            old, new = "\n".join(m["old"]) + "\n", "\n".join(m["new"]) + "\n"
            n = orig.count(old)
            if n != 1:
                broken.append(m["name"])
                print(f"[{i:2}/{len(mutants)}] NOT APPLICABLE  {m['name']}: original lines found {n} times in {m['file']}")
                continue
            open(path, "w", encoding="utf-8").write(orig.replace(old, new))
            began = time.time()
            try:
                code, fails, out = run_suite(tree, args.timeout)
            finally:
                open(path, "w", encoding="utf-8").write(orig)
            took = time.time() - began
            if code != 0 and ("[build failed]" in out or "[setup failed]" in out):
                broken.append(m["name"])
                print(f"[{i:2}/{len(mutants)}] INVALID   {m['name']}: the mutant does not compile")
                continue
            if code != 0:
                killed += 1
                why = ", ".join(sorted(set(fails))[:3]) or "suite failed or hung"
                print(f"[{i:2}/{len(mutants)}] KILLED    {m['name']}  ({took:.0f}s; {why})")
            else:
                print(f"[{i:2}/{len(mutants)}] SURVIVED  {m['name']}  ({took:.0f}s)")
        total = len(mutants) - len(broken)
        score = 100.0 * killed / total if total else 0.0
        print(f"mutation score: {killed}/{total} killed = {score:.1f}% (minimum {args.min:.0f}%)")
        if broken:
            print(f"mutants that no longer apply or do not compile (update mutation/mutants.txt): {len(broken)}")
        sys.exit(0 if score >= args.min and not broken else 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
