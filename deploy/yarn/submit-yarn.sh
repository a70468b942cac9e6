#!/usr/bin/env bash
# cobuy on YARN (cluster deploy mode: the driver runs in the application master).
#   deploy/yarn/submit-yarn.sh JOB YYYY-MM-DD [job args...]
# Needs HADOOP_CONF_DIR / YARN_CONF_DIR of the cluster; the package from `make package`
# (COBUY_PACKAGE to use another one). Tables: conf/env/cluster.toml (object storage, Delta's own engine).
# SUBMIT_OPTS adds options of deploy/submit.sh, e.g. SUBMIT_OPTS=--dry-run to print the command.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
job="${1:?usage: submit-yarn.sh JOB YYYY-MM-DD [job args]}"; date="${2:?missing date}"; shift 2
# ingest's HMAC key: a file (local or hdfs://, readable only by the submitting user) that YARN
# localises beside the driver as cobuy-pseudonym.secret; never on the command line or in conf.
secret_conf=(); secret_args=()
if [[ "$job" == ingest ]]; then
  secret="${COBUY_PSEUDONYM_SECRET_FILE:?ingest on YARN needs COBUY_PSEUDONYM_SECRET_FILE: a file holding the pseudonym key}"
  secret_conf=(--conf "spark.yarn.dist.files=$secret#cobuy-pseudonym.secret")
  secret_args=(--set secret_file=cobuy-pseudonym.secret)
fi
# shellcheck disable=SC2086
exec "$here/../submit.sh" ${SUBMIT_OPTS:-} \
  --master yarn --deploy-mode cluster "${secret_conf[@]}" \
  --conf spark.jars.packages=io.delta:delta-spark_4.2_2.13:4.4.0,org.apache.hadoop:hadoop-aws:3.5.0 \
  --conf spark.yarn.queue="${YARN_QUEUE:-default}" \
  --conf spark.yarn.maxAppAttempts=1 \
  --conf spark.yarn.appMasterEnv.COBUY_CONF_DIR=cobuy-conf \
  --conf spark.driver.memory=4g \
  --conf spark.executor.instances=4 --conf spark.executor.cores=2 --conf spark.executor.memory=8g \
  --conf spark.dynamicAllocation.enabled=false \
  "$job" --env cluster --date "$date" "${secret_args[@]}" "$@"
