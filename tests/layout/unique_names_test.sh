#!/bin/sh
# One name per file: no two source files in different folders share a base name (a reader
# who meets `session.cpp` knows which one it is, and include_direction.py resolves an include
# by its path suffix). README.md and meson.build are per folder by design; corpus files and
# recorded results are data.
# usage: unique_names_test.sh SOURCE_ROOT
set -eu
dups=$(git -C "$1" ls-files --cached --others --exclude-standard | grep -Ev '(^|/)(README\.md|meson\.build)$|^fuzz/corpus/|^docs/results/' |
  xargs -n1 basename | sort | uniq -d)
if [ -n "$dups" ]; then
  for name in $dups; do
    echo "$name is in several folders:"
    git -C "$1" ls-files --cached --others --exclude-standard | grep -E "(^|/)$name\$" | sed 's/^/  /'
  done
  exit 1
fi
echo "$(git -C "$1" ls-files --cached --others --exclude-standard | wc -l) files, no base name twice"
