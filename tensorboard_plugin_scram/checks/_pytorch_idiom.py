"""The output and label rules in PyTorch's terms: its loss modules, its errors, its snippets.

`output_activation_loss_mismatch` and `label_output_mismatch` judge a PyTorch run
(`RunInfo.framework == "pytorch"`) with these rules. The facts are the same as for Keras
(`LossInfo`, `OutputInfo`, `TensorStats`), but PyTorch's losses differ in what they
accept: `nn.CrossEntropyLoss` and `nn.BCEWithLogitsLoss` take logits (`from_logits`),
`nn.NLLLoss` takes log-probabilities, `nn.BCELoss` raises on values outside [0, 1], and
labels beyond the output's width raise an `IndexError` on the CPU (a device-side assert on
a GPU) rather than train on garbage.
"""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks import _losses
from tensorboard_plugin_scram.checks._advice import PYTORCH
from tensorboard_plugin_scram.diagnostic import Severity
from tensorboard_plugin_scram.observations import LossInfo, OutputInfo, TensorStats

# A rule's answer: (severity, why, fix, snippet).
Problem = tuple[Severity, str, str, str]

_BINARY_HEAD = ("nn.Linear(in_features, 1)  # no activation: BCEWithLogitsLoss applies the sigmoid\n"
                "loss_fn = nn.BCEWithLogitsLoss()  # labels: float 0.0 / 1.0")
_CLASSES_HEAD = ("nn.Linear(in_features, {units})  # logits, one per class\n"
                 "loss_fn = nn.CrossEntropyLoss()  # labels: class ids (torch.long)")
_PREDICT = "\n# probabilities for predictions only: torch.softmax(model(x), dim=1)"
_UNBOUNDED = ("relu", "elu", "selu", "gelu", "softplus", "leaky_relu", "silu")


def loss_module(loss: LossInfo) -> str:
    """The `nn` class a PyTorch loss was mapped from (`"CrossEntropyLoss"`)."""
    if loss.name == _losses.NEGATIVE_LOG_LIKELIHOOD:
        return "NLLLoss"
    if loss.name in _losses.SPARSE + _losses.CATEGORICAL:
        return "CrossEntropyLoss"
    if loss.name in _losses.BINARY:
        return "BCEWithLogitsLoss" if loss.from_logits else "BCELoss"
    return {"mean_squared_error": "MSELoss", "mean_absolute_error": "L1Loss", "huber": "HuberLoss"}.get(
        loss.name, loss.name)


def loss_name(loss: LossInfo, framework: str) -> str:
    """The loss as the run's code names it: `nn.CrossEntropyLoss` in PyTorch, Keras' name otherwise."""
    return f"nn.{loss_module(loss)}" if framework == PYTORCH else loss.name


def output_problem(output: OutputInfo, loss: LossInfo) -> Problem | None:
    """What is wrong with this output and loss module, or None (also when the activation is unknown)."""
    units = output.units
    if units == 1 and output.activation == "softmax":
        return (Severity.ERROR, "A softmax over a single output always gives 1.0, whatever the input, so "
                "nothing can be learned.", "For two classes use one output without activation and "
                "nn.BCEWithLogitsLoss.", _BINARY_HEAD)
    if units == 1 and loss.name in _losses.SPARSE + _losses.CATEGORICAL:
        return (Severity.ERROR, f"nn.{loss_module(loss)} over a single output knows one class only: the "
                "log-softmax of one value is always 0, so the loss is 0 for class 0, and class id 1 is out of "
                "range (IndexError on the CPU, a device-side assert on a GPU).",
                "For two classes use one output with nn.BCEWithLogitsLoss, or two outputs with "
                "nn.CrossEntropyLoss.", _BINARY_HEAD)
    if output.activation is None or not _losses.is_classification(loss):
        return None
    for rule in (_log_likelihood_input, _probabilities_as_logits, _raw_scores_as_probabilities,
                 _unbounded_output):
        problem = rule(output, loss)
        if problem:
            return problem
    return None


