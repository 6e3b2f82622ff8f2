"""Packaging for SCRAM, a TensorBoard plugin and Keras callback."""

from setuptools import find_packages, setup

setup(
    name="tensorboard_plugin_scram",
    version="0.1.0",
    description="SCRAM: plain-words diagnostics of Keras training runs, in TensorBoard and the terminal",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["tensorboard_plugin_scram", "tensorboard_plugin_scram.*"]),
    package_data={"tensorboard_plugin_scram": ["static/*"]},
    install_requires=[
        "tensorboard>=2.16",
        "werkzeug>=2.0",
        "numpy>=1.23",
        "protobuf>=3.20",
    ],
    extras_require={
        # The callback needs Keras 3 and one of its backends; the CLI and the plugin need neither.
        "tensorflow": ["keras>=3.0", "tensorflow>=2.16"],
        "jax": ["keras>=3.0", "jax[cpu]>=0.4.20"],
        "torch": ["keras>=3.0", "torch>=2.1"],
        "keras": ["keras>=3.0", "tensorflow>=2.16"],  # the name of [tensorflow] before other backends
        # ScramLightningCallback: PyTorch Lightning's Trainer (ScramMonitor needs torch alone, no Keras).
        "lightning": ["lightning>=2.0", "torch>=2.1"],
        # Log dirs on s3:// are written and read through TensorBoard's own file layer, over boto3.
        "s3": ["boto3>=1.28"],
    },
    entry_points={
        "console_scripts": ["scram = tensorboard_plugin_scram.cli:main"],
        "tensorboard_plugins": ["scram = tensorboard_plugin_scram.loader:ScramLoader"],
    },
)
