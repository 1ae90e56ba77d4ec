"""The demo and the simulation, in one place: nothing outside `wangge demo` and the tests needs it.

- `district`: the demo district builder (`build_demo`, the demo month job); re-exported here.
- `users`: the demo accounts, one per default role.
- `simulate`: a month of case activity made through the real case services.
- `registry`: synthetic basic data (people, households, buildings, components, employers).
- `employers`, `pipelines`, `visits`: the employer lists, the long pipelines, the home visits.
- `micro_grids`, `disputes`, `resident_services`: the demo's micro grids, disputes and 代办
  requests.

Domain packages never import this package at module level (it imports them all).
"""

from wangge.demo.district import (
    DEMO_COUNTY,
    DEMO_NAME,
    DEMO_SEED,
    HOUSEHOLDS_PER_KM2,
    MONTH_JOB,
    UNIT_CELL_M2,
    build_demo,
    demo_exists,
    month_pending,
    plan_month,
    run_month,
)

__all__ = [
    "DEMO_COUNTY",
    "DEMO_NAME",
    "DEMO_SEED",
    "HOUSEHOLDS_PER_KM2",
    "MONTH_JOB",
    "UNIT_CELL_M2",
    "build_demo",
    "demo_exists",
    "month_pending",
    "plan_month",
    "run_month",
]
