#!/usr/bin/env bash
# `make demo`: generate a synthetic shop and run the whole pipeline on it with spark-submit, locally.
# Each job's full log goes to warehouse/_logs/<job>.log; this prints one line per job and a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DATE=${DEMO_DATE:-2024-03-31}
DAYS=${DEMO_DAYS:-28}
FIRST=$(date -u -d "$DATE - $((DAYS - 1)) days" +%F)
LOGS=warehouse/_logs
mkdir -p "$LOGS"

step() {
  local job=$1; shift
  local started=$SECONDS
  printf '%-10s ' "$job"
  if "$BIN/spark-submit" --driver-memory 4g --driver-java-options -Xss32m "jobs/$job.py" --env local "$@" >"$LOGS/$job.log" 2>&1; then
    printf 'ok %5ss  %s\n' "$((SECONDS - started))" "$(grep -o ' ok in [0-9.]*s: .*' "$LOGS/$job.log" | tail -1 | cut -d: -f2- | cut -c1-110)"
  else
    printf 'FAILED after %ss; last lines of %s:\n' "$((SECONDS - started))" "$LOGS/$job.log"
    tail -n 30 "$LOGS/$job.log"
    exit 1
  fi
}

echo "cobuy demo: a synthetic shop of $DAYS days ending $DATE (logs in $LOGS/)"
step generate --date "$DATE" --set days="$DAYS"
# User ids are pseudonymised with a keyed HMAC; a real deployment keeps the key in a secret store.
export COBUY_PSEUDONYM_SECRET=${COBUY_PSEUDONYM_SECRET:-cobuy-demo-secret-not-for-production}
step ingest --from "$FIRST" --to "$DATE"
step fpgrowth --date "$DATE"
step paths --date "$DATE"
step als --date "$DATE"
step evaluate --date "$DATE"
step summary --date "$DATE" --set report_file="warehouse/_reports/summary-$DATE.txt"
cat "warehouse/_reports/summary-$DATE.txt"
