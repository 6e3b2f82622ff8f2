"""TensorFlow internals (TensorFlow 2.21)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context


@contextlib.contextmanager
def without_graph_rewrites() -> Iterator[None]:
    """Calls TensorFlow functions in this thread without Grappler's graph optimisation.

    The option is the calling thread's own (`function_call_options`) and is restored at
    once, so the user's functions are optimised as usual. Without that API, nothing changes.
    """
    ctx, previous = context.context(), None
    try:
        config = config_pb2.ConfigProto.FromString(ctx.function_call_options.config_proto_serialized)
        config.graph_options.rewrite_options.disable_meta_optimizer = True
        previous = ctx.function_call_options
        ctx.function_call_options = context.FunctionCallOptions(previous.executor_type, config)
    except Exception:  # another TensorFlow: its defaults then
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            ctx.function_call_options = previous
