"""`wangge notify …`: channel routes (推送渠道) and dead letters (投递失败的消息)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from wangge.cli import DbOption, app, friendly, out, session_scope, settings_for

notify_app = typer.Typer(
    help="Notification routes and dead letters 通知渠道与投递失败的消息.", no_args_is_help=True
)
app.add_typer(notify_app, name="notify")


@notify_app.command("route-add")
@friendly
def route_add(
    county: str = typer.Option(..., help="county code 区县代码"),
    channel: str = typer.Option(..., help="wecom | dingtalk | sms"),
    name: str = typer.Option(..., help="a name for people, e.g. 城管委值班群"),
    department: str | None = typer.Option(None, help="department code; none: the county centre"),
    url_ref: str | None = typer.Option(
        None, help="name of the webhook secret in WANGGE_NOTIFY_SECRETS (robots)"
    ),
    sign_ref: str | None = typer.Option(
        None, help="name of DingTalk's signing secret in WANGGE_NOTIFY_SECRETS"
    ),
    kind: Annotated[
        list[str] | None,
        typer.Option(help="dispatch | warning | overdue | urge | return (repeat; none: all)"),
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Add a robot or SMS route for a county centre or a department."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.notifications.service import RouteIn, create_route

    settings = settings_for(database_url)
    data = RouteIn(
        county_code=county,
        channel=channel,
        name=name,
        department_code=department,
        url_ref=url_ref,
        sign_ref=sign_ref,
        kinds=tuple(kind or ()),
    )
    with session_scope(settings) as session:
        route = create_route(session, LOCAL_OPERATOR, data, secrets=set(settings.notify_secrets))
        out.print(f"已添加推送渠道 added route {route.id}")


@notify_app.command("route-list")
@friendly
def route_list(
    county: str | None = typer.Option(None, help="county code 区县代码"),
    database_url: DbOption = None,
) -> None:
    """List the routes (names of secrets only)."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.notifications.service import list_routes

    with session_scope(settings_for(database_url)) as session:
        table = Table("id", "county", "department", "channel", "kinds", "secrets", "active", "name")
        for r in list_routes(session, LOCAL_OPERATOR, county=county):
            table.add_row(
                str(r.id),
                r.county_code,
                r.department_code or "(centre)",
                r.channel,
                ",".join(r.kinds) or "all",
                " ".join(x for x in (r.url_ref, r.sign_ref) if x),
                "yes" if r.is_active else "no",
                r.name,
            )
    out.print(table)


@notify_app.command("route-disable")
@friendly
def route_disable(route_id: int, database_url: DbOption = None) -> None:
    """Stop a route."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.notifications.service import deactivate_route

    with session_scope(settings_for(database_url)) as session:
        deactivate_route(session, LOCAL_OPERATOR, route_id)
    out.print(f"已停用 disabled route {route_id}")


@notify_app.command("dead")
@friendly
def dead(
    county: str | None = typer.Option(None, help="county code 区县代码"),
    database_url: DbOption = None,
) -> None:
    """List the messages given up on, with their last error."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.notifications.service import dead_letters

    with session_scope(settings_for(database_url)) as session:
        table = Table("id", "topic", "channel", "recipient", "case", "attempts", "error")
        for d in dead_letters(session, LOCAL_OPERATOR, county=county):
            m = d.message
            table.add_row(
                str(m.id),
                m.topic,
                m.channel,
                m.recipient,
                d.case_code or "",
                str(m.attempts),
                m.last_error or "",
            )
    out.print(table)


@notify_app.command("retry")
@friendly
def retry(message_ids: list[int], database_url: DbOption = None) -> None:
    """Retry dead letters: fresh attempts, due now (the delivery worker sends them)."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.notifications.service import retry_message

    with session_scope(settings_for(database_url)) as session:
        for message_id in message_ids:
            retry_message(session, LOCAL_OPERATOR, message_id)
    out.print(f"已重新排队 queued again: {len(message_ids)}")
