"""Request bodies of the disputes API (unknown fields are refused, see InputModel)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from wangge.common.schemas import InputModel


class PartyIn(InputModel):
    """A party to the dispute (当事人); everything here is masked on read."""

    name: str = Field(min_length=1, max_length=50, description="姓名")
    phone: str | None = Field(default=None, max_length=32, description="联系电话 (optional)")
    id_number: str | None = Field(default=None, max_length=18, description="身份证号 (optional)")


class DisputeIn(InputModel):
    """Register a dispute where it happened; the grid is found from the position."""

    kind: str = Field(
        max_length=16,
        description="neighbour 邻里纠纷 | family 婚姻家庭 | property 物业纠纷 | labour 劳资纠纷 | "
        "land 土地纠纷 | other 其他 (the Chinese name is accepted too)",
    )
    summary: str = Field(min_length=2, max_length=4000, description="纠纷简要情况")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: str | None = Field(default=None, max_length=32, description="EPSG:4490 by default")
    address: str | None = Field(default=None, max_length=200)
    parties: list[PartyIn] = Field(min_length=1, max_length=20)
    mediator_user_id: int | None = Field(
        default=None, description="调解员 (a user); the registering worker by default"
    )


class SessionIn(InputModel):
    """A mediation session (调解过程)."""

    held_on: date = Field(description="调解日期")
    place: str = Field(min_length=1, max_length=200, description="调解地点")
    notes: str = Field(min_length=2, max_length=4000, description="调解记录")


class OutcomeIn(InputModel):
    """The outcome: settled (调解成功), failed (调解失败) or transferred (转交)."""

    outcome: str = Field(max_length=16)
    note: str | None = Field(default=None, max_length=4000, description="结果说明")
    transferred_to: str | None = Field(
        default=None, max_length=100, description="接收单位 (transferred only)"
    )
    no_agreement_reason: str | None = Field(
        default=None, max_length=1000, description="settled without an agreement document: why"
    )


class FollowUpIn(InputModel):
    """The follow-up visit (回访) that closes the dispute."""

    visited_on: date = Field(description="回访日期")
    worker: str | None = Field(
        default=None, max_length=100, description="回访人 (the caller by default)"
    )
    result: str = Field(min_length=2, max_length=2000, description="回访结果")
