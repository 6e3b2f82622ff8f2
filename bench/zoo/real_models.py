"""Classes of faults in the model's output, loss and labels seen in real users' programs,
each with a healthy twin: the same program, fixed, which must stay quiet.
"""

from __future__ import annotations
