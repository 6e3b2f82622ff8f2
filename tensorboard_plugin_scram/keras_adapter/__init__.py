"""The Keras adapter: turns a Keras training run into SCRAM observations."""
