"""Classes of false alarms and misses in the loss, metric and data checks seen on real users'
programs of unusual shapes (batch size 1, tiny data, heavy imbalance, long runs), each with a
healthy twin.
"""

from __future__ import annotations
