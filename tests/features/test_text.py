"""Tests of review cleaning: clean_text, strip_html_markup and the TextCleaner transformer."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.utils import estimator_checks

from sentimentops.features.text import (
    NEGATIONS,
    STOPWORDS,
    TextCleaner,
    clean_text,
    strip_html_markup,
)
from tests.strategies import (
    CLEANING_FLAGS,
    any_texts,
    cleaning_flags,
    review_texts,
    text_column_values,
)

ALL_FLAG_COMBINATIONS = [
    dict(zip(CLEANING_FLAGS, values, strict=True))
    for values in itertools.product([True, False], repeat=len(CLEANING_FLAGS))
]


def _flag_id(flags: dict[str, bool]) -> str:
    return "-".join(name for name, on in flags.items() if on) or "all-off"


# --- strip_html_markup ---------------------------------------------------------------------------


def test_strip_html_markup_replaces_tags_by_spaces_so_words_do_not_merge() -> None:
    stripped = strip_html_markup("It ended.<br /><br />Then<i>nothing</i>")

    assert "<" not in stripped
    assert stripped.split() == ["It", "ended.", "Then", "nothing"]


def test_strip_html_markup_unescapes_entities() -> None:
    assert strip_html_markup("Tom &amp; Jerry&#39;s &quot;show&quot;") == 'Tom & Jerry\'s "show"'


def test_strip_html_markup_keeps_escaped_tags_and_comparisons_as_text() -> None:
    assert strip_html_markup("&lt;br /&gt;") == "<br />"
    assert strip_html_markup("a < b and c > d, <3") == "a < b and c > d, <3"


def test_strip_html_markup_leaves_only_whitespace_of_a_markup_only_review() -> None:
    assert strip_html_markup("<br /><br /><!-- nothing -->").strip() == ""


# --- clean_text: concrete examples ---------------------------------------------------------------


def test_clean_text_removes_html_without_merging_words() -> None:
    assert clean_text("Loved it.<br /><br />Great film") == "loved it great film"


def test_clean_text_unescapes_entities_before_tokenising() -> None:
    assert clean_text("It&#39;s Tom &amp; Jerry") == "it 's tom jerry"


def test_clean_text_without_strip_html_keeps_tag_names_as_words() -> None:
    assert clean_text("a<br />b &amp; c", strip_html=False) == "a br b amp c"


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("I didn't like it", "i did n't like it"),
        ("It isn't", "it is n't"),
        ("can't", "ca n't"),
        ("won't", "wo n't"),
        ("it's", "it 's"),
        ("they're", "they 're"),
        ("I'm", "i 'm"),
        ("we've", "we 've"),
        ("you'll", "you 'll"),
        ("he'd", "he 'd"),
        ("can't've", "ca n't 've"),
        ("it'sn't", "it 's n't"),
        ("0'SN'T", "0 's n't"),
        ("rock'n'roll", "rock'n'roll"),
        ("O'Brien", "o'brien"),
    ],
)
def test_clean_text_splits_contractions_the_treebank_way(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u2018", "\u02bc", "`", "\u00b4"])
def test_clean_text_folds_apostrophe_look_alikes(apostrophe: str) -> None:
    assert clean_text(f"I didn{apostrophe}t") == "i did n't"


def test_clean_text_drops_curly_quotes_around_words() -> None:
    assert clean_text("\u201cGreat\u201d, \u2018really\u2019") == "great really"


def test_clean_text_without_unicode_normalisation_does_not_fold_curly_apostrophes() -> None:
    assert clean_text("didn\u2019t", normalize_unicode=False) == "didn t"


def test_clean_text_normalises_compatibility_characters() -> None:
    assert clean_text("\uff27\uff32\uff25\uff21\uff34 \ufb01lm\u203c") == "great film ! !"


def test_clean_text_keeps_case_when_asked() -> None:
    assert clean_text("Didn't LIKE it", lowercase=False) == "Did n't LIKE it"


def test_clean_text_keeps_exclamation_and_question_marks_as_tokens() -> None:
    assert clean_text("Wow!!! Really?") == "wow ! ! ! really ?"


def test_clean_text_drops_all_punctuation_without_keep_punctuation() -> None:
    assert clean_text("Wow!!! Really? Yes, (truly)...", keep_punctuation=False) == (
        "wow really yes truly"
    )


def test_clean_text_drops_other_punctuation_symbols_and_emojis() -> None:
    assert clean_text('"A" - b; c: d_e 10/10 \U0001f600 :)') == "a b c d e 10 10"


def test_clean_text_stopword_removal_keeps_negations() -> None:
    cleaned = clean_text(
        "This is not the movie I didn't hate, it's nothing without her!", remove_stopwords=True
    )

    assert cleaned == "not movie did n't hate nothing without !"


def test_clean_text_stopword_removal_keeps_every_negation() -> None:
    negations = sorted(NEGATIONS)

    assert clean_text(" ".join(negations), remove_stopwords=True).split() == negations


def test_clean_text_stopword_removal_ignores_case() -> None:
    assert clean_text("The END", lowercase=False, remove_stopwords=True) == "END"


@pytest.mark.parametrize("text", ["", " ", "\n\t ", "\x00", "<br />", "...", "\U0001f600"])
def test_clean_text_of_text_without_words_is_empty(text: str) -> None:
    assert clean_text(text) == ""


def test_stopwords_are_sklearn_english_stopwords_and_clitics_without_negations() -> None:
    assert STOPWORDS.isdisjoint(NEGATIONS)
    assert frozenset(ENGLISH_STOP_WORDS) - NEGATIONS <= STOPWORDS
    assert {"'s", "'re", "'ve", "'ll", "'d", "'m"} == STOPWORDS - ENGLISH_STOP_WORDS
    assert {"not", "no", "never", "n't", "nor", "cannot", "without"} <= NEGATIONS


# --- clean_text: properties ----------------------------------------------------------------------


@pytest.mark.parametrize("flags", ALL_FLAG_COMBINATIONS, ids=_flag_id)
@settings(max_examples=150, deadline=None)
@given(text=any_texts())
def test_clean_text_is_idempotent_and_well_formed(flags: dict[str, bool], text: str) -> None:
    cleaned = clean_text(text, **flags)

    assert isinstance(cleaned, str)
    assert clean_text(cleaned, **flags) == cleaned
    # Single spaces between tokens, none at the ends: TF-IDF splits on whitespace.
    assert cleaned == " ".join(cleaned.split(" ")) == " ".join(cleaned.split())
    if flags["lowercase"]:
        assert cleaned == cleaned.lower()
    if flags["remove_stopwords"]:
        assert not any(token.lower() in STOPWORDS for token in cleaned.split())
    if not flags["keep_punctuation"]:
        assert "!" not in cleaned
        assert "?" not in cleaned


@settings(max_examples=300, deadline=None)
@given(text=review_texts(), flags=cleaning_flags())
def test_clean_text_stopword_removal_never_loses_a_negation(
    text: str, flags: dict[str, bool]
) -> None:
    def negations(remove_stopwords: bool) -> list[str]:
        cleaned = clean_text(text, **{**flags, "remove_stopwords": remove_stopwords})
        return [token for token in cleaned.split() if token.lower() in NEGATIONS]

    assert negations(remove_stopwords=True) == negations(remove_stopwords=False)


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_strip_html_markup_never_raises(text: str) -> None:
    assert isinstance(strip_html_markup(text), str)


# --- TextCleaner ---------------------------------------------------------------------------------

TEXTS = ["I didn't like it.<br />Awful!", "Great &amp; fun", ""]
EXPECTED = np.array(["i did n't like it awful !", "great fun", ""], dtype=object)


@pytest.mark.parametrize(
    "make_input",
    [
        list,
        tuple,
        pd.Series,
        lambda texts: np.array(texts),
        lambda texts: np.array(texts, dtype=object),
        lambda texts: np.array(texts, dtype=object).reshape(-1, 1),
        lambda texts: pd.DataFrame({"review": texts}),
    ],
    ids=["list", "tuple", "series", "str-array", "object-array", "column-array", "dataframe"],
)
def test_text_cleaner_transforms_columns_of_texts_to_a_1d_object_array(
    make_input: Callable[[list[str]], Any],
) -> None:
    cleaned = TextCleaner().fit_transform(make_input(TEXTS))

    assert cleaned.dtype == object
    assert cleaned.shape == (len(TEXTS),)
    np.testing.assert_array_equal(cleaned, EXPECTED)


def test_text_cleaner_converts_non_strings_deterministically() -> None:
    values = [None, float("nan"), np.float32("nan"), pd.NA, pd.NaT, 5, 2.5, True, np.str_("Hi!")]

    cleaned = TextCleaner().transform(pd.Series(values, dtype=object))

    assert cleaned.tolist() == ["", "", "", "", "", "5", "2 5", "true", "hi !"]


def test_text_cleaner_passes_its_parameters_to_clean_text() -> None:
    flags = {
        "strip_html": False,
        "normalize_unicode": False,
        "lowercase": False,
        "remove_stopwords": True,
        "keep_punctuation": False,
    }
    text = "The END<br />wasn\u2019t good!"

    cleaned = TextCleaner(**flags).transform([text]).tolist()

    assert cleaned == [clean_text(text, **flags)] == ["END br wasn t good"]
    assert cleaned != TextCleaner().transform([text]).tolist()


def test_text_cleaner_is_stateless() -> None:
    cleaner = TextCleaner()
    state_before = dict(vars(cleaner))

    assert cleaner.fit(TEXTS) is cleaner
    assert vars(cleaner) == state_before
    # No fit needed: a fresh cleaner transforms like a fitted one.
    np.testing.assert_array_equal(TextCleaner().transform(TEXTS), EXPECTED)


@pytest.mark.parametrize(
    "bad_input",
    [
        "a single review",
        np.array([["a", "b"], ["c", "d"]]),
        pd.DataFrame({"a": ["x"], "b": ["y"]}),
        np.array("scalar"),
        42,
    ],
    ids=["str", "2-column-array", "2-column-dataframe", "0d-array", "int"],
)
def test_text_cleaner_rejects_input_that_is_not_one_column(bad_input: Any) -> None:
    with pytest.raises(ValueError, match="TextCleaner expects"):
        TextCleaner().fit(bad_input)
    with pytest.raises(ValueError, match="TextCleaner expects"):
        TextCleaner().transform(bad_input)


def test_text_cleaner_feature_names_out_passes_one_name_through() -> None:
    cleaner = TextCleaner()

    assert cleaner.get_feature_names_out().tolist() == ["text"]
    assert cleaner.get_feature_names_out(["review"]).tolist() == ["review"]
    with pytest.raises(ValueError, match="one text column"):
        cleaner.get_feature_names_out(["a", "b"])


def test_text_cleaner_survives_pickle_and_skops() -> None:
    cleaner = TextCleaner(remove_stopwords=True, keep_punctuation=False)
    dumped = skops.io.dumps(cleaner)
    untrusted = skops.io.get_untrusted_types(data=dumped)

    assert untrusted == ["sentimentops.features.text.TextCleaner"]
    restored_copies = [
        pickle.loads(pickle.dumps(cleaner)),
        skops.io.loads(dumped, trusted=untrusted),
    ]
    for restored in restored_copies:
        assert restored.get_params() == cleaner.get_params()
        np.testing.assert_array_equal(restored.transform(TEXTS), cleaner.transform(TEXTS))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(text_column_values(), max_size=20), flags=cleaning_flags())
def test_text_cleaner_never_fails_on_a_column_and_keeps_its_length(
    values: list[Any], flags: dict[str, bool]
) -> None:
    cleaned = TextCleaner(**flags).transform(pd.Series(values, dtype=object))

    assert cleaned.shape == (len(values),)
    assert all(isinstance(text, str) for text in cleaned)


# scikit-learn's generic checks feed 2-d numeric matrices: TextCleaner declares 1-d string input
# (two_d_array=False), so parametrize_with_checks yields no check at all for it. These are the
# checks of the estimator contract that do not depend on 2-d numeric input: cloning, repr, tags,
# get/set_params, __init__ only storing parameters, fit returning self and not changing them,
# statelessness, and (1-d numeric input being cleaned as str(x)) every numeric dtype being
# accepted. Left out: the checks that index X as 2-d (X[:, 0]), compare outputs with
# assert_allclose (numbers only), or expect complex, sparse, empty or 1-d numeric input to raise,
# which a text column accepts by design.
TEXT_CLEANER_CHECKS = [
    estimator_checks.check_estimator_cloneable,
    estimator_checks.check_estimator_repr,
    estimator_checks.check_estimator_tags_renamed,
    estimator_checks.check_valid_tag_types,
    estimator_checks.check_no_attributes_set_in_init,
    estimator_checks.check_parameters_default_constructible,
    estimator_checks.check_get_params_invariance,
    estimator_checks.check_set_params,
    estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
    estimator_checks.check_mixin_order,
    estimator_checks.check_fit_score_takes_y,
    estimator_checks.check_estimators_fit_returns_self,
    estimator_checks.check_estimators_overwrite_params,
    estimator_checks.check_fit_check_is_fitted,
    estimator_checks.check_transformers_unfitted_stateless,
    estimator_checks.check_n_features_in_after_fitting,
    estimator_checks.check_readonly_memmap_input,
    estimator_checks.check_estimators_dtypes,
    estimator_checks.check_dtype_object,
]


@pytest.mark.parametrize("check", TEXT_CLEANER_CHECKS, ids=lambda check: check.__name__)
def test_text_cleaner_passes_sklearn_contract_checks(check: Callable[[str, Any], None]) -> None:
    check("TextCleaner", TextCleaner())
