"""Check ids that describe true consequences of a fault, shared by several scenarios.

A scenario lists them as `tolerated`: they neither count as the correct diagnosis nor
as an off-target false alarm.
"""

from __future__ import annotations

# Once the loss (and so the weights) are NaN, the model predicts one value and stops learning.
AFTER_NAN = ("nan_loss", "loss_diverging", "exploding_gradients", "update_ratio_unusual", "weights_not_updating",
             "constant_predictions", "accuracy_at_chance", "loss_not_decreasing", "dead_relu")

# A model that cannot learn: flat loss, chance accuracy, one prediction for everything.
STALLED = ("loss_not_decreasing", "accuracy_at_chance", "constant_predictions", "update_ratio_unusual")

# Outputs extreme from the first step (raw inputs, a wrong output activation): the loss
# starts at a cross-entropy's ceiling, which loss_diverging reports as such.
EXTREME_START = ("loss_diverging",)

# Gradients that do not reach the early layers, so their weights barely move.
NO_SIGNAL = ("vanishing_gradients", "weights_not_updating")

# Softmax or sigmoid outputs pinned at 0 or 1 (raw inputs, a huge learning rate): where the
# loss gets the clipped probabilities, not logits (Keras on JAX and PyTorch; TensorFlow hands
# it the cached logits), their gradient is exactly zero and not a single weight changes.
SATURATED_OUTPUT = ("weights_not_updating",)
