"""The catalogue of built-in checks, and building the set a run uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tensorboard_plugin_scram.checks.base import Check
from tensorboard_plugin_scram.checks.input_not_normalized import InputNotNormalized
from tensorboard_plugin_scram.checks.internal_error import InternalError
from tensorboard_plugin_scram.checks.nan_loss import NanLoss
from tensorboard_plugin_scram.checks.overfitting import Overfitting

# Built-in checks in documentation order. Ids are stable public API.
BUILTIN_CHECKS: tuple[type[Check], ...] = (NanLoss, InputNotNormalized, Overfitting)

# Every id a diagnostic can carry, with the class that documents it.
CATALOGUE: dict[str, type[Check]] = {c.id: c for c in (*BUILTIN_CHECKS, InternalError)}


def build_checks(
    disable: Iterable[str] = (),
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    extra_checks: Sequence[Check] = (),
) -> list[Check]:
    """Instantiates the checks of one run.

    Args:
        disable: Ids of built-in (or extra) checks to switch off.
        thresholds: Per check id, thresholds to override, e.g.
            `{"overfitting": {"patience": 3}}`.
        extra_checks: User-written `Check` instances to add.

    Returns:
        The enabled checks.

    Raises:
        ValueError: for an unknown check id or threshold name, or a duplicate id, so a
            typo in the configuration is loud rather than silently ignored.
    """
    thresholds = dict(thresholds or {})
    extra = list(extra_checks)
    for check in extra:
        if not isinstance(check, Check) or not check.id:
            raise ValueError(f"extra check {check!r} must be a Check instance with an id")
    known = {c.id for c in BUILTIN_CHECKS} | {c.id for c in extra}
    if len(known) != len(BUILTIN_CHECKS) + len(extra):
        raise ValueError("two checks share an id; ids must be unique")
    disabled = set(disable)
    for check_id in (*disabled, *thresholds):
        if check_id not in known:
            raise ValueError(f"unknown check id {check_id!r} (known: {', '.join(sorted(known))})")
    checks = [cls() for cls in BUILTIN_CHECKS if cls.id not in disabled]
    checks += [check for check in extra if check.id not in disabled]
    for check in checks:
        check.configure(**thresholds.get(check.id, {}))
    return checks
