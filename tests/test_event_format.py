"""SCRAM's event format: the series metadata's version, typed records, and the plugin's JSON cache.

The version skip end to end (event files on disk, both TensorBoard loaders, the CLI's note)
is in test_untrusted_input.py, over a run written by a newer SCRAM.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from tensorboard import context as tb_context
from tensorboard.backend.event_processing import data_provider as multiplexer_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin

from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.events import metadata, payload
from tensorboard_plugin_scram.events.collector import RunCollector
from tensorboard_plugin_scram.events.records import BatchRecord, EpochRecord, RunRecords
from tensorboard_plugin_scram.events.writer import ScramSummaryWriter
from tensorboard_plugin_scram.plugin import ScramPlugin


def _diagnostic(step: int, check: str = "nan_loss") -> Diagnostic:
    return Diagnostic(check, Severity.ERROR, "t", "e", "s", None, {}, step, 0)


def _content(**fields) -> bytes:
    return json.dumps(fields).encode("utf-8")


# -- the series metadata and its version ---------------------------------------------------------


def test_written_metadata_parses_back_as_this_version():
    for tag in metadata.TAGS:
        written = metadata.create_summary_metadata(tag)
        assert written.plugin_data.plugin_name == metadata.PLUGIN_NAME
        parsed = metadata.parse_plugin_metadata(written.plugin_data.content)
        assert parsed == metadata.PluginData(version=metadata.PLUGIN_DATA_VERSION, tag=tag)
        assert metadata.is_readable(written.plugin_data.content)


@pytest.mark.parametrize("version, readable", [(0, True), (metadata.PLUGIN_DATA_VERSION, True),
                                               (metadata.PLUGIN_DATA_VERSION + 1, False), (10**6, False)])
def test_series_of_newer_versions_are_not_readable(version, readable):
    assert metadata.is_readable(_content(version=version, tag=metadata.EPOCH_TAG)) is readable


def test_metadata_without_a_version_is_the_oldest():
    assert metadata.parse_plugin_metadata(b"").version == 0
    parsed = metadata.parse_plugin_metadata(_content(tag=metadata.BATCH_TAG))
    assert parsed == metadata.PluginData(0, metadata.BATCH_TAG)


@pytest.mark.parametrize("content", [b"\xff\xfe", b"not json", b"[1]", _content(version="1"), _content(version=True),
                                     _content(version=1.5), b"[" * 100_000, "text", None])
def test_foreign_metadata_raises_value_error_and_is_not_readable(content):
    with pytest.raises(ValueError):
        metadata.parse_plugin_metadata(content)
    assert metadata.is_readable(content) is False


# -- typed records, gathered per run --------------------------------------------------------------


def test_collector_routes_records_by_kind_and_orders_diagnostics_by_step():
    collector = RunCollector("exp/scram")
    collector.add(metadata.DIAGNOSTICS_TAG, payload.encode_diagnostics([_diagnostic(7), _diagnostic(2, "overfitting")]))
    collector.add(metadata.DIAGNOSTICS_TAG, payload.encode_diagnostics([_diagnostic(4)]).encode("utf-8"))
    collector.add(metadata.EPOCH_TAG, payload.encode_epoch(9, 0, {"loss": 1.0}, {"train_seconds": 2.0}))
    collector.add(metadata.BATCH_TAG, payload.encode_batches([(3, 0, {"loss": 2.0}), (5, 0, {"loss": 1.5})]))
    records = collector.records()
    assert isinstance(records, RunRecords) and records.run == "exp/scram" and records.skipped == 0
    assert [(d.step, d.check) for d in records.diagnostics] == [(2, "overfitting"), (4, "nan_loss"), (7, "nan_loss")]
    assert records.epochs == (EpochRecord(9, 0, {"loss": 1.0}, {"train_seconds": 2.0}),)
    assert records.batches == (BatchRecord(3, 0, {"loss": 2.0}), BatchRecord(5, 0, {"loss": 1.5}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        records.skipped = 1  # type: ignore[misc]


@pytest.mark.parametrize("tag, raw", [
    (metadata.EPOCH_TAG, payload.encode_diagnostics([_diagnostic(1)])),   # a kind under another kind's tag
    (metadata.DIAGNOSTICS_TAG, payload.encode_batches([(1, 0, {})])),
    (metadata.BATCH_TAG, payload.encode_epoch(1, 0, {}, {})),
    (metadata.DIAGNOSTICS_TAG, None),                                      # a tensor that held no string
    (metadata.DIAGNOSTICS_TAG, 3.5),
    (metadata.DIAGNOSTICS_TAG, "{not json"),
])
def test_collector_skips_and_counts_foreign_records(tag, raw):
    collector = RunCollector("r")
    collector.add(tag, raw)
    records = collector.records()
    assert (records.skipped, records.diagnostics, records.epochs, records.batches) == (1, (), (), ())
    assert not records.empty, "a run of unreadable records is still listed, with its note"


def test_collector_counts_series_skipped_whole():
    collector = RunCollector("r")
    assert collector.records().empty
    collector.skip(5)
    assert collector.records().skipped == 5


# -- the plugin keeps the diagnostics route's JSON while the run is unchanged ---------------------


def test_plugin_reuses_its_diagnostics_json_until_the_run_changes(tmp_path):
    writer = ScramSummaryWriter(str(tmp_path / "scram"))
    writer.write_diagnostics(3, [_diagnostic(3)])
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={metadata.PLUGIN_NAME: 0})
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    provider = multiplexer_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    plugin = ScramPlugin(base_plugin.TBContext(data_provider=provider, logdir=None))
    ctx = tb_context.RequestContext()

    first = plugin.diagnostics_impl(ctx, "", "scram")
    assert plugin.diagnostics_impl(ctx, "", "scram") is first, "unchanged records: the cached text"
    assert [d["step"] for d in json.loads(first)["diagnostics"]] == [3]

    writer.write_diagnostics(8, [_diagnostic(8, "overfitting")])
    writer.close()
    multiplexer.Reload()
    second = plugin.diagnostics_impl(ctx, "", "scram")
    assert [d["step"] for d in json.loads(second)["diagnostics"]] == [3, 8], "a new record: the text is rebuilt"


def test_the_file_layer_is_tensorboards_own_unless_tensorflow_is_imported(tmp_path):
    """SCRAM never imports TensorFlow for its files; it uses `tf.io.gfile` only where TensorFlow already is."""
    import types

    from tensorboard_plugin_scram.events import storage

    own = storage.gfile({})
    assert own.__name__ == "tensorboard.compat.tensorflow_stub.io.gfile"
    own.makedirs(str(tmp_path / "a" / "b"))
    assert own.isdir(str(tmp_path / "a" / "b"))
    tensorflow = types.SimpleNamespace(io=types.SimpleNamespace(gfile=types.ModuleType("tf_gfile")))
    assert storage.gfile({"tensorflow": tensorflow}) is tensorflow.io.gfile
