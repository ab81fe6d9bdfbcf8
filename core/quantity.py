"""Kubernetes resource quantities (``500m``, ``4Gi``, ``1e3``): the product's one exact parser.

Why one: configuration validates what users type, the manifest builder compares it with the
head's minimum, and status sums the pods' requests for its reasons; all three must agree on what
``0.5Gi`` means. Amounts are exact ``Decimal``s (``0.1`` is one tenth, not a float near it), so
they compare and add exactly: ``parse_quantity("0.5Gi") == parse_quantity("512Mi")``.

The grammar is apimachinery's ``ParseQuantity`` (k8s.io/apimachinery pkg/api/resource,
quantity.go)::

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | <sign><number>       <sign> ::= "+" | "-"
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>

The CRD's ``pattern`` also lets a fractional exponent through (``1e1.5``); ``ParseQuantity``
refuses it, and so does this parser. A sign is part of the grammar (``-1`` parses); whether a
negative or zero amount makes sense is the caller's rule (``core.config`` wants more than zero).

The sandbox keeps its own Go-faithful copy with ``String()`` formatting
(``core.sandbox.sim.quantity``): it may import nothing of the product but ``core.errors``.
"""

from __future__ import annotations

import re
from decimal import Decimal, Inexact, localcontext

_QUANTITY = re.compile(
    r"(?P<sign>[+-])?(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(?P<binary>[KMGTPE]i)|[eE](?P<exponent>[+-]?[0-9]+)|(?P<decimal>[numkMGTPE]))?"
)
_DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}  # powers of two


def parse_quantity(text: str) -> Decimal:
    """The exact amount of a Kubernetes quantity; ``ValueError`` if ``text`` is not one.

    Only the grammar's ASCII forms count: no spaces, underscores, ``NaN``/``Infinity`` or
    non-ASCII digits, all of which ``Decimal()`` itself would accept."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number = Decimal(match["number"])  # exact: built from the digits, no context rounding
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite: the pattern admits digits only
    if match["binary"]:
        with localcontext() as ctx:
            ctx.prec = len(digits) + 20  # 2**60 has 19 digits: the product fits exactly
            ctx.traps[Inexact] = True
            amount = number * Decimal(2 ** _BINARY_SI[match["binary"]])
    else:
        shift = _DECIMAL_SI.get(match["decimal"] or "", 0)
        if match["exponent"] is not None:
            shift = _exponent(match["exponent"], text)
        amount = Decimal((0, digits, exponent + shift))
    return amount.copy_negate() if match["sign"] == "-" else amount


def _exponent(written: str, text: str) -> int:
    """``e<n>``'s n; one with more than nine digits is refused (no resource is 10**±1e9 of
    anything, and Python's ``int()`` would refuse thousands of digits with its own message)."""
    digits = written.lstrip("+-").lstrip("0") or "0"
    if len(digits) > 9:
        raise ValueError(f"{text!r} is out of range for a Kubernetes quantity")
    return -int(digits) if written.startswith("-") else int(digits)


def quantity_or_none(text: str) -> Decimal | None:
    """``parse_quantity`` for readers of objects the API server already accepted: ``None``
    instead of an exception for a value that is not a quantity."""
    try:
        return parse_quantity(text)
    except ValueError:
        return None
