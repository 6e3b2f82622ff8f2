"""Every private Keras, TensorFlow, JAX and PyTorch API SCRAM relies on, one module per framework.

Frameworks change their internals without notice; keeping each such use here, behind a
small function that says what it reads and what happens without it, makes an upgrade a
one-file review (TensorBoard keeps its own in `tensorboard/compat/`). Checked against
Keras 3.10-3.15, TensorFlow 2.21, JAX 0.10 and PyTorch 2.13. Each function degrades to a
public fallback or to "unknown" when the private API is gone; none may raise into training.

Modules import their framework, so import the one for the backend in use only:
`keras_api` (every backend), `tensorflow_api`, `jax_api`, `torch_api`.
"""
