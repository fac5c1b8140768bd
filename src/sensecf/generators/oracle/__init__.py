"""The oracle: counterfactuals with the fewest changes, and a proof of it where one is possible.

Three roles: the fallback of the LLM generator, the teacher for fine-tuning, and the
"minimal number of changes" reference every method's sparsity is held against.

For each query the oracle

1. projects the desired-class training rows onto what the query allows and sparsifies the
   nearest valid ones (:mod:`.search`, batched over all queries): quick counterfactuals and
   an upper bound on the fewest changes;
2. for a model it can encode (:mod:`.encoding`: tree ensembles in :mod:`.trees`, logistic
   models in :mod:`.linear`), solves a mixed-integer program over the spec (fixed features,
   directions, bounds, grain, the decision threshold) that minimises the number of changed
   features, then the MAD-scaled distance (:mod:`.milp`), with further distinct solutions by
   no-good cuts;
3. for any other model, searches growing feature subsets (exhaustive, then a beam).

The spec's relations are kept: only proposable features move, derived features follow their
inputs and every candidate is projected (derived features recomputed, a broken relation undone)
before the model judges it. The program does not encode relations yet, so a spec with a
relation over a feature that may change is searched (``unsupported_reason_`` names the
relations; ``method="exact"`` refuses it). The fewest changes counts every changed feature,
derived ones included, as the metric suite's L0 does.

Each query's answer (:mod:`.certificate`) says ``optimal``, ``feasible`` (with a bound),
``infeasible`` (no allowed change flips this prediction, proven) or ``time_limit``.
"""

from sensecf.generators.oracle.certificate import CERTIFICATE_COLUMNS, STATUSES, Certificate
from sensecf.generators.oracle.generator import Oracle

__all__ = ["CERTIFICATE_COLUMNS", "STATUSES", "Certificate", "Oracle"]
