#!/usr/bin/env bash
# The benchmarks of two commits in one run, alternating (A B A B), so that a refactoring can
# show it changed no figure: the machine's drift falls on both sides alike.
#
#   ops/bench/before_after.sh BEFORE [AFTER] [ROUNDS]     (AFTER defaults to HEAD, ROUNDS to 2)
#   BENCH="ops/bench/chat.py --clients 10" ops/bench/before_after.sh BEFORE   (one benchmark)
#
# Each commit is checked out in a temporary worktree and run with this checkout's virtualenv
# (PYTHONPATH puts the worktree's packages first), Kafka jars and encoder. Prints each benchmark's
# output under a "== <commit> round N: <benchmark>" line.
set -euo pipefail

before=${1:?usage: before_after.sh BEFORE [AFTER] [ROUNDS]}
after=${2:-HEAD}
rounds=${3:-2}
repo=$(git rev-parse --show-toplevel)
python="$repo/.venv/bin/python"
scratch=$(mktemp -d /tmp/pdfchat-before-after-XXXXXX)
trap 'for tree in "$scratch"/*/; do git -C "$repo" worktree remove --force "$tree"; done; rm -rf "$scratch"' EXIT

for rev in "$before" "$after"; do
  tree="$scratch/$(git -C "$repo" rev-parse --short "$rev")"
  git -C "$repo" worktree add --detach --quiet "$tree" "$rev"
  ln -s "$repo/ops/kafka/lib" "$tree/ops/kafka/lib"
  # The re-ranker's encoder, for commits that have one (unpacked by make install, not in git).
  if [ -d "$tree/ops/models" ] && [ -d "$repo/ops/models/build" ]; then
    ln -s "$repo/ops/models/build" "$tree/ops/models/build"
  fi
done

benchmarks=(
  "ops/bench/ingest.py --docs 20 --pages 30"
  "ops/bench/chat.py --clients 10 --questions 3"
  "ops/bench/search.py --segments 20000 --queries 200"
)
if [[ -n "${BENCH:-}" ]]; then benchmarks=("$BENCH"); fi
for round in $(seq 1 "$rounds"); do
  for tree in "$scratch"/*/; do
    for benchmark in "${benchmarks[@]}"; do
      echo "== $(basename "$tree") round $round: $benchmark"
      (cd "$tree" && PYTHONPATH="$tree" $python $benchmark)
    done
  done
done
