"""SCRAM's benchmarks: a labelled fault zoo, detector overhead, and plugin scale.

Run them all with `make bench` (or `python -m bench`); see `python -m bench --help`.
Results land in `bench/results.md` and `bench/results.json`.
"""
