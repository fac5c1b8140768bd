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
   no-good cuts; a forest's program is solved one set of changed features at a time where
   there are few such sets (:mod:`.supports`: the same answers in a fraction of the seconds);
3. for any other model, searches growing feature subsets (exhaustive, then a beam).

The spec's relations are kept: only proposable features move and derived features follow
their inputs. The program encodes them (:mod:`.relations`): a derived feature with an affine
formula is a variable tied to its inputs, a ratio of affine forms enters through linear
conditions (exact for tree splits on it; a linear model's ratio term is bracketed, an inner
approximation certified by an outer relaxation), affine checks are rows; a feature that feeds a
relation keeps every admissible value. A relation of another form sends the oracle to the
search, which projects every candidate (``unsupported_reason_`` names the relations;
``method="exact"`` refuses it). The fewest changes counts the features a person changes:
derived features, which move as consequences, are left out, as in the metric suite's L0
(:func:`sensecf.data.constraints.count_changes`).

A query's missing feature (nobody measured it) stays missing in every counterfactual. The
program holds it where the classifier puts a missing value: down each tree's missing-value
branch, or at the imputer's value in front of a linear model; such a query is as exact as a
complete one unless a relation reads the missing feature (then it is searched).

Each query's answer (:mod:`.certificate`) says ``optimal``, ``feasible`` (with a bound),
``infeasible`` (no allowed change flips this prediction, proven) or ``time_limit`` (the
budget ran out first). The budget is counted work (:mod:`.budget`), so answers repeat on any
machine; a seconds limit is an option.
"""

from sensecf.generators.oracle.certificate import CERTIFICATE_COLUMNS, STATUSES, Certificate
from sensecf.generators.oracle.generator import Oracle

__all__ = ["CERTIFICATE_COLUMNS", "STATUSES", "Certificate", "Oracle"]
