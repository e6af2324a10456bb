#!/usr/bin/env bash
# Compares two builds of Braid on one benchmark, alternating them so that both see the same minutes
# of a machine whose speed drifts (docs/PERFORMANCE.md: "Machine speed varies").
#
#   scripts/ab.sh [--rounds N] [--runs-like REGEX] [--cpu-like REGEX] BASE -- BENCH ARGS...
#
# BASE is a commit (or anything `git rev-parse` takes); the current checkout is the other build. The
# script checks BASE out into a worktree beside this one (../braid-ab-<commit>, kept for the next
# comparison), builds both with Maven offline if their launcher says they are stale, then runs
# `./braid bench BENCH ARGS...` N times in each (default 3), alternating, and takes from every output
# line matching the --runs-like REGEX (default: "run [0-9]+:") the first "<n> ms" as the run's wall
# time and, as its CPU time, the last number in the first match of the --cpu-like REGEX (default:
# "<n> ms of CPU", the first such figure of the line). It prints each round as it goes and the medians at the end.
# `git worktree remove ../braid-ab-<commit>` drops the base's worktree once it is no longer needed.
#
# Examples (the commands behind docs/PERFORMANCE.md's alternating figures):
#   scripts/ab.sh 9a81865 -- views --engines braid --runs 5 --reads 100000 --runs-like "braid batch run"
#   scripts/ab.sh --runs-like "braid speed layer run" 3749cc2 -- views --engines braid --runs 5 --reads 100000
#   scripts/ab.sh --runs-like "braid batch run" f85cf06 -- nexmark --events 10000000 --query q17 \
#       --engines braid --modes batch --runs 5 --warmup 1
#   the changes feed's first pass after each replay, the second CPU figure of a speed run's line:
#   scripts/ab.sh --runs-like "braid speed run" --cpu-like "first pass \(not measured\) [0-9,]+ ms of CPU" \
#       409295a -- nexmark --events 10000000 --query q17 --engines braid --modes speed --runs 4 --warmup 1
set -euo pipefail

die() { echo "ab.sh: $*" >&2; exit 2; }

rounds=3
pattern='run [0-9]+:'
cpu_pattern='[0-9][0-9,]* ms of CPU'
base=''
while (( $# > 0 )); do
  case "$1" in
    --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
    --runs-like) pattern="${2:?--runs-like needs a regular expression}"; shift 2 ;;
    --cpu-like) cpu_pattern="${2:?--cpu-like needs a regular expression}"; shift 2 ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) [[ -z "$base" ]] || die "one BASE commit only (got '$base' and '$1')"; base="$1"; shift ;;
  esac
done
[[ -n "$base" ]] || die "usage: scripts/ab.sh [--rounds N] [--runs-like REGEX] [--cpu-like REGEX] BASE -- BENCH ARGS..."
(( $# > 0 )) || die "no benchmark given after --"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive number, not '$rounds'"

# Options after "--" that belong to this script (as in the examples above) are taken out.
bench=()
while (( $# > 0 )); do
  case "$1" in
    --runs-like) pattern="${2:?--runs-like needs a regular expression}"; shift 2 ;;
    --cpu-like) cpu_pattern="${2:?--cpu-like needs a regular expression}"; shift 2 ;;
    --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
    *) bench+=("$1"); shift ;;
  esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
commit="$(git -C "$here" rev-parse --verify --quiet "$base^{commit}")" || die "'$base' is not a commit of $here"
short="${commit:0:7}"
other="$(dirname "$here")/braid-ab-$short"
if [[ ! -d "$other" ]]; then
  echo "ab.sh: checking $short out into $other"
  git -C "$here" worktree add --detach "$other" "$commit" >/dev/null
fi

builds=("$other" "$here")
names=("$short" "current")
results=()
for i in 0 1; do
  results[i]="$(mktemp)"
done
trap 'rm -f "${results[@]}"' EXIT

for (( r = 1; r <= rounds; r++ )); do
  for i in 0 1; do
    out="$(cd "${builds[i]}" && ./braid bench "${bench[@]}" 2>&1)" || {
      echo "$out" | tail -20 >&2
      die "the benchmark failed in ${builds[i]}"
    }
    lines="$(grep -E -- "$pattern" <<<"$out" || true)"
    [[ -n "$lines" ]] || die "no output line of ${names[i]} matches '$pattern'; pick the run lines with --runs-like"
    while IFS= read -r line; do
      wall="$(grep -oE '[0-9][0-9,]* ms' <<<"$line" | head -1 | tr -d ', ms')"
      cpu="$(grep -oE -- "$cpu_pattern" <<<"$line" | head -1 | grep -oE '[0-9][0-9,]*' | tail -1 | tr -d ,)" || true
      echo "${wall:--} ${cpu:--}" >>"${results[i]}"
    done <<<"$lines"
    printf '%s round %d %-8s load %s  wall/CPU ms: %s\n' "$(date +%T)" "$r" "${names[i]}" \
      "$(cut -d' ' -f1 /proc/loadavg)" "$(tail -n "$(wc -l <<<"$lines")" "${results[i]}" | tr ' ' / | tr '\n' ' ')"
  done
done

median() { grep -v '^-$' | sort -n | awk '{a[NR] = $1} END {if (NR == 0) print "-"; else print a[int((NR + 1) / 2)]}'; }
for i in 0 1; do
  printf '%-8s runs %3d  wall median %6s ms  CPU median %6s ms\n' "${names[i]}" "$(wc -l <"${results[i]}")" \
    "$(cut -d' ' -f1 "${results[i]}" | median)" "$(cut -d' ' -f2 "${results[i]}" | median)"
done
