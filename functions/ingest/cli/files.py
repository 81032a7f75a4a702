"""``ingest validate`` and ``ingest replay``: a partner's dry run, and an operator's re-run."""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import click
import orjson

from ingest.config import ConfigError, Settings
from ingest.contracts import CONTRACTS
from ingest.files import SUFFIX_FORMATS, Format, ObjectPlan
from ingest.ledger import Progress
from ingest.local_files import LOCAL_BUCKET, local_generation
from ingest.partner_files import FileRecords, holds_array, record_of
from ingest.pipeline import now, prepare
from ingest.records import SourceRef


def settings_or_exit() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


def _format_of(path: str, chosen: str | None) -> Format:
    if chosen:
        return Format(chosen)
    bare = path.lower().removesuffix(".gz")
    for suffix, file_format in SUFFIX_FORMATS.items():
        if bare.endswith(suffix):
            return file_format
    raise click.UsageError(f"{path}: cannot tell the format from its name; say --format "
                           f"({', '.join(f.value for f in Format)})")


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--contract", type=click.Choice(CONTRACTS), required=True, help="The contract the file is for.")
@click.option("--format", "chosen_format", type=click.Choice([f.value for f in Format]),
              help="ndjson, csv or json (a JSON array, or NDJSON); default: from the file's extension.")
@click.option("--errors", "max_errors", type=click.IntRange(0), default=20, show_default=True,
              help="How many errors to print.")
@click.option("--rows", is_flag=True, help="Print the rows that would be written (NDJSON) on stdout.")
def validate(path: Path, contract: str, chosen_format: str | None, max_errors: int, rows: bool) -> None:
    """Check FILE as ingest_file would, writing nothing: the same formats, the same validation,
    consent and transforms. Exits 1 when a record would be dead-lettered."""
    settings = settings_or_exit()
    file_format = _format_of(str(path), chosen_format)
    source = SourceRef(kind="gcs", bucket=LOCAL_BUCKET, object=str(path.resolve()), generation=local_generation(path))
    progress = Progress()
    if file_format is Format.JSON:
        with path.open("rb") as stream:
            progress.json_array = holds_array(stream.read, settings)
    outcomes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    shown = 0
    received_at = now()
    with path.open("rb") as stream, click.progressbar(length=path.stat().st_size, label=path.name, file=sys.stderr,
                                                       show_pos=True) as bar:
        reader = FileRecords(stream.read, file_format, contract, settings, progress)
        batch: list[Any] = []
        last = 0

        def flush() -> None:
            nonlocal shown
            prepared = prepare(contract, [record_of(line, source, settings) for line in batch], settings,
                               received_at=received_at)
            for name, value in prepared.counts.as_row().items():
                if isinstance(value, int):
                    outcomes[name] += value
            kinds.update(kind.value for kind in prepared.dead_letter.kinds.elements())
            for sample in prepared.dead_letter.samples:
                if shown < max_errors:
                    click.echo(f"line {sample['line']}: {sample['error_type']}: {sample['reason']}", err=True)
                    shown += 1
            if rows:
                for _, encoded in prepared.rows:
                    click.echo(encoded.decode())
            batch.clear()

        for line in reader:
            batch.append(line)
            bar.update(line.end - last)
            last = line.end
            if len(batch) >= settings.file_batch_lines:
                flush()
        if batch:
            flush()
    click.echo(f"{path}: {outcomes['received']} record(s): {outcomes['rows_sent']} would be written, "
               f"{outcomes['dead_lettered']} dead-lettered {dict(kinds) or ''}, consent dropped "
               f"{outcomes['consent_dropped']}, skipped {outcomes['skipped']}, duplicates "
               f"{outcomes['duplicates_in_batch']}".replace(" {}", ""), err=True)
    sys.exit(1 if outcomes["dead_lettered"] else 0)


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--contract", type=click.Choice(CONTRACTS),
              help="For local files: the contract they are for (gs:// objects: from their name's prefix).")
@click.option("--format", "chosen_format", type=click.Choice([f.value for f in Format]),
              help="For local files: ndjson, csv or json; default: from the extension.")
@click.option("--force", is_flag=True, help="Read a gs:// object again even if it was already ingested.")
def replay(sources: tuple[str, ...], contract: str | None, chosen_format: str | None, force: bool) -> None:
    """Ingest local files or gs://bucket/object[#generation] objects into BigQuery through the same
    pipeline as ingest_file (BIGQUERY_EMULATOR_HOST for the emulator, else the project).
    Exits 1 when a record was dead-lettered."""
    from ingest import clients
    from ingest.local_files import LocalFiles

    settings = settings_or_exit()
    pipe = clients.build_pipeline(settings)
    failed = False
    for given in sources:
        if given.startswith("gs://"):
            bucket, _, rest = given[len("gs://"):].partition("/")
            name, _, generation_text = rest.partition("#")
            files: Any = clients.file_store()
            generation = int(generation_text) if generation_text else _latest(bucket, name)
            plan = None
        else:
            path = Path(given)
            if not path.is_file():
                raise click.UsageError(f"{given}: no such file")
            if contract is None:
                raise click.UsageError("--contract is required for local files")
            bucket, name, generation = LOCAL_BUCKET, str(path.resolve()), local_generation(path)
            files, plan = LocalFiles(), ObjectPlan(contract, None, format=_format_of(given, chosen_format))
        counts = pipe.ingest_object(function="ingest_replay", bucket=bucket, name=name, generation=generation,
                                    metadata={"name": name}, files=files, invocation=uuid.uuid4().hex, plan=plan,
                                    force=force)
        click.echo(f"{given}: {orjson.dumps(counts.as_row()).decode()}")
        failed = failed or counts.dead_lettered > 0
    sys.exit(1 if failed else 0)


def _latest(bucket: str, name: str) -> int:
    from ingest import clients

    blob = clients.storage_client().bucket(bucket).get_blob(name)
    if blob is None:
        raise click.UsageError(f"gs://{bucket}/{name}: no such object")
    return int(blob.generation)
