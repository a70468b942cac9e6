#!/usr/bin/env bash
# cobuy on a Spark standalone cluster (client deploy mode: Spark standalone runs Python drivers
# on the submitting host). The same route the cluster test takes on 127.0.0.1.
#   SPARK_MASTER_URL=spark://spark-master:7077 deploy/standalone/submit-standalone.sh JOB YYYY-MM-DD [job args...]
# Tables: conf/env/cluster.toml (object storage, Delta's own engine via --packages).
# SUBMIT_OPTS adds options of deploy/submit.sh, e.g. SUBMIT_OPTS=--dry-run to print the command.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
job="${1:?usage: submit-standalone.sh JOB YYYY-MM-DD [job args]}"; date="${2:?missing date}"; shift 2
# ingest's HMAC key: the driver runs here (client mode) and reads COBUY_PSEUDONYM_SECRET from this
# environment, or the file named by COBUY_PSEUDONYM_SECRET_FILE (e.g. a mounted secret).
secret_args=()
if [[ "$job" == ingest && -z "${COBUY_PSEUDONYM_SECRET:-}" ]]; then
  secret_args=(--set "secret_file=${COBUY_PSEUDONYM_SECRET_FILE:?ingest needs COBUY_PSEUDONYM_SECRET or COBUY_PSEUDONYM_SECRET_FILE}")
fi
# shellcheck disable=SC2086
exec "$here/../submit.sh" ${SUBMIT_OPTS:-} \
  --master "${SPARK_MASTER_URL:?set SPARK_MASTER_URL=spark://host:7077}" --deploy-mode client \
  --conf spark.jars.packages=io.delta:delta-spark_4.2_2.13:4.4.0,org.apache.hadoop:hadoop-aws:3.5.0 \
  --conf spark.driver.memory=4g \
  --conf spark.executor.cores=2 --conf spark.executor.memory=8g --conf spark.cores.max=16 \
  "$job" --env cluster --date "$date" "${secret_args[@]}" "$@"
