#!/usr/bin/env bash
# fp32 vs int8 vs int8-full: full index build time and the eval figures of each, one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/quantization.md
echo "| quantize | build s | eval report |" > "$out"
echo "|---|---:|---|" >> "$out"
for q in none int8 int8-full; do
  dir=.cache/quant-$q
  start=$(date +%s.%N)
  QA_QUANTIZE=$q .venv/bin/qa index build --index "$dir" > /tmp/quant-$q.log 2>&1
  end=$(date +%s.%N)
  QA_QUANTIZE=$q .venv/bin/qa eval --index "$dir" --out "quant-$q" > /tmp/quant-eval-$q.log 2>&1
  printf '| %s | %.1f | %s |\n' "$q" "$(echo "$end - $start" | bc)" "$(tail -4 /tmp/quant-eval-$q.log | head -1)" >> "$out"
done
cat "$out"
