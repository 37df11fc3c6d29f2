#!/usr/bin/env bash
# Runs the rtp loss tests N times in a row (default 20) and counts the runs that failed; not part of CI:
# the two random-loss sessions (5% loss over the relay, the self-test at 1% loss), the link under hostile
# traffic (NACK repairs, replays), the native sender's link under loss and the keyframe through a
# bottleneck. Each run's output is kept in OUT (default a fresh temporary folder), with the load beside it.
# STRESS_RECEIVER=javascript runs both ends of the sessions in JavaScript, the peer's receiver with its
# decision trace (GPU_BRIDGE_RTP_TRACE, kept in OUT); the default is the native data plane at both ends
# where it is built, which has no trace.
#   [STRESS_RECEIVER=native|javascript] scripts/stress-loss-tests.sh [N] [OUT]
set -u
cd "$(dirname "$0")/.."
runs=${1:-20}
out=${2:-$(mktemp -d /tmp/stress-loss.XXXXXX)}
mkdir -p "$out"
pattern='rtp: (over a link with 5% loss and 40 ms delay|session selftest through a relay at 15 ms and 1% loss)'

node scripts/build.mjs >/dev/null || exit 1
failed=0
for i in $(seq 1 "$runs"); do
  trace=""
  [ "${STRESS_RECEIVER:-native}" = javascript ] && trace="$out/trace-$i.jsonl"
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  if GPU_BRIDGE_SKIP_BUILD=1 GPU_BRIDGE_RTP_TRACE="$trace" npx vitest run --project integration \
      tests/integration/sessions-pipeline.test.ts -t "$pattern" >"$out/run-$i.log" 2>&1 \
      && grep -q 'Tests .*2 passed' "$out/run-$i.log" \
      && GPU_BRIDGE_RTP_TRACE="$trace" npx vitest run --project unit \
      tests/unit/rtp/rtp-link-hostile.test.ts tests/unit/rtp/rtp-sender-native.test.ts tests/unit/rtp/pacing-bottleneck.test.ts >>"$out/run-$i.log" 2>&1; then
    result=pass
  else
    result=FAIL
    failed=$((failed + 1))
  fi
  if [ -n "$trace" ]; then
    lost=$(grep -c '"outcome":"\(given-up\|gap-given-up\|dropped\|undecodable\)"' "$trace" 2>/dev/null)
    echo "run $i/$runs: $result (frames given up in the trace: ${lost:-0}; load before: $load)"
  else
    echo "run $i/$runs: $result (native data plane at both ends, no trace; load before: $load)"
  fi
done
echo "$((runs - failed)) of $runs runs passed; logs and traces in $out; load now: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$failed" -eq 0 ]
