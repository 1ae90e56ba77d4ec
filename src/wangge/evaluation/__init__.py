"""Evaluation (综合评价): standard counts, rates, composite scores, grades, reports, hot spots."""