def _log_likelihood_input(output: OutputInfo, loss: LossInfo) -> Problem | None:
    if loss.name != _losses.NEGATIVE_LOG_LIKELIHOOD or output.activation == "log_softmax":
        return None
    head = _CLASSES_HEAD.format(units=output.units or "n_classes")
    fix = ("End the model with nn.LogSoftmax(dim=1), or drop the activation and use nn.CrossEntropyLoss, "
           "which is log_softmax and NLLLoss in one.")
    if output.activation == "linear":
        return (Severity.ERROR, "nn.NLLLoss expects log-probabilities (log_softmax) and gets raw scores: it "
                "takes minus the true class's score as the loss, which has no lower bound, so training pushes "
                "that score up without end instead of learning probabilities.", fix, head + _PREDICT)
    return (Severity.WARNING, f"nn.NLLLoss expects log-probabilities (log_softmax) and gets {output.activation} "
            f"outputs: it takes minus the true class's {output.activation} value as the loss, not its log, so "
            "the loss is not a likelihood, its gradient is weak where the model is most wrong, and the loss "
            "curve reads between -1 and 0.", fix, head + _PREDICT)


def _probabilities_as_logits(output: OutputInfo, loss: LossInfo) -> Problem | None:
    activation = output.activation
    if not loss.from_logits or activation not in ("softmax", "sigmoid"):
        return None
    module = loss_module(loss)
    applies = "sigmoid" if loss.name in _losses.BINARY else "log_softmax"
    if loss.name in _losses.BINARY:
        snippet = _BINARY_HEAD if output.units == 1 else (
            f"nn.Linear(in_features, {output.units})  # no activation: BCEWithLogitsLoss applies the sigmoid\n"
            "loss_fn = nn.BCEWithLogitsLoss()\n# probabilities for predictions only: torch.sigmoid(model(x))")
    else:
        snippet = _CLASSES_HEAD.format(units=output.units or "n_classes") + _PREDICT
    return (Severity.WARNING, f"nn.{module} applies {applies} itself and expects raw scores (logits); after the "
            f"model's {activation} it squashes values that are already in [0, 1] a second time, so the "
            "predicted probabilities can never approach 0 or 1, the gradients become tiny and training is slow "
            "or stalls.", f"Remove the final {activation} from the model ({activation_module(activation)} or "
            f"torch.{activation} in forward); apply it only when you need probabilities.", snippet)


def _raw_scores_as_probabilities(output: OutputInfo, loss: LossInfo) -> Problem | None:
    if output.activation != "linear" or loss.from_logits or loss.name not in _losses.BINARY:
        return None
    return (Severity.ERROR, "nn.BCELoss expects probabilities in [0, 1] and gets raw scores: it raises "
            "\"all elements of input should be between 0 and 1\" as soon as one score leaves that range.",
            "Use nn.BCEWithLogitsLoss, which applies the sigmoid itself (and is numerically safer).",
            _BINARY_HEAD)


def _unbounded_output(output: OutputInfo, loss: LossInfo) -> Problem | None:
    if output.activation not in _UNBOUNDED:
        return None
    head = _BINARY_HEAD if output.units == 1 else _CLASSES_HEAD.format(units=output.units or "n_classes")
    return (Severity.WARNING, f"A {output.activation} on the output cuts every negative score to (nearly) 0, "
            f"so nn.{loss_module(loss)} cannot push a class's score down: classes the model should rule out "
            "stay tied.", f"Drop the final {output.activation}: the loss wants raw scores.", head)


# PyTorch's module of each activation SCRAM names (the inverse of the adapter's reading of them).
_ACTIVATION_MODULES = {"sigmoid": "Sigmoid", "softmax": "Softmax", "log_softmax": "LogSoftmax", "tanh": "Tanh",
                       "relu": "ReLU", "relu6": "ReLU6", "softplus": "Softplus", "elu": "ELU", "selu": "SELU",
                       "gelu": "GELU", "silu": "SiLU", "leaky_relu": "LeakyReLU", "hard_sigmoid": "Hardsigmoid",
                       "hard_tanh": "Hardtanh", "softsign": "Softsign"}


def activation_module(activation: str) -> str:
    """The PyTorch module of an activation (`"nn.Sigmoid"`), or the activation's name for one it has none of."""
    module = _ACTIVATION_MODULES.get(activation)
    return f"nn.{module}" if module else activation


# Whole-number labels up to this look like class ids rather than quantities.
_MAX_CLASS_ID = 20


