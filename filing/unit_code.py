"""不动产单元代码 (real-estate unit code), GB/T 37346-2019: 28 characters.

430104 001001 GB 00001 F 00010203
│      │      │  │     │ └ fixture number (8 digits: building and unit)
│      │      │  │     └ fixture type: F building, L forest, Q other, W none
│      │      │  └ parcel number within the cadastral sub-zone (5 digits)
│      │      └ parcel feature: G state / J collective / Z disputed ownership, then the right type
│      └ cadastral zone and sub-zone (3 + 3 digits)
└ county-level administrative division (GB/T 2260, 6 digits)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(
    r"(?P<division>\d{6})(?P<zone>\d{3})(?P<subzone>\d{3})"
    r"(?P<ownership>[GJZ])(?P<right>[A-Z])(?P<parcel>\d{5})"
    r"(?P<fixture_type>[FLQW])(?P<fixture>\d{8})"
)


class UnitCodeError(ValueError):
    """Not a valid 不动产单元代码."""


@dataclass(frozen=True)
class UnitCode:
    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or len(self.value) != 28:
            raise UnitCodeError("a unit code has exactly 28 characters")
        if not _PATTERN.fullmatch(self.value):
            raise UnitCodeError(
                f"{self.value!r} is not a GB/T 37346 unit code "
                "(6-digit division, 6-digit zone, G/J/Z + letter, 5-digit parcel, "
                "F/L/Q/W, 8 digits)"
            )

    @property
    def division(self) -> str:
        return self.value[:6]

    @property
    def parcel(self) -> str:
        """The parcel (宗地) part: division, zone, feature code and parcel number."""
        return self.value[:19]

    @property
    def is_building(self) -> bool:
        return self.value[19] == "F"

    def __str__(self) -> str:
        return self.value
