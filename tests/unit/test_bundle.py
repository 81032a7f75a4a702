"""The deployed folder finds its own schemas: run the bundle's code away from the checkout."""

import subprocess
import sys
from pathlib import Path

from tools.bundle import build

EXAMPLE = Path(__file__).resolve().parents[2] / "schemas/pro_event/examples/ga4_export.pass.json"

PROBE = """
import sys
from datetime import datetime, timezone
from ingest.config import Settings
from ingest.decode import decode_line
from ingest.pipeline import prepare
from ingest.records import SourceRef
settings = Settings.from_env({})
assert str(settings.schemas_dir).startswith(sys.argv[1]), settings.schemas_dir
record = decode_line(open(sys.argv[2], "rb").read(), SourceRef(kind="gcs", bucket="b", object="o", generation=1), 10**6)
prepared = prepare("pro_event", [record], settings, received_at=datetime.now(timezone.utc))
assert len(prepared.rows) == 1, prepared
import main
print("ok", settings.schemas_dir)
"""


def test_bundle_is_self_contained(tmp_path):
    out = build(tmp_path / "function-source")
    assert (out / "main.py").is_file() and (out / "requirements.txt").is_file()
    assert (out / "schemas/pro_event/bigquery.json").is_file()
    assert not list(out.rglob("examples")) and not list(out.rglob("__pycache__"))
    # Copy the bundle somewhere the checkout's schemas/ cannot be reached from.
    isolated = tmp_path / "elsewhere" / "src"
    build(isolated)
    result = subprocess.run([sys.executable, "-c", PROBE, str(isolated), str(EXAMPLE)], cwd=isolated,
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(isolated)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
