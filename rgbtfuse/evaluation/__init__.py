"""RGB-T tracking benchmark evaluation exactly as the MATLAB toolkits compute it (GTOT, RGBT234, LasHeR, VTUAV).

```python
from rgbtfuse.evaluation import evaluate, precision, success, normalized_precision
ev = evaluate("lasher", "LasHeR/testingset", {"mine": "results/mine"})
ev.trackers["mine"].scores()          # {'PR': ..., 'NPR': ..., 'SR': ...}
precision(boxes, gt).score            # one sequence (x, y, w, h arrays)
```
See docs/benchmarks.md for the definitions and edge rules.
"""

from rgbtfuse.evaluation.curves import Curve, frame_values, normalized_precision, precision, success
from rgbtfuse.evaluation.evaluate import Evaluation, TrackerEvaluation, evaluate
from rgbtfuse.evaluation.groundtruth import GroundTruth, load_groundtruth
from rgbtfuse.evaluation.protocols import PROTOCOLS, Protocol, get_protocol

__all__ = [
    "PROTOCOLS", "Curve", "Evaluation", "GroundTruth", "Protocol", "TrackerEvaluation", "evaluate", "frame_values",
    "get_protocol", "load_groundtruth", "normalized_precision", "precision", "success",
]
