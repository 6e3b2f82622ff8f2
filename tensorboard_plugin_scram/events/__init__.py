"""SCRAM's event format: how diagnostics and training curves are stored in TensorBoard event files.

One format, one package, in the order the data flows:

- `metadata`: the plugin's name, tags and run directory, the summary metadata that marks
  SCRAM's series, and its version (`PLUGIN_DATA_VERSION`; readers skip newer series).
- `payload`: the JSON document of each event, encoded by the writer and decoded, as
  untrusted input, by the readers.
- `records`: the typed records a payload decodes to, and `RunRecords`, one run's records.
- `storage`: the file layer log directories are written and read through (TensorBoard's).
- `writer`: `ScramSummaryWriter`, which the Keras callback writes through.
- `collector`: gathers one run's stored payloads into `RunRecords` for either reader.
- `file_reader`: reads event files on disk (the `scram` command, `tensorboard_plugin_scram.read`).
- `provider_reader`: reads through TensorBoard's data provider (the TensorBoard plugin).

Framework-free: no Keras or TensorFlow here.
"""
