#!/usr/bin/env bash
# `make demo`: generate a synthetic shop and run the whole pipeline on it with spark-submit, locally.
# Each job's full log goes to warehouse/_logs/<job>.log; this prints one line per job and a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DATE=${DEMO_DATE:-2024-03-31}
DAYS=${DEMO_DAYS:-28}
FIRST=$(date -u -d "$DATE - $((DAYS - 1)) days" +%F)
# Rule trends compare the rules of DATE with those of a week before, each mined on RULE_WINDOW days.
WEEK_BEFORE=$(date -u -d "$DATE - 7 days" +%F)
RULE_WINDOW=${DEMO_RULE_WINDOW:-21}
LOGS=warehouse/_logs
mkdir -p "$LOGS"
# Delta's jars from `make setup` must be on the driver's classpath when spark-submit starts it
# (conf/env/local.toml names them too, for sessions Python starts itself).
JARS=$(ls jars/spark/*.jar 2>/dev/null | paste -sd, -)
[[ -n "$JARS" ]] || { echo "no Delta jars in jars/spark/: run \`make setup\`"; exit 1; }

step() {
  local job=$1; shift
  local started=$SECONDS
  printf '%-10s ' "$job"
  if "$BIN/spark-submit" --driver-memory 4g --driver-java-options -Xss32m --jars "$JARS" "jobs/$job.py" --env local "$@" >"$LOGS/$job.log" 2>&1; then
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
# The demo makes a random key per demo warehouse (kept beside it, readable only by you): no key is
# ever written in the repository, and re-runs on the same warehouse keep the same pseudonyms.
KEY=warehouse/_secrets/pseudonym.key
if [[ ! -s "$KEY" ]]; then
  mkdir -p "$(dirname "$KEY")" && (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_hex(32))' >"$KEY")
fi
step ingest --from "$FIRST" --to "$DATE" --set secret_file="$KEY"
step embed --date "$DATE"
step fpgrowth --date "$WEEK_BEFORE" --set window_days="$RULE_WINDOW"
step fpgrowth --date "$DATE" --set window_days="$RULE_WINDOW"
step paths --date "$DATE"
# evaluate before als closes the tuning loop: als serves the parameters evaluate selected (tuned_parameters).
step evaluate --date "$DATE"
step als --date "$DATE"
step graph --date "$DATE"
step summary --date "$DATE" --set report_file="warehouse/_reports/summary-$DATE.txt"
step report --date "$DATE"
cat "warehouse/_reports/summary-$DATE.txt"
echo
echo "Similar products by text (jobs/embed.py):"
grep -o 'similar by text: .*' "$LOGS/embed.log" | head -2 | sed 's/^/  /'
echo "Top purchase paths (jobs/paths.py):"
grep -o "'top_paths': \[[^]]*\]" "$LOGS/paths.log" | tail -1 | cut -c1-400 | sed 's/^/  /'
echo "The product graph's three strongest bridges (jobs/graph.py):"
grep -A3 'the three strongest bridges' "$LOGS/graph.log" | tail -3
# Which Delta writer committed the tables (the log's engineInfo: delta-spark writes "Delta-Lake/<v>").
engine=$(grep -ho '"engineInfo":"[^"]*"' warehouse/events/_delta_log/*.json | sort -u | cut -d'"' -f4 | tr '\n' ' ')
echo "tables written with: ${engine:-delta-rs (embedded engine)}"
echo "report: $(pwd)/warehouse/_reports/report-$DATE.html ($(du -k "warehouse/_reports/report-$DATE.html" | cut -f1) KiB; open it in a browser, no network needed)"
