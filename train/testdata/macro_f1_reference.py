#!/usr/bin/python3
"""Reference macro-F1 from scikit-learn for train/metrics_f1_test.go.

Random (true, predicted) label lists over K classes, including classes that are
never predicted, classes predicted but never true, and classes absent from both
(sklearn's macro average uses the labels present in either list). Writes
macro_f1_ref.json next to this script.

Run: /usr/bin/python3 train/testdata/macro_f1_reference.py   (Debian: python3-sklearn)
"""
import json
import os
import random

import sklearn
from sklearn.metrics import f1_score

rng = random.Random(14)
cases = []
for n, k in [(1, 2), (5, 3), (12, 4), (40, 6), (100, 6), (64, 10), (30, 8)]:
    true = [rng.randrange(k) for _ in range(n)]
    # Predictions: mostly right, some noise, and class k-1 never predicted.
    pred = [t if rng.random() < 0.6 else rng.randrange(k) for t in true]
    pred = [min(p, k - 2) for p in pred]
    cases.append({"classes": k, "true": true, "pred": pred,
                  "macro_f1": f1_score(true, pred, average="macro", zero_division=0)})
# A class predicted that is never true, and a class in neither list.
true = [0, 0, 1, 1, 1]
pred = [0, 2, 1, 1, 0]
cases.append({"classes": 4, "true": true, "pred": pred,
              "macro_f1": f1_score(true, pred, average="macro", zero_division=0)})
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "macro_f1_ref.json")
with open(out, "w") as f:
    f.write('{"sklearn": %s, "cases": [\n' % json.dumps(sklearn.__version__))
    f.write(",\n".join(json.dumps(c) for c in cases))
    f.write("\n]}\n")
