"""The plugin's name, tags, and the summary metadata that marks SCRAM's series.

Like TensorBoard's own plugins, writing and reading both go through this module, so the
two sides agree on names, on the data class and on the version: `plugin_data.content`
holds `{"version": PLUGIN_DATA_VERSION, "tag": ...}`, and readers skip the records of a
series whose version is newer than theirs (counted, so reports can say so).
"""

from __future__ import annotations

import dataclasses
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

# The format's version. Raise it when readers of this version would misread the records;
# they then skip those series instead of showing wrong numbers.
PLUGIN_DATA_VERSION = 1

# plugin_data.content is a few dozen bytes; more is not SCRAM's and is not parsed.
_MAX_CONTENT_BYTES = 4096


@dataclasses.dataclass(frozen=True)
class PluginData:
    """The parsed `plugin_data.content` of one series.

    Attributes:
        version: The format version the series was written with (0 when unstated).
        tag: The tag the writer meant the series for, or None.
    """

    version: int
    tag: str | None = None


def create_summary_metadata(tag: str) -> summary_pb2.SummaryMetadata:
    """Summary metadata for one of SCRAM's series (`tag` is one of `TAGS`)."""
    content = json.dumps({"version": PLUGIN_DATA_VERSION, "tag": tag}).encode("utf-8")
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=content),
        # Without DATA_CLASS_TENSOR both TensorBoard loaders silently drop the data.
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


def parse_plugin_metadata(content: bytes) -> PluginData:
    """Decodes `plugin_data.content` (untrusted); raises ValueError when it is not SCRAM's."""
    if not isinstance(content, bytes):
        raise ValueError("SCRAM metadata is not bytes")
    if len(content) > _MAX_CONTENT_BYTES:
        raise ValueError("SCRAM metadata is too long")
    try:
        parsed = json.loads(content.decode("utf-8")) if content else {}
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError("SCRAM metadata is not JSON") from error
    if not isinstance(parsed, dict):
        raise ValueError("SCRAM metadata is not an object")
    version, tag = parsed.get("version", 0), parsed.get("tag")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"SCRAM metadata version {version!r} is not an integer")
    return PluginData(version=version, tag=tag if isinstance(tag, str) else None)


def is_readable(content: bytes) -> bool:
    """Whether this SCRAM reads a series with this `plugin_data.content`: SCRAM's, and not newer."""
    try:
        return parse_plugin_metadata(content).version <= PLUGIN_DATA_VERSION
    except ValueError:
        return False
