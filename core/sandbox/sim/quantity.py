"""Kubernetes ``resource.Quantity``: parsing, adding and the canonical string Go prints.

KubeRay fills ``status.desiredCPU``/``desiredMemory`` by ``Quantity.Add``-ing the pod templates'
requests, and the API server returns the sum's ``String()``. Two details decide that text:

- the sum keeps the *format* of the first non-zero addend (``BinarySI`` for ``4Gi``, ``DecimalSI``
  for ``4G``, ``2`` or ``500m``, ``DecimalExponent`` for ``1e3``), so ``4G + 2×1G`` prints ``6G``
  while ``4G + 2×1Gi`` prints ``6147483648``;
- ``String()`` canonicalises in that format: binary as the largest power of 1024 that divides the
  value (``1536Mi``), falling back to decimal below 1024 or for fractions; decimal as an integer
  mantissa with an exponent that is a multiple of three (``1500m``, ``1k``, ``5G``).

This is a port of ``k8s.io/apimachinery/pkg/api/resource`` (``ParseQuantity``, ``Add``,
``CanonicalizeBytes``) for the values a sandbox sees: exact decimals rounded up to nano units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_UP, Decimal
from enum import StrEnum
from typing import Any

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$")
_DECIMAL_SUFFIX = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15,
                   "E": 18}  # fmt: skip
_BINARY_SUFFIX = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}  # powers of 1024
_DECIMAL_NAME = {exp: suffix for suffix, exp in _DECIMAL_SUFFIX.items()}
_BINARY_NAME = {0: "", **{power: suffix for suffix, power in _BINARY_SUFFIX.items()}}
_NANO = Decimal("1e-9")


class QuantityFormat(StrEnum):
    DECIMAL_SI = "DecimalSI"
    BINARY_SI = "BinarySI"
    DECIMAL_EXPONENT = "DecimalExponent"


@dataclass(frozen=True)
class Quantity:
    """An exact amount and the format its canonical string is written in."""

    value: Decimal
    format: QuantityFormat = QuantityFormat.DECIMAL_SI

    def __add__(self, other: Quantity) -> Quantity:
        """``Quantity.Add``: a zero receiver takes the addend's format."""
        chosen = other.format if self.value == 0 else self.format
        return Quantity(self.value + other.value, chosen)

    def __mul__(self, times: int) -> Quantity:
        """``Quantity.Mul``: the format is kept."""
        return Quantity(self.value * times, self.format)

    def milli(self) -> int:
        """The amount in milli-units, rounded up (what schedulers compare)."""
        return int((self.value * 1000).to_integral_value(rounding=ROUND_CEILING))

    def __str__(self) -> str:
        """``Quantity.String()`` (``CanonicalizeBytes``)."""
        if self.value == 0:
            return "0"
        fmt = self.format
        if fmt is QuantityFormat.BINARY_SI and (
            abs(self.value) < 1024 or self.value != self.value.to_integral_value()
        ):
            fmt = QuantityFormat.DECIMAL_SI  # no rounding, and "512" rather than "0.5Ki"
        if fmt is QuantityFormat.BINARY_SI:
            amount, power = int(self.value), 0
            while amount % 1024 == 0 and power < max(_BINARY_NAME):
                amount, power = amount // 1024, power + 1
            return f"{amount}{_BINARY_NAME[power]}"
        sign, digits, exponent = self.value.normalize().as_tuple()
        assert isinstance(exponent, int)  # finite: parse_quantity never builds NaN/Infinity
        mantissa = int("".join(map(str, digits))) * (-1 if sign else 1)
        shift = exponent % 3  # make the exponent a multiple of three, growing the mantissa
        mantissa, exponent = mantissa * 10**shift, exponent - shift
        if fmt is QuantityFormat.DECIMAL_EXPONENT:
            return f"{mantissa}e{exponent}" if exponent else str(mantissa)
        if exponent in _DECIMAL_NAME:
            return f"{mantissa}{_DECIMAL_NAME[exponent]}"
        return f"{mantissa}e{exponent}"


ZERO = Quantity(Decimal(0))


def parse_quantity(text: Any) -> Quantity:
    """``ParseQuantity``: the suffix decides the format; precision beyond nano rounds up."""
    match = _QUANTITY.fullmatch(str(text).strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = Decimal(match[1]), match[2] or ""
    if suffix in _BINARY_SUFFIX:
        fmt = QuantityFormat.BINARY_SI
        number *= Decimal(1024) ** _BINARY_SUFFIX[suffix]
    elif suffix[:1] in ("e", "E"):
        fmt = QuantityFormat.DECIMAL_EXPONENT
        number = number.scaleb(int(suffix[1:]))
    else:
        fmt = QuantityFormat.DECIMAL_SI
        number = number.scaleb(_DECIMAL_SUFFIX[suffix])
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -9:
        number = number.quantize(_NANO, rounding=ROUND_UP)  # away from zero, as Go rounds
    if fmt is QuantityFormat.BINARY_SI and 0 < abs(number) < 1:
        fmt = QuantityFormat.DECIMAL_SI
    return Quantity(number, fmt)


def milli(quantity: Any) -> int:
    """A Kubernetes quantity in milli-units, rounded up (``500m`` → 500, ``2`` → 2000)."""
    return parse_quantity(quantity).milli()


def sum_quantities(quantities: list[Quantity]) -> Quantity:
    """Left-to-right ``Add`` from zero, as KubeRay sums GPUs."""
    total = ZERO
    for quantity in quantities:
        total = total + quantity
    return total
