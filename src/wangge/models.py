"""Import every model module so metadata (and Alembic) sees all tables."""

from __future__ import annotations


def import_all_models() -> None:
    """Register all ORM models on Base.metadata."""
    import wangge.assignments.models
    import wangge.audit.models
    import wangge.auth.models
    import wangge.cases.models
    import wangge.departments.models
    import wangge.disputes.models
    import wangge.divisions.models
    import wangge.evaluation.models
    import wangge.evaluation.publication_models
    import wangge.evaluation.rollup_models
    import wangge.grids.models
    import wangge.intake.models
    import wangge.lines.models
    import wangge.notifications.models
    import wangge.ops.jobs
    import wangge.ops.leases
    import wangge.registry.models
    import wangge.resident_services.models  # noqa: F401
