#!/usr/bin/env python3
"""Checks that imports run one way: proto <- config <- engine <- guest-shim / dataplane /
device-node <- tools (README.md, "Layout").

Every #include of a C or C++ file in a wing is resolved to the tracked file it names (relative
to the including file, else by path suffix: ferry's file names are unique across folders), and
a file may include only files of its own wing or of a lower layer. The three wings of layer 3
(guest shim, data plane, device node) do not include each other. tests/, bench/, fuzz/ and the
rest stand above all wings and are not checked.

usage: include_direction.py ROOT [--expect-violation]
  ROOT: the tree to check (git's tracked files when ROOT is a git checkout, else every file).
  --expect-violation: exit 0 only if at least one violation is found (the check's own test).
Prints each violation as FILE:LINE: WING includes PATH (WING2, a higher or sibling layer).
"""

import os
import re
import subprocess
import sys

# Wing -> layer. A file may include its own wing and any wing of a lower layer.
LAYERS = {
    "proto": 0,
    "config": 1,
    "engine": 2,
    "guest-shim": 3,
    "dataplane": 3,
    "device-node": 3,
    "tools": 4,
}
SOURCE_EXT = (".h", ".hpp", ".c", ".cc", ".cpp")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def tracked_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files"], check=True, capture_output=True,
                             text=True).stdout
        files = out.splitlines()
        if files:
            return files
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for d, _, names in os.walk(root):
        for n in names:
            files.append(os.path.relpath(os.path.join(d, n), root))
    return files


def wing(path):
    top = path.split("/", 1)[0]
    return top if top in LAYERS else None


def main():
    args = sys.argv[1:]
    expect_violation = "--expect-violation" in args
    args = [a for a in args if a != "--expect-violation"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = args[0]
    files = [f for f in tracked_files(root) if f.endswith(SOURCE_EXT)]
    known = set(files)
    by_name = {}
    for f in files:
        by_name.setdefault(os.path.basename(f), []).append(f)

    def resolve(includer, name):
        local = os.path.normpath(os.path.join(os.path.dirname(includer), name))
        if local in known:
            return [local]
        return [f for f in by_name.get(os.path.basename(name), [])
                if f == name or f.endswith("/" + name)]

    violations = []
    checked = 0
    wing_files = [f for f in files if wing(f) is not None]
    for f in wing_files:
        w = wing(f)
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                checked += 1
                for target in resolve(f, m.group(1)):
                    tw = wing(target)
                    if tw is None or tw == w:
                        continue
                    if LAYERS[tw] >= LAYERS[w]:
                        kind = "sibling" if LAYERS[tw] == LAYERS[w] else "higher"
                        violations.append(f"{f}:{lineno}: {w} includes {m.group(1)} "
                                          f"({target}: {tw}, a {kind} layer)")

    for v in violations:
        print(v)
    print(f"{checked} includes in {len(wing_files)} files checked, {len(violations)} against the "
          "order proto <- config <- engine <- guest-shim / dataplane / device-node <- tools")
    if expect_violation:
        return 0 if violations else 1
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
