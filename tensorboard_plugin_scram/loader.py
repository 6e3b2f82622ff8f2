"""TensorBoard's entry point for SCRAM (kept tiny: an import error here stops TensorBoard)."""

from tensorboard.plugins import base_plugin


class ScramLoader(base_plugin.TBLoader):
    """Loads the SCRAM plugin and makes "keep every SCRAM event" TensorBoard's default."""

    def fix_flags(self, flags):
        # TensorBoard keeps only 10 (Python loader) or 100 (Rust server) events per tag
        # for a third-party plugin; every diagnostic matters, so keep them all unless the
        # user chose otherwise with --samples_per_plugin.
        samples = getattr(flags, "samples_per_plugin", None)
        if isinstance(samples, dict):
            samples.setdefault("scram", 0)

    def load(self, context):
        from tensorboard_plugin_scram.plugin import ScramPlugin

        return ScramPlugin(context)
