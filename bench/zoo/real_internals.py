"""Classes of faults and false alarms in the internals and input checks seen in real users' and
experts' programs (sigmoid stacks, in-model scaling, custom `train_step`), each with a healthy twin.
"""

from __future__ import annotations
