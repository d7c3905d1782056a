"""Airflow DAG: reckon's daily run, then its retraining job (reckon 0.1.0, 2026-11-30).

`reckon retrain` exits 0 when a challenger was promoted, 5 when a new
challenger was trained and now scores in shadow, 6 when there is nothing to do
yet (too few decisions), 1 or 2 on failure. The job is idempotent: run it every
day after the run; it promotes only on the decisions people took.
"""
import pendulum
from airflow import DAG
from airflow.exceptions import AirflowSkipException
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
import subprocess

STATE = "postgres://reckon@db.internal/reckon_state"
MODELS = "/srv/reckon/models/candidates"


def retrain(**_):
    p = subprocess.run(
        ["reckon", "retrain", "--state", STATE, "--models-dir", MODELS, "--json"],
        capture_output=True,
        text=True,
    )
    print(p.stdout, p.stderr)
    if p.returncode in (0, 5):
        return p.stdout  # promoted, or a challenger in shadow: the summary goes to XCom
    if p.returncode == 6:
        raise AirflowSkipException(p.stdout)  # waiting for decisions
    raise RuntimeError(f"reckon retrain exited {p.returncode}")


with DAG(
    "reckon_daily",
    schedule="0 19 * * 1-5",
    start_date=pendulum.datetime(2026, 11, 30, tz="Europe/Berlin"),
    catchup=False,
) as dag:
    run = BashOperator(
        task_id="reckon_run",
        bash_command=f"reckon run --input /srv/reckon/in/{{{{ ds }}}} --out /srv/reckon/out/{{{{ ds }}}} --state {STATE}",
    )
    job = PythonOperator(task_id="reckon_retrain", python_callable=retrain)
    run >> job
