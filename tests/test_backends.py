"""SCRAM on every Keras 3 backend: the same faults found, training untouched, TensorFlow optional.

Keras fixes its backend when it is imported, so each backend's trainings run in a process
of their own (`tests/scripts/backend_cases.py`). On JAX and PyTorch that process cannot
import TensorFlow at all, as where it is not installed: everything SCRAM does there must
work without it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ("jax", "torch", "tensorflow")
# Per case: the checks that must be among the warnings and errors found (any one of a tuple).
FAULTS = {
    "nan_inputs": ["input_contains_nan"],
    "nan_inputs_pydataset": ["input_contains_nan"],
    "huge_learning_rate": [("nan_loss", "loss_diverging")],
    "unnormalized": ["input_not_normalized"],
    "softmax_one_unit": ["output_activation_loss_mismatch"],
    "binary_loss_on_class_ids": ["label_output_mismatch"],
    "dead_relu": ["dead_relu"],
    "frozen_learning_rate": ["weights_not_updating"],
    "sigmoid_stack": [("saturated_activations", "vanishing_gradients")],
}
HEALTHY = ("healthy", "healthy_pydataset", "own_compute_loss")


@pytest.fixture(scope="module", params=BACKENDS)
def cases(request) -> dict:
    backend = request.param
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if backend != "tensorflow":
        env["SCRAM_TEST_WITHOUT_TENSORFLOW"] = "1"
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "scripts", "backend_cases.py")],
                            capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    return report


def _alarms(case: dict) -> set[str]:
    return {check for check, severity in case["found"] if severity in ("warning", "error")}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_each_fault_is_found(cases, name):
    found = _alarms(cases["cases"][name])
    for wanted in FAULTS[name]:
        options = wanted if isinstance(wanted, tuple) else (wanted,)
        assert found & set(options), f"{cases['backend']}/{name}: wanted {options}, found {sorted(found)}"


def test_jax_processes_write_from_process_0_only(cases, tmp_path):
    """Two JAX processes (`jax.distributed` on 127.0.0.1) train into one log dir: one writer, process 0."""
    if cases["backend"] != "jax":
        pytest.skip("jax.distributed is JAX's")
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", "SCRAM_TEST_WITHOUT_TENSORFLOW": "1"}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    script = os.path.join(ROOT, "tests", "scripts", "jax_process.py")
    processes = [subprocess.Popen([sys.executable, script, str(i), port, str(tmp_path)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT) for i in (0, 1)]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-4000:]
    reports = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]
    assert [r["index"] for r in reports] == [0, 1] and all(r["count"] == 2 for r in reports)
    for report in reports:  # every process judges the run (its callback keeps the diagnostics) ...
        assert "learning_rate_unusual" in report["found"]
    files = [name for _, _, names in os.walk(tmp_path) for name in names if "tfevents" in name]
    assert len(files) == 1 and files[0].split(".")[-2] == str(reports[0]["pid"])  # ... process 0 writes


def test_nan_in_a_torch_dataloader_is_found(cases):
    if cases["backend"] != "torch":
        pytest.skip("a DataLoader feeds Keras on the PyTorch backend only")
    assert "input_contains_nan" in _alarms(cases["cases"]["nan_inputs_dataloader"])


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_training_is_quiet_and_measured(cases, name):
    case = cases["cases"][name]
    assert _alarms(case) == set(), f"{cases['backend']}/{name}: {case['found']}"
    # The internals were measured (with the backend's own gradients), and their norms are real numbers.
    assert case["measured"] >= 2 and case["grad_norms_finite"]


def test_jax_compiles_the_pass_of_arrays_before_training_once(cases):
    """Fed arrays, the sample is known before the first step: its pass compiles beside Keras' step, once."""
    if cases["backend"] != "jax":
        pytest.skip("only JAX compiles SCRAM's pass")
    for name in ("healthy", "dead_relu", "unnormalized"):
        case = cases["cases"][name]
        assert case["passes"] == [1, 1], (name, case["passes"])
    # Batches from a PyDataset are seen inside the step: the pass is compiled at its first use.
    assert cases["cases"]["healthy_pydataset"]["passes"] == [0, 1]


def test_labels_a_loss_cannot_take_are_reported_before_the_first_step(cases):
    """On PyTorch the loss raises at the first step; SCRAM has judged the first batch already."""
    case = cases["cases"]["binary_loss_on_class_ids"]
    assert ["label_output_mismatch", "error"] in case["found"]
    assert case["crashed"] == ("RuntimeError" if cases["backend"] == "torch" else None)


def test_softmax_over_one_unit_is_an_error(cases):
    assert ["output_activation_loss_mismatch", "error"] in cases["cases"]["softmax_one_unit"]["found"]


def test_training_is_unchanged_by_scram(cases):
    """Dropout and batch normalisation included: the same weights, bit for bit, with and without SCRAM."""
    case = cases["cases"]["identical_weights"]
    assert case["weights"] == 8 and case["measured"] >= 2
    assert case["identical"], cases["backend"]


def test_a_refit_after_freezing_a_layer_is_measured_anew(cases):
    case = cases["cases"]["refit_with_a_frozen_layer"]
    assert case["measured"] >= 1, cases["backend"]
    first, *rest = case["last_grad_norms"]
    assert first is None and rest and all(norm and norm > 0 for norm in rest), "the frozen layer has no gradient"


def test_scram_never_fails_internally(cases):
    for name, case in cases["cases"].items():
        assert not any(check == "scram_internal_error" for check, _ in case["found"]), (cases["backend"], name)


def test_tensorflow_stays_out_of_jax_and_torch(cases):
    """Their process cannot import TensorFlow; SCRAM needed it nowhere (no internal error above)."""
    assert cases["tensorflow_imported"] == (cases["backend"] == "tensorflow")


# Cases whose findings must not depend on training data-parallel.
PARALLEL_CASES = ("healthy", "healthy_pydataset", "nan_inputs", "unnormalized", "softmax_one_unit", "dead_relu")


def test_jax_data_parallel_gives_the_diagnostics_of_one_device(cases):
    """`keras.distribution.DataParallel` over two host devices: one set of diagnostics, as on one device."""
    if cases["backend"] != "jax":
        pytest.skip("keras.distribution runs on JAX")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3",
           "SCRAM_TEST_WITHOUT_TENSORFLOW": "1", "SCRAM_TEST_DATA_PARALLEL": "1",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "scripts", "backend_cases.py"),
                             *PARALLEL_CASES], capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-4000:]
    parallel = json.loads(result.stdout.strip().splitlines()[-1])["cases"]
    for name in PARALLEL_CASES:
        assert _alarms(parallel[name]) == _alarms(cases["cases"][name]), name
        assert parallel[name]["measured"] >= 2 and parallel[name]["crashed"] is None, name
    assert parallel["healthy"]["passes"] == [1, 1], "compiled for the replicated layout before training, once"
