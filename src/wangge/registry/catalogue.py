"""Catalogues of component (部件) and event (事件/事项) classes. PURE.

Two schemes are supported, GB/T 30428.2 by default (codes: `registry.component_codes`):

- GB/T 30428.2: class code 4 digits (2 大类 + 2 小类); component identifier 16 digits
  = 6 county + 2 major + 2 minor + 6 serial.
- GB/T 47678.5: class code 5 digits (2 大类 + 3 小类); component identifier 17 digits
  = 6 county + 2 major + 3 minor + 6 serial.

Example: 3205080101000001 = 320508 (姑苏区) + 01 公用设施 + 01 上水井盖 + serial 000001.

The catalogues live in `wangge/data/*.tsv` (format described in each file's header).
They are RECONSTRUCTED from deployed systems, not copied from the official standard
texts, which could not be read (shared/standards/notes.md §2 and §8):

- GB/T 30428.2 components: 6 major and 85 minor classes; a secondary source counts 84.
  0311 噪声显示屏 and 0605 港监设施 each appear in one source only and are marked
  `uncertain`.
- GB/T 30428.2 events: the CJ/T 214-2007 list; the xx99 "其他" catch-alls come from
  deployments and are marked `uncertain`.
- GB/T 47678.5 (reported 2026): one secondary transcription; the 01xxx-05xxx matters are
  derived as "<component>异常".

Local extensions live under major class 21 (2101…, 21001…) and are added per city with
`Catalogue.extend`; `load_catalogue` returns a fresh copy each time, so extensions never
leak between callers.

Pipeline classes (`wangge/data/pipeline_classes.tsv`): each class related to a pipeline network
carries `network` (water, drainage, power, telecom, gas, heat) and `geometry` ("line" for the
pipeline itself, else "point"). GB/T 30428.2 has only the point classes (井盖, 交接箱, 调压站 …);
the line classes are the recommended local extensions `pipeline_line_classes()` (2101 给水管线 …).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Literal, get_args

from wangge.errors import ValidationFailed

__all__ = [
    "DEFAULT_SCHEME",
    "EXTENSION_MAJOR",
    "Catalogue",
    "Kind",
    "MajorClass",
    "MinorClass",
    "Scheme",
    "load_catalogue",
    "pipeline_line_classes",
]

Scheme = Literal["GB/T 30428.2", "GB/T 47678.5"]
Kind = Literal["component", "event"]
DEFAULT_SCHEME: Scheme = "GB/T 30428.2"
EXTENSION_MAJOR = "21"

# Digits of the minor part of a class code, per scheme.
MINOR_WIDTH: dict[str, int] = {"GB/T 30428.2": 2, "GB/T 47678.5": 3}
_FILES: dict[tuple[str, str], str] = {
    ("GB/T 30428.2", "component"): "components_gbt30428_2.tsv",
    ("GB/T 30428.2", "event"): "events_gbt30428_2.tsv",
    ("GB/T 47678.5", "component"): "components_gbt47678_5.tsv",
    ("GB/T 47678.5", "event"): "matters_gbt47678_5.tsv",
}
_EXTENSION_NAMES: dict[tuple[str, str], str] = {
    ("GB/T 30428.2", "component"): "扩展部件",
    ("GB/T 30428.2", "event"): "扩展事件",
    ("GB/T 47678.5", "component"): "扩展部件",
    ("GB/T 47678.5", "event"): "扩展事项",
}


@dataclass(frozen=True, slots=True)
class MajorClass:
    """A major class (大类)."""

    code: str
    name: str
    extension: bool = False


@dataclass(frozen=True, slots=True)
class MinorClass:
    """A minor class (小类): the full class code, e.g. 0101, and its major class code."""

    code: str
    name: str
    major: str
    aliases: tuple[str, ...] = ()
    uncertain: bool = False
    extension: bool = False
    # Pipelines: the network the class belongs to and whether it is drawn as a line.
    network: str | None = None
    geometry: str = "point"

    @property
    def is_line(self) -> bool:
        """True for a class whose components are lines (a pipeline, not its 井盖)."""
        return self.geometry == "line"


GEOMETRIES = ("point", "line")


@dataclass(frozen=True, slots=True)
class LocalLineClass:
    """A recommended local pipeline class: minor number, network and name (给水管线 …)."""

    minor: int
    network: str
    name: str

    def code(self, scheme: str) -> str:
        """The class code in a scheme: 2101 (GB/T 30428.2) or 21001 (GB/T 47678.5)."""
        return f"{EXTENSION_MAJOR}{self.minor:0{MINOR_WIDTH[scheme]}d}"


def _name_key(name: str) -> str:
    # Full-width and half-width brackets, stray spaces: 输油（气）井盖 == 输油(气)井盖.
    return "".join(unicodedata.normalize("NFKC", name).split())


def _class_error(zh: str, en: str, code: str, field: str = "code") -> ValidationFailed:
    return ValidationFailed(zh, en, code=code, field=field)


class Catalogue:
    """The major and minor classes of one scheme and kind, with local extensions."""

    def __init__(
        self,
        scheme: Scheme,
        kind: Kind,
        majors: tuple[MajorClass, ...],
        minors: tuple[MinorClass, ...],
        notes: tuple[str, ...] = (),
    ) -> None:
        self.scheme: Scheme = scheme
        self.kind: Kind = kind
        self.notes = notes
        self.minor_width = MINOR_WIDTH[scheme]
        self._majors: dict[str, MajorClass] = {}
        self._minors: dict[str, MinorClass] = {}
        self._by_name: dict[str, MinorClass] = {}
        self._major_by_name: dict[str, MajorClass] = {}
        for major in majors:
            self._add_major(major)
        for minor in minors:
            self._add_minor(minor)

    def _add_major(self, major: MajorClass) -> None:
        if major.code in self._majors:
            raise ValueError(f"{self.scheme} {self.kind}: duplicate major class {major.code}")
        self._majors[major.code] = major
        self._major_by_name[_name_key(major.name)] = major

    def _add_minor(self, minor: MinorClass) -> None:
        if minor.major not in self._majors or not minor.code.startswith(minor.major):
            raise ValueError(f"{self.scheme} {self.kind}: {minor.code} has no major class")
        if len(minor.code) != 2 + self.minor_width or not minor.code.isdigit():
            raise ValueError(f"{self.scheme} {self.kind}: bad class code {minor.code!r}")
        if minor.code in self._minors:
            raise ValueError(f"{self.scheme} {self.kind}: duplicate class {minor.code}")
        for name in (minor.name, *minor.aliases):
            key = _name_key(name)
            if key in self._by_name:
                raise ValueError(f"{self.scheme} {self.kind}: duplicate class name {name}")
            self._by_name[key] = minor
        self._minors[minor.code] = minor

    @property
    def majors(self) -> tuple[MajorClass, ...]:
        """Return the major classes in catalogue order."""
        return tuple(self._majors.values())

    @property
    def minors(self) -> tuple[MinorClass, ...]:
        """Return the minor classes in catalogue order, extensions last."""
        return tuple(self._minors.values())

    def __len__(self) -> int:
        return len(self._minors)

    def __iter__(self) -> Iterator[MinorClass]:
        return iter(self.minors)

    def __contains__(self, code: object) -> bool:
        return code in self._minors

    def major(self, code: str) -> MajorClass | None:
        """Return the major class with this 2-digit code, or None."""
        return self._majors.get(code)

    def major_by_name(self, name: str) -> MajorClass | None:
        """Return the major class with this name, or None."""
        return self._major_by_name.get(_name_key(name))

    def get(self, code: str) -> MinorClass | None:
        """Return the minor class with this code, or None."""
        return self._minors.get(code)

    def by_name(self, name: str) -> MinorClass | None:
        """Return the minor class with this name or alias (width- and space-insensitive)."""
        return self._by_name.get(_name_key(name))

    def require(self, code: str, *, field: str = "class_code") -> MinorClass:
        """Return the minor class with this code; raise ValidationFailed when there is none."""
        found = self._minors.get(code)
        if found is None:
            raise _class_error(
                f"{self.scheme} 中不存在小类 {code}",
                f"{self.scheme} has no minor class {code}",
                "unknown_class",
                field,
            )
        return found

    def minors_of(self, major: str) -> tuple[MinorClass, ...]:
        """Return the minor classes of one major class."""
        return tuple(minor for minor in self._minors.values() if minor.major == major)

    def extend(
        self, code: str, name: str, *, network: str | None = None, geometry: str = "point"
    ) -> MinorClass:
        """Add a local extension class under major class 21; refuse other codes and duplicates."""
        width = 2 + self.minor_width
        pattern = EXTENSION_MAJOR + "x" * self.minor_width
        if (
            not isinstance(code, str)
            or len(code) != width
            or not (code.isascii() and code.isdigit())
            or not code.startswith(EXTENSION_MAJOR)
            or int(code[2:]) == 0
        ):
            raise _class_error(
                f"扩展类编码 {code!r} 无效：{self.scheme} 的本地扩展应为 {pattern}"
                f"（大类 21，小类不为 0）",
                f"extension class code {code!r} is invalid: {self.scheme} local extensions"
                f" are {pattern} (major class 21, minor not zero)",
                "bad_extension_code",
            )
        if code in self._minors:
            raise _class_error(
                f"小类 {code} 已存在（{self._minors[code].name}）",
                f"class {code} already exists ({self._minors[code].name})",
                "duplicate_class",
            )
        if not isinstance(name, str) or not name.strip():
            raise _class_error(
                "扩展类名称不能为空", "extension class name must not be empty",
                "bad_class_name", "name",
            )  # fmt: skip
        name = name.strip()
        clash = self._by_name.get(_name_key(name))
        if clash is not None:
            raise _class_error(
                f"名称 {name} 已被小类 {clash.code} 使用",
                f"name {name} is already used by class {clash.code}",
                "duplicate_class",
                "name",
            )
        if EXTENSION_MAJOR not in self._majors:
            extension_name = _EXTENSION_NAMES[(self.scheme, self.kind)]
            self._add_major(MajorClass(EXTENSION_MAJOR, extension_name, extension=True))
        if geometry not in GEOMETRIES:
            raise _class_error(
                f"几何类型 {geometry!r} 无效，应为 point（点）或 line（线）",
                f"geometry {geometry!r} must be point or line", "bad_geometry", "geometry",
            )  # fmt: skip
        minor = MinorClass(
            code=code, name=name, major=EXTENSION_MAJOR, extension=True, network=network,
            geometry=geometry,
        )  # fmt: skip
        self._add_minor(minor)
        return minor

    def __repr__(self) -> str:
        return (
            f"<Catalogue {self.scheme} {self.kind}: {len(self._majors)} major, "
            f"{len(self._minors)} minor classes>"
        )


@cache
def _read(
    scheme: str, kind: str
) -> tuple[tuple[str, ...], tuple[MajorClass, ...], tuple[MinorClass, ...]]:
    # Parsed once per process; the immutable rows are shared, the Catalogue is not.
    text = (files("wangge") / "data" / _FILES[(scheme, kind)]).read_text(encoding="utf-8")
    notes: list[str] = []
    majors: list[MajorClass] = []
    minors: list[MinorClass] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            notes.append(line[1:].strip())
            continue
        if not line.strip():
            continue
        cells = line.rstrip("\n").split("\t")
        if len(cells) < 2 or len(cells) > 4:
            raise ValueError(f"{_FILES[(scheme, kind)]}:{number}: expected 2-4 TAB-separated cells")
        code, name = cells[0].strip(), cells[1].strip()
        aliases = (
            tuple(a.strip() for a in cells[2].split("|") if a.strip()) if len(cells) > 2 else ()
        )
        status = cells[3].strip() if len(cells) > 3 else ""
        if status not in ("", "uncertain"):
            raise ValueError(f"{_FILES[(scheme, kind)]}:{number}: unknown status {status!r}")
        if len(code) == 2:
            majors.append(MajorClass(code, name, extension=code == EXTENSION_MAJOR))
        else:
            network, geometry = _pipeline_marks()[0].get((scheme, code), (None, "point"))
            minors.append(
                MinorClass(
                    code, name, code[:2], aliases, uncertain=status == "uncertain",
                    network=network, geometry=geometry,
                )
            )  # fmt: skip
    return tuple(notes), tuple(majors), tuple(minors)


@cache
def _pipeline_marks() -> tuple[
    dict[tuple[str, str], tuple[str | None, str]], tuple[LocalLineClass, ...]
]:
    """Read pipeline_classes.tsv: (scheme, code) → (network, geometry), and the local lines."""
    text = (files("wangge") / "data" / "pipeline_classes.tsv").read_text(encoding="utf-8")
    marks: dict[tuple[str, str], tuple[str | None, str]] = {}
    local: list[LocalLineClass] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#") or not line.strip():
            continue
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) not in (4, 5) or cells[3] not in GEOMETRIES:
            raise ValueError(
                f"pipeline_classes.tsv:{number}: expected scheme, code, network, geometry"
            )
        network = None if cells[2] == "-" else cells[2]
        if cells[0] == "local":
            local.append(LocalLineClass(int(cells[1]), cells[2], cells[4]))
        else:
            marks[(cells[0], cells[1])] = (network, cells[3])
    return marks, tuple(local)


def pipeline_line_classes() -> tuple[LocalLineClass, ...]:
    """Return the recommended local pipeline line classes (给水管线, 排水管线 …)."""
    return _pipeline_marks()[1]


def check_scheme_kind(scheme: str, kind: str) -> None:
    """Refuse an unknown scheme or kind (a programming error, not a user's)."""
    if scheme not in get_args(Scheme):
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {get_args(Scheme)}")
    if kind not in get_args(Kind):
        raise ValueError(f"unknown kind {kind!r}; expected one of {get_args(Kind)}")


def load_catalogue(scheme: Scheme = DEFAULT_SCHEME, kind: Kind = "component") -> Catalogue:
    """Return a fresh catalogue (safe to extend) of one scheme and kind."""
    check_scheme_kind(scheme, kind)
    notes, majors, minors = _read(scheme, kind)
    return Catalogue(scheme, kind, majors, minors, notes)
