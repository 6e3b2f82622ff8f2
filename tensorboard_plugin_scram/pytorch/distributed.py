"""Which process writes: one set of diagnostics per job, as on the Keras side."""

from __future__ import annotations

import torch


def writes_here() -> bool:
    """Rank 0 of `torch.distributed` (or the only process) writes SCRAM's events."""
    try:
        distributed = torch.distributed
        return not (distributed.is_available() and distributed.is_initialized()) or distributed.get_rank() == 0
    except Exception:  # an unusual build: one process, as far as SCRAM can tell
        return True
