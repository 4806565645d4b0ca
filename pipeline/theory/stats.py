"""Correlations as plain floats (None where undefined), from the evaluation's `correlation`."""

from __future__ import annotations

from typing import Optional

from pipeline.evaluation.metrics import correlation


def pearson(a, b) -> Optional[float]:
    return correlation(a, b).pearson


def spearman(a, b) -> Optional[float]:
    return correlation(a, b).spearman
