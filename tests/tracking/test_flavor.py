"""skops as the models' format: the trusted types, imported without skops' default trust."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.user import REPO_ROOT

# In a fresh process, as a command meets it: skops imported the project's way, then a model of
# each family fitted, saved and read back with the project's trusted types.
_EVERY_FAMILY = """
import json, sys
from sentimentops.tracking.flavor import SKOPS_TRUSTED_TYPES, import_skops
skops_io = import_skops()
listed_only = ("sklearn.mixture", "sklearn.gaussian_process", "sklearn.neural_network",
               "sklearn.semi_supervised", "sklearn.kernel_ridge")
unrelated = sorted(name for name in listed_only if name in sys.modules)
import pandas as pd
from sentimentops.config import get_settings
from sentimentops.models.candidates import build_candidate
reviews = pd.read_parquet("data/imdb/imdb_reviews.parquet").sample(300, random_state=1)
labels = (reviews["sentiment"] == "positive").astype(int)
untrusted, scores_equal = {}, {}
for family in ("logreg", "nb_logreg", "linear_svm", "random_forest"):
    candidate = build_candidate(family, get_settings())
    candidate.pipeline.set_params(**{name: values[0] for name, values in candidate.grid.items()})
    if family == "random_forest":
        candidate.pipeline.set_params(classifier__n_estimators=5)
    fitted = candidate.pipeline.fit(reviews["review"].tolist(), labels)
    blob = skops_io.dumps(fitted)
    outside = set(skops_io.get_untrusted_types(data=blob)) - set(SKOPS_TRUSTED_TYPES)
    untrusted[family] = sorted(outside)
    loaded = skops_io.loads(blob, trusted=SKOPS_TRUSTED_TYPES)
    texts = reviews["review"].tolist()[:20]
    scores_equal[family] = (loaded.predict_proba(texts) == fitted.predict_proba(texts)).all().item()
print(json.dumps({"unrelated": unrelated, "untrusted": untrusted, "equal": scores_equal}))
"""


def test_every_family_loads_with_the_trusted_types_and_skops_imports_no_unrelated_module() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _EVERY_FAMILY], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=300, check=True,
    )  # fmt: skip
    found = json.loads(completed.stdout.splitlines()[-1])

    assert found["unrelated"] == []  # only skops' listing of every estimator imports them
    assert found["untrusted"] == {family: [] for family in found["untrusted"]}
    assert found["equal"] == dict.fromkeys(found["untrusted"], True)
    assert len(found["equal"]) == 4
