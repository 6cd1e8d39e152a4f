#!/usr/bin/env bash
# Runs the command lines of docs/partitions.md as each CI engine would: for every index of
# a 3-way split, the engine's "grade one slice" lines (taken from the doc, not copied)
# under the variables that engine sets, then its "merge the slices" lines; checks that the
# merged summary lists the whole class and equals, byte for byte, the class graded at once.
#
# Run by `cargo test` (tests/integration/partitions.rs), or alone after `cargo build`:
#   tests/partitions.sh      # LABRUN=path/to/labrun chooses the binary, KEEP=1 keeps the files
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
doc=$repo/docs/partitions.md
labrun=${LABRUN:-$repo/target/debug/labrun}

fail() {
  echo "partitions.sh: $*" >&2
  exit 1
}

[ -x "$labrun" ] || fail "no labrun at $labrun (cargo build, or set LABRUN)"
work=$(mktemp -d "${TMPDIR:-/tmp}/labrun-partitions.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
mkdir "$work/bin"
ln -s "$labrun" "$work/bin/labrun"
PATH="$work/bin:$PATH"

# The lines of ENGINE's fenced blocks (each one right after `<!-- partitions.sh: ENGINE -->`)
# from the line holding MARKER to the end of its block or of its indentation, dedented
# (a YAML literal block is the shell script it holds).
lines() {
  awk -v engine="$1" -v marker="$2" '
    $0 == "<!-- partitions.sh: " engine " -->" { armed = 1; next }
    /^```/ {
      if (inside) { inside = 0; taking = 0 } else if (armed) { inside = 1 }
      armed = 0
      next
    }
    !inside { next }
    taking {
      if ($0 ~ /^ *$/) { print ""; next }
      match($0, /^ */)
      if (RLENGTH < indent) { taking = 0; next }
      print substr($0, indent + 1)
      next
    }
    index($0, marker) {
      match($0, /^ */)
      indent = RLENGTH
      taking = 1
      print substr($0, indent + 1)
    }
  ' "$doc"
}

# The class: alice passes, bob's file does not compile, dave's resolver forgets the
# aliases, erin hands in nothing. hash:K/3 puts bob and dave in slice 1, nobody in 2
# (an empty slice), alice and erin in 3.
mkdir -p "$work/courses" "$work/submissions"/{alice,bob,dave,erin}
cat >"$work/courses/tp-sockets.toml" <<EOF
# The test's course: the lab's scenarios, one fast direction.
scenarios = "$repo/scenarios"

[[grade]]
scenario = "resolve_name"
role = "resolver"
file = "resolve_name.c"
EOF
cp "$repo/tests/fixtures/resolver/resolve_name.c" "$work/submissions/alice/"
printf 'int main( {\n' >"$work/submissions/bob/resolve_name.c"
cp "$repo/tests/fixtures/resolver/resolve_name_no_aliases.c" \
  "$work/submissions/dave/resolve_name.c"
class="alice bob dave erin"

# A machine of its own: a folder with the course and the submissions, as a checkout.
machine() {
  mkdir "$work/$1"
  ln -s ../courses ../submissions "$work/$1/"
}

# Only what a job would have: no variable of this shell or of another engine.
base_env=(env -i "PATH=$PATH" "HOME=${HOME:-/root}" "TMPDIR=${TMPDIR:-/tmp}" NO_COLOR=1)
[ -n "${LABRUN_UID_RANGE:-}" ] && base_env+=("LABRUN_UID_RANGE=$LABRUN_UID_RANGE")

# The same environment as the jobs': the compiler's messages follow the locale.
machine at-once
(cd "$work/at-once" &&
  "${base_env[@]}" labrun grade courses/tp-sockets.toml submissions/* --out grades) ||
  [ $? -eq 1 ] || fail "the class graded at once failed"

# ENGINE SHELL: runs the engine's merge lines with SHELL in its folder, then compares.
merge_and_check() {
  local engine=$1 shell=$2 merge
  merge=$(lines "$engine" "# merge the slices")
  [ -n "$merge" ] || fail "$engine: no '# merge the slices' lines in $doc"
  (cd "$work/$engine" && "${base_env[@]}" "$shell" -c "$merge") ||
    fail "$engine: the merge failed"
  local file
  for file in summary.csv summary.json index.html; do
    cmp "$work/$engine/grades/$file" "$work/at-once/grades/$file" ||
      fail "$engine: the merged $file differs from the class graded at once"
  done
  local merged
  merged=$(tail -n +2 "$work/$engine/grades/summary.csv" | cut -d, -f1 | xargs)
  [ "$merged" = "$class" ] || fail "$engine: the merged summary lists '$merged', not '$class'"
  echo "ok: $engine: 3 slices merged, $merged"
}

# ENGINE VARIABLE...: the slice lines, which must use each of the engine's VARIABLEs.
slice_lines() {
  local engine=$1 script variable
  shift
  script=$(lines "$engine" "# grade one slice")
  [ -n "$script" ] || fail "$engine: no '# grade one slice' lines in $doc"
  for variable in "$@"; do
    [[ $script == *"$variable"* ]] || fail "$engine: the slice lines do not use $variable"
  done
  printf '%s\n' "$script"
}

# GitHub Actions puts the value of `${{ strategy.job-index }}` (0-based) and
# `${{ strategy.job-total }}` in the script's text, then runs it with `bash -e`.
machine github
script=$(slice_lines github '${{ strategy.job-index }}' '${{ strategy.job-total }}')
for index in 0 1 2; do
  job=${script//'${{ strategy.job-index }}'/$index}
  job=${job//'${{ strategy.job-total }}'/3}
  [[ $job != *'${{'* ]] || fail "github: an expression left in: $job"
  (cd "$work/github" && "${base_env[@]}" bash -e -c "$job") || fail "github: job $index failed"
done
merge_and_check github bash

# GitLab CI `parallel: 3`: CI_NODE_INDEX from 1, CI_NODE_TOTAL; the script with bash -e.
machine gitlab
script=$(slice_lines gitlab CI_NODE_INDEX CI_NODE_TOTAL)
for index in 1 2 3; do
  (cd "$work/gitlab" &&
    "${base_env[@]}" CI_NODE_INDEX=$index CI_NODE_TOTAL=3 bash -e -c "$script") ||
    fail "gitlab: job $index failed"
done
merge_and_check gitlab bash

# A Kubernetes Indexed Job: JOB_COMPLETION_INDEX from 0, no total; the container's
# command is `sh -c`.
machine kubernetes
script=$(slice_lines kubernetes JOB_COMPLETION_INDEX)
for index in 0 1 2; do
  (cd "$work/kubernetes" && "${base_env[@]}" JOB_COMPLETION_INDEX=$index sh -c "$script") ||
    fail "kubernetes: pod $index failed"
done
merge_and_check kubernetes sh

# A Slurm job array, --array=1-3: SLURM_ARRAY_TASK_ID from 1, SLURM_ARRAY_TASK_COUNT;
# sbatch runs the script with its #!/bin/bash.
machine slurm
script=$(slice_lines slurm SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT)
for index in 1 2 3; do
  (cd "$work/slurm" &&
    "${base_env[@]}" SLURM_ARRAY_JOB_ID=1000 SLURM_JOB_ID=$((1000 + index)) \
      SLURM_ARRAY_TASK_ID=$index SLURM_ARRAY_TASK_COUNT=3 \
      SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=3 bash -c "$script") ||
    fail "slurm: task $index failed"
done
merge_and_check slurm bash
