"""`wangge rule …`: response rules by channel (答复时限规则) as the local operator."""

from __future__ import annotations

import typer
from rich.table import Table

from wangge.cli import DbOption, app, friendly, out, session_scope, settings_for

rule_app = typer.Typer(help="Response rules by channel 答复时限规则.", no_args_is_help=True)
app.add_typer(rule_app, name="rule")

STAGE_HELP = "respond (first answer) | solve (report → close) | a stage: accept … close"
URGENCY = {"any": None, "urgent": True, "ordinary": False}


@rule_app.command("list")
@friendly
def list_cmd(
    county: str = typer.Option(..., help="county code 区县代码"),
    all_: bool = typer.Option(False, "--all", help="include disabled rules"),
    database_url: DbOption = None,
) -> None:
    """List a county's response rules."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.cases.response import list_rules

    with session_scope(settings_for(database_url)) as session:
        rows = list_rules(session, LOCAL_OPERATOR, county, include_inactive=all_)
        table = Table("id", "source", "urgent", "stage", "hours", "clock", "active", "name")
        for r in rows:
            table.add_row(
                str(r.id),
                r.source,
                {None: "any", True: "urgent", False: "ordinary"}[r.urgent],
                r.stage,
                f"{r.hours:g}",
                "24h" if r.around_the_clock else "working",
                "yes" if r.is_active else "no",
                r.name,
            )
    out.print(table)


@rule_app.command("add")
@friendly
def add_cmd(
    county: str = typer.Option(..., help="county code 区县代码"),
    source: str = typer.Option(..., help="online | hotline | patrol | video | department"),
    stage: str = typer.Option(..., help=STAGE_HELP),
    hours: float = typer.Option(..., help="the limit in hours"),
    name: str = typer.Option(..., "--name", help="rule name 规则名称"),
    urgency: str = typer.Option("any", help="any | urgent | ordinary"),
    working_hours: bool = typer.Option(
        False, "--working-hours", help="count working hours (default: around the clock)"
    ),
    database_url: DbOption = None,
) -> None:
    """Add a rule; refused when an active one has the same channel, urgency and stage."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.cases.response import RuleIn, create_rule
    from wangge.errors import ValidationFailed

    if urgency not in URGENCY:
        raise ValidationFailed(
            f"紧急程度只能是 {'/'.join(URGENCY)}",
            f"urgency must be one of {'/'.join(URGENCY)}",
            field="urgency",
        )
    with session_scope(settings_for(database_url)) as session:
        rule = create_rule(
            session,
            LOCAL_OPERATOR,
            RuleIn(
                county_code=county,
                name=name,
                source=source,
                stage=stage,
                hours=hours,
                urgent=URGENCY[urgency],
                around_the_clock=not working_hours,
            ),
        )
        made = rule.id
    out.print(f"已新增规则 {made} / rule {made} added")


@rule_app.command("disable")
@friendly
def disable_cmd(rule_id: int, database_url: DbOption = None) -> None:
    """Disable a rule: new cases no longer follow it; promises already made stand."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.cases.response import deactivate_rule

    with session_scope(settings_for(database_url)) as session:
        deactivate_rule(session, LOCAL_OPERATOR, rule_id)
    out.print(f"已停用规则 {rule_id} / rule {rule_id} disabled")
