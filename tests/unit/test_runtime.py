import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_started_instance_freezes_its_heap_and_collects_young_objects_less_often():
    # In a child process: the tuning is process-wide and must not leak into the test run.
    check = (
        "import gc\n"
        "from ingest import clients\n"
        "from ingest.runtime import GC_YOUNG_THRESHOLD\n"
        "assert gc.get_threshold()[0] == 700 and gc.get_freeze_count() == 0\n"
        "clients.pipeline()\n"
        "assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD, gc.get_threshold()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}", "PSEUDONYMISATION_KEY": "test-key-0123456789",
           "GCP_PROJECT": "test-project", "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9",  # never called
           "BIGQUERY_GRPC_EMULATOR_HOST": "127.0.0.1:9"}
    result = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
