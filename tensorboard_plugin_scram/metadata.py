"""The plugin's name, tags, and the summary metadata that marks SCRAM's events.

Like TensorBoard's own plugins, writing and reading both go through this module, so
the two sides agree on names and on the data class.
"""

from __future__ import annotations

import json

from tensorboard.compat.proto import summary_pb2

PLUGIN_NAME = "scram"

# SCRAM writes into a run directory of its own under the user's log_dir: a second
# writer in Keras' train/ directory would hide live updates from the Python loader.
RUN_SUBDIR = "scram"

DIAGNOSTICS_TAG = "scram/diagnostics"
EPOCH_TAG = "scram/epoch"
BATCH_TAG = "scram/batch"
TAGS = (DIAGNOSTICS_TAG, EPOCH_TAG, BATCH_TAG)

# Version of the per-series metadata stored in plugin_data.content.
METADATA_VERSION = 1


def create_summary_metadata(tag: str) -> summary_pb2.SummaryMetadata:
    """Summary metadata for one of SCRAM's series (`tag` is one of `TAGS`)."""
    content = json.dumps({"version": METADATA_VERSION, "tag": tag}).encode("utf-8")
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME, content=content
        ),
        # Without DATA_CLASS_TENSOR both TensorBoard loaders silently drop the data.
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


def parse_plugin_metadata(content: bytes) -> dict:
    """Decodes `plugin_data.content`; raises ValueError for unknown or newer versions."""
    try:
        parsed = json.loads(content.decode("utf-8")) if content else {}
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError("SCRAM metadata is not JSON") from error
    if not isinstance(parsed, dict):
        raise ValueError("SCRAM metadata is not an object")
    version = parsed.get("version", 0)
    if not isinstance(version, int) or version > METADATA_VERSION:
        raise ValueError(f"SCRAM metadata version {version!r} is newer than this SCRAM")
    return parsed
