"""Every registry table, imported together so metadata and Alembic see them."""

from wangge.registry.models_common import DuplicateDecision, LabelKind, RecordChange
from wangge.registry.models_component_grids import ComponentGrid
from wangge.registry.models_components import (
    Component,
    ComponentClassExtension,
    ComponentSerial,
)
from wangge.registry.models_houses import Building, Room, Tenancy
from wangge.registry.models_organisations import Inspection, IntegrityGrade, Organisation
from wangge.registry.models_people import Household, Person, PersonAddress
from wangge.registry.models_references import EmployerReference
from wangge.registry.models_visits import HouseholdVisit

__all__ = [
    "Building", "Component", "ComponentClassExtension", "ComponentGrid", "ComponentSerial", "DuplicateDecision",
    "EmployerReference", "Household", "HouseholdVisit",
    "Inspection", "IntegrityGrade", "LabelKind", "Organisation", "Person", "PersonAddress",
    "RecordChange", "Room", "Tenancy",
]  # fmt: skip
