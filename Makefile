# The two commands of the README: `make demo` and `make test`. Both set up .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DATE ?= 2024-03-31
DEMO_DAYS ?= 28

# Spark's Python workers must run the project's interpreter (pandas UDFs, MLlib helpers).
export PYSPARK_PYTHON := $(abspath $(BIN)/python)
export PYSPARK_DRIVER_PYTHON := $(abspath $(BIN)/python)

.PHONY: setup demo test test-unit clean package airflow-env test-deploy platforms

# Delta's jars (deploy/maven-jars.txt), resolved with Maven into jars/ (git-ignored).
JARS_STAMP := jars/maven-jars.txt

setup: $(STAMP) $(JARS_STAMP)

$(JARS_STAMP): deploy/maven-jars.txt deploy/fetch_jars.py | $(STAMP)
	@command -v mvn >/dev/null || { echo "Maven is required to fetch Delta's jars (apt-get install maven)"; exit 1; }
	$(BIN)/python deploy/fetch_jars.py

$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "Java 17 is required (apt-get install openjdk-17-jre-headless)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	DEMO_DATE=$(DEMO_DATE) DEMO_DAYS=$(DEMO_DAYS) bash deploy/demo.sh

# Every test, the Airflow and cluster proofs included (Airflow gets its own .venv-airflow first; the
# two environments install side by side: downloads and unpacking, not CPU, are most of their time).
test:
	$(MAKE) -j2 setup airflow-env
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/python -m pytest -m "not slow and not cluster and not airflow" $(PYTEST_ARGS)

# The cluster package (lib.zip for --py-files, jobs, conf, wheel, DAG): deploy/package.py.
package: setup
	$(BIN)/python deploy/package.py

# The Kubernetes SparkApplications and the Databricks job, rendered from deploy/airflow/dags/pipeline.toml:
# run after changing it (tests/test_deploy.py fails until the files are the rendering). Standard library only.
platforms:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) deploy/render_platforms.py

# Airflow lives in its own virtual environment, as in production; its DAG calls $(BIN)/spark-submit.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed-stamp
AIRFLOW_CONSTRAINTS ?= deploy/airflow/constraints-3.11.txt

airflow-env: $(AIRFLOW_STAMP)

$(AIRFLOW_STAMP): deploy/airflow/requirements.txt $(AIRFLOW_CONSTRAINTS)
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet -r deploy/airflow/requirements.txt -c $(AIRFLOW_CONSTRAINTS)
	touch $(AIRFLOW_STAMP)

# The orchestration proofs: DAG integrity and `airflow dags test` end to end, jobs on a two-worker
# Spark standalone cluster (tests/test_deploy.py, tests/test_airflow.py with tests/standalone.py).
test-deploy: setup airflow-env
	$(BIN)/python -m pytest -m "airflow or cluster" $(PYTEST_ARGS)

clean:
	rm -rf warehouse landing build dist jars *.egg-info .pytest_cache