def label_problem(output: OutputInfo, loss: LossInfo, label: TensorStats, values: int | None,
                  classifying: bool = False) -> Problem | None:
    """What is wrong with these labels for this output and loss module, if anything.

    `values`: label values per sample (None when unknown); `classifying`: the run tracks an
    accuracy, so whole-number labels under a regression loss are likely class ids.
    """
    if not (math.isfinite(label.min) and math.isfinite(label.max)):
        return None  # `input_contains_nan` says so
    units = output.units or 0
    if loss.name in _losses.SPARSE and label.integral:
        return _class_id_problem(loss, label, units)
    if loss.name in _losses.BINARY and (label.min < 0 or label.max > 1):
        return _binary_label_problem(loss, label, values, units)
    if loss.name in _losses.REGRESSION and values == 1 and label.integral and label.min >= 0:
        return _regression_on_classes(output, loss, label, units, classifying)
    return None


def _class_id_problem(loss: LossInfo, label: TensorStats, units: int) -> Problem | None:
    module = loss_module(loss)
    ignored = loss.ignore_class
    if label.min < 0 and label.min != ignored:
        return (Severity.ERROR, f"Class ids go down to {label.min:g}, but nn.{module} takes ids from 0 to "
                f"{max(units - 1, 0)} (and skips only ignore_index={ignored}): it raises an IndexError on the "
                "CPU, a device-side assert on a GPU.", "Drop the samples without a label, or tell the loss "
                "which id means 'no label'.", f"loss_fn = nn.{module}(ignore_index={int(label.min)})")
    if label.max >= units > 1 and label.max != ignored:
        return (Severity.ERROR, f"Class ids go up to {label.max:g}, but the model's {units} outputs only cover "
                f"classes 0 to {units - 1}: nn.{module} raises an IndexError (\"Target {int(label.max)} is out "
                "of bounds\") on the CPU, a device-side assert on a GPU.",
                f"Give the last layer {int(label.max) + 1} outputs (one per class), or renumber the classes "
                "from 0.", f"nn.Linear(in_features, {int(label.max) + 1})  # one output per class")
    return None


def _binary_label_problem(loss: LossInfo, label: TensorStats, values: int | None, units: int) -> Problem:
    module = loss_module(loss)
    effect = ("raises an error" if not loss.from_logits
              else "does not check its targets: it computes a meaningless loss and trains on it")
    if values == 1 and label.integral and label.min >= 0 and units == 1:
        classes = int(label.max) + 1
        return (Severity.ERROR, f"nn.{module} needs labels between 0 and 1, and these hold {classes} classes: "
                f"one output can only tell two classes apart, and the loss {effect}.",
                f"Use {classes} outputs with nn.CrossEntropyLoss on class ids.",
                _CLASSES_HEAD.format(units=classes) + "\ny = y.long()  # class ids 0.." + str(classes - 1))
    return (Severity.ERROR, f"nn.{module} needs labels between 0 and 1; these range from {label.min:g} to "
            f"{label.max:g}, and the loss {effect}.", "Map the labels to 0 and 1, or use nn.CrossEntropyLoss "
            "for several classes.", "y = (y > 0).float()  # for two classes")


def _regression_on_classes(output: OutputInfo, loss: LossInfo, label: TensorStats, units: int,
                           classifying: bool) -> Problem | None:
    severity = Severity.WARNING if classifying or output.activation in _losses.PROBABILITY_ACTIVATIONS \
        else Severity.INFO
    module = loss_module(loss)
    if 2 <= label.max <= _MAX_CLASS_ID:
        return (severity, f"nn.{module} on small whole-number labels with {units} output(s) could be a "
                "classification trained with a regression loss: it then treats class 9 as 'more' than class 1. "
                "If the labels are real quantities (counts, ratings), ignore this.",
                "For class ids use one output per class with nn.CrossEntropyLoss.",
                _CLASSES_HEAD.format(units=int(label.max) + 1))
    if label.max == 1 and units == 1:
        return (severity, f"The labels are 0 and 1, a binary classification, trained with nn.{module}: it "
                "learns, but slowly and poorly.", "Use nn.BCEWithLogitsLoss on one raw output.", _BINARY_HEAD)
    return None
