#!/usr/bin/env python3
"""check_config_docs.py - the configuration tables in the READMEs match the daemons.

Every daemon prints its environment-variable table with --config-table. The READMEs carry
that table between markers:

    <!-- config-table:identity -->
    ...generated...
    <!-- /config-table:identity -->

This check fails when a marked table differs from what the binary prints (a variable added,
renamed or re-defaulted without updating the docs). `--write` regenerates the marked blocks.

Usage: check_config_docs.py [BIN_DIR] [--write]     (BIN_DIR default: $FR_BIN_DIR or build/san/bin)
Ends with the line "N passed, M failed"; exit 1 on failure.
"""
import os
import re
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCS = {
    "identity": ["README.md", "services/identity/README.md"],
    "gateway": ["README.md", "gateway/README.md"],
    "billing": ["README.md", "services/billing/README.md"],
}
BLOCK = re.compile(r"(<!-- config-table:(\w+) -->\n)(.*?)(<!-- /config-table:\2 -->)", re.S)


def table_of(bindir, daemon):
    out = subprocess.run([os.path.join(bindir, daemon), "--config-table"], capture_output=True,
                         text=True, timeout=30, check=True)
    return out.stdout.strip() + "\n"


def main(argv):
    write = "--write" in argv
    args = [a for a in argv if a != "--write"]
    bindir = args[0] if args else os.environ.get("FR_BIN_DIR", os.path.join(REPO, "build/san/bin"))
    passed = failed = 0
    tables = {}
    for daemon in DOCS:
        try:
            tables[daemon] = table_of(bindir, daemon)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"FAIL {daemon} --config-table: {e}")
            failed += 1
    files = sorted({f for fs in DOCS.values() for f in fs})
    for rel in files:
        path = os.path.join(REPO, rel)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        seen = set()

        def repl(m):
            nonlocal passed, failed
            daemon = m.group(2)
            seen.add(daemon)
            want = tables.get(daemon)
            if want is None:
                return m.group(0)
            if m.group(3) == want:
                print(f"PASS {rel}: config table of {daemon} matches the binary")
                passed += 1
            elif write:
                print(f"WROTE {rel}: config table of {daemon}")
                passed += 1
            else:
                print(f"FAIL {rel}: config table of {daemon} differs from `{daemon} --config-table`"
                      f" (run: python3 tests/contract/check_config_docs.py {bindir} --write)")
                failed += 1
            return m.group(1) + want + m.group(4)

        new = BLOCK.sub(repl, text)
        for daemon, fs in DOCS.items():
            if rel in fs and daemon not in seen:
                print(f"FAIL {rel}: no <!-- config-table:{daemon} --> block")
                failed += 1
        if write and new != text:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(new)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
