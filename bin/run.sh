#!/usr/bin/env bash
# exercism's test-runner interface: bin/run.sh SLUG INPUT_DIR OUTPUT_DIR
#
# Grades the learner's flow.py in INPUT_DIR (at its top, or in starter-code/ of a copy of
# the kit) and writes OUTPUT_DIR/results.json in the test-runner format, version 3 (the
# grader's --json). The kit is one exercise, so SLUG only names it. As the interface
# asks, the exit status is 0 whenever results.json was written, whatever the grade;
# PYTHON names the interpreter the kit is installed in (python3 by default).
set -uo pipefail
if [ "$#" -ne 3 ]; then
    echo "usage: bin/run.sh SLUG INPUT_DIR OUTPUT_DIR" >&2
    exit 2
fi
slug=$1
input=$(cd "$2" && pwd) || exit 2
mkdir -p "$3" && output=$(cd "$3" && pwd) || exit 2
python=${PYTHON:-python3}
cd "$(dirname "$0")/.." || exit 2

echo "$slug: grading $input"
target=$("$python" -m chatkit.grading.submissions "$input") || exit 2
rm -f "$output/results.json"
"$python" grader.py --target "$target" --quiet --json "$output/results.json"
status=$?
if [ -f "$output/results.json" ] && [ "$status" -le 2 ]; then
    exit 0
fi
exit "$status"
