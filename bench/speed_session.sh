#!/usr/bin/env bash
# Classify's before/after measurements in one go (docs/speed.md "Classify at the speed of a
# pen", docs/deploying.md "Through the real server"), on a quiet machine, every step
# bounded in time, its output in OUTDIR/<step>.txt (and .json):
#   bash bench/speed_session.sh OUTDIR [part ...]   parts: parts light load light2 load2
#                                                   (default: parts light load)
#     parts  where a stroke's time goes, both checkouts side by side (bench.stroke_parts)
#     light  1 and 5 visitors plus 2 Chromium tabs drawing: the browser's end to end
#            (bench.serverload --browsers), before, then after
#     load   5-80 visitors with the trainers' runs training through each level (in the
#            app's own worker), before, then after
#     light2, load2  the same with the code after only, served by two app processes behind
#            the sticky nginx of docs/deploying.md (--servers 2 --proxy)
# DRY_RUN=1 checks the set-up and prints the steps without running them.
# The code before is the checkout $BEFORE (default /work/wt-before); the code after is
# this one. Both are served by this checkout's benchmarks (--app-root), with the same
# Python ($PYTHON, default /work/main/.venv/bin/python, which must have the packages of
# both: streamlit-drawable-canvas for the code before), data ($MNIST_STUDIO_DATA) and
# shipped weights.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: bash bench/speed_session.sh OUTDIR [parts|light|load ...]}
shift
parts="${*:-parts light load}"
before=${BEFORE:-/work/wt-before}
py=${PYTHON:-/work/main/.venv/bin/python}
export MNIST_STUDIO_DATA=${MNIST_STUDIO_DATA:-/work/shared/data} PYTHONUNBUFFERED=1
mkdir -p "$out" && out=$(cd "$out" && pwd)
cd "$here" || exit 1

# Each step's expected and longest time, seconds. Expected: a fresh server's start and
# first script run (torch, the model) take 15-25 s; a serverload level is that, its 45 s of
# visitors, the replies still due and the runs' end (the earlier 5-level run took 7 min);
# a stroke_parts server is that start and 9 strokes of 2-3 s (each cleared and settled).
# The bound is about 1.6x: a step past it is interrupted (SIGINT, so that the benchmark's
# servers are stopped by their own clean-up), and what it printed so far stays.
declare -A expect=([parts]=360 [light]=180 [load]=480 [light2]=200 [load2]=520)
declare -A limit=([parts]=600 [light]=300 [load]=780 [light2]=330 [load2]=840)
total=0; bound=0
for part in $parts; do
  case $part in
    parts|light2|load2) n=1 ;;
    light|load) n=2 ;;
    *) echo "unknown part '$part' (parts, light, load, light2, load2)"; exit 2 ;;
  esac
  total=$((total + n * expect[$part])); bound=$((bound + n * limit[$part]))
done
echo "speed session: $parts; expected about $((total / 60)) min (each step bounded: at most $((bound / 60)) min)"
echo "before: $before; after: $here; output: $out"

# What the machine is and how quiet, and which commits are measured.
{
  date -Is; uptime; nproc; lscpu | grep -E "Model name|^CPU\(s\)"; free -m
  echo "before: $(git -C "$before" rev-parse --short HEAD) $(git -C "$before" log -1 --format=%s | cut -c1-80)"
  echo "after:  $(git -C "$here" rev-parse --short HEAD) $(git -C "$here" log -1 --format=%s | cut -c1-80)"
  git -C "$here" status --short | head -5
} > "$out/machine.txt" 2>&1
cat "$out/machine.txt"
problems=""
[ -d "$before/.git" ] || [ -f "$before/.git" ] || problems+=" no checkout at $before;"
[ -f "$MNIST_STUDIO_DATA/MNIST/raw/t10k-labels-idx1-ubyte" ] || problems+=" no MNIST under $MNIST_STUDIO_DATA;"
[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM:-}" ] || problems+=" no /usr/bin/chromium;"
case " $parts " in *2\ *) command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] \
  || problems+=" no nginx (light2, load2);" ;; esac
"$py" -c "import importlib.util as u; assert u.find_spec('streamlit_drawable_canvas')" 2>/dev/null \
  || problems+=" $py lacks streamlit-drawable-canvas (the code before needs it);"
if [ -n "$problems" ]; then echo "cannot start:$problems"; exit 1; fi
load1=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load1" 'BEGIN { exit !(l > 1.0) }' && echo "warning: load average $load1: not a quiet machine"

run() {  # run NAME PART CMD...: one step, bounded, its output in $out/NAME.txt
  local name=$1 part=$2; shift 2
  if [ -n "${DRY_RUN:-}" ]; then echo "would run ($name, at most ${limit[$part]} s): $*"; return; fi
  echo "$(date +%T) $name (expected ~$((expect[$part] / 60)) min, at most $((limit[$part] / 60)) min)"
  { echo "\$ $*"; echo "load $(cut -d' ' -f1-3 /proc/loadavg)"; } > "$out/$name.txt"
  timeout -s INT -k 60 "${limit[$part]}" "$@" >> "$out/$name.txt" 2>&1
  local rc=$?
  echo "exit $rc$([ $rc = 124 ] && echo ' (past its bound: interrupted)')" >> "$out/$name.txt"
  echo "$(date +%T) $name: exit $rc"
}

for part in $parts; do
  case $part in
    parts)
      run stroke-parts parts "$py" -m bench.stroke_parts --app-root "$before" "$here" \
        --rounds 3 --strokes 8 --json "$out/stroke-parts.json" ;;
    light)
      for side in before after; do
        root=$before; [ $side = after ] && root=$here
        run "light-$side" light "$py" -m bench.serverload --visitors 1 5 --seconds 45 \
          --browsers 2 --app-root "$root" --json "$out/light-$side.json"
      done ;;
    load)
      # --train-epochs 100: each trainer's run lasts the whole level (ffnn-small trains an
      # epoch in 1-3 s) and is stopped at its end, so a training run goes on throughout.
      for side in before after; do
        root=$before; [ $side = after ] && root=$here
        run "load-$side" load "$py" -m bench.serverload --visitors 5 10 20 40 80 --seconds 45 \
          --browsers 2 --train-epochs 100 --app-root "$root" --json "$out/load-$side.json"
      done ;;
    light2)
      run light-after-2 light2 "$py" -m bench.serverload --visitors 1 5 --seconds 45 \
        --browsers 2 --servers 2 --proxy --json "$out/light-after-2.json" ;;
    load2)
      run load-after-2 load2 "$py" -m bench.serverload --visitors 5 10 20 40 80 --seconds 45 \
        --browsers 2 --train-epochs 100 --servers 2 --proxy --json "$out/load-after-2.json" ;;
  esac
done
[ -n "${DRY_RUN:-}" ] && exit 0
echo "done $(date +%T); the lines to read:"
grep -h -E "visitors, |^load average|end to end|p95 end to end|^exit" "$out"/*.txt || true
