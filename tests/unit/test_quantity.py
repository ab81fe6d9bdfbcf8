"""core.quantity: one exact reading of a Kubernetes quantity for config, manifests and status."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core import config
from core.config import build_config
from core.errors import ConfigValidationError
from core.objects import PodView
from core.quantity import parse_quantity, quantity_or_none

# text -> exact amount, as apimachinery's ParseQuantity reads it.
VALID = [
    ("500m", Decimal("0.5")),
    ("0.5Gi", Decimal(512 * 2**20)),
    ("1e3", Decimal(1000)),
    ("1E3", Decimal(1000)),  # an upper-case E followed by digits is an exponent ...
    ("1E", Decimal(10**18)),  # ... and alone it is exa
    ("1e-3", Decimal("0.001")),
    ("1e+3", Decimal(1000)),
    ("-1", Decimal(-1)),  # a sign is grammar; a negative request is config's problem
    ("+2", Decimal(2)),
    ("2", Decimal(2)),
    ("1.5", Decimal("1.5")),
    (".5", Decimal("0.5")),
    ("5.", Decimal(5)),
    ("0", Decimal(0)),
    ("100n", Decimal("1e-7")),
    ("250u", Decimal("0.00025")),
    ("2k", Decimal(2000)),
    ("3M", Decimal(3 * 10**6)),
    ("4G", Decimal(4 * 10**9)),
    ("5T", Decimal(5 * 10**12)),
    ("6P", Decimal(6 * 10**15)),
    ("1Ki", Decimal(1024)),
    ("512Mi", Decimal(512 * 2**20)),
    ("4Gi", Decimal(4 * 2**30)),
    ("1Ti", Decimal(2**40)),
    ("1Pi", Decimal(2**50)),
    ("2Ei", Decimal(2 * 2**60)),
    ("0.1", Decimal("0.1")),  # one tenth exactly, not the float near it
    ("123456789012345678901234567890Ei", Decimal(123456789012345678901234567890 * 2**60)),
]

# Not quantities: what ParseQuantity refuses, and what Python's Decimal() alone would let in.
INVALID = [
    "1.5.2",
    "Gi",
    "",
    "lots",
    "4Zi",
    "4 Gi",
    " 4",
    "4\n",
    "1e",
    "1e1.5",  # the CRD pattern allows a fractional exponent; ParseQuantity does not
    "1K",
    "1ki",
    "1gi",
    "0x10",
    "1_000",
    "NaN",
    "Infinity",
    "-inf",
    "١",  # an Arabic-Indic digit: Decimal() reads it as 1
    "+",
    ".",
    "--1",
    "1e1234567890",
]


@pytest.mark.parametrize(("text", "amount"), VALID)
def test_a_quantity_is_read_exactly(text: str, amount: Decimal) -> None:
    assert parse_quantity(text) == amount
    assert quantity_or_none(text) == amount


@pytest.mark.parametrize("text", INVALID)
def test_what_is_not_a_quantity_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(text)
    assert quantity_or_none(text) is None


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [("500m", "1"), ("999m", "1"), ("1G", "1Gi"), ("1000Mi", "1Gi"), ("-1", "0"), ("1n", "1u")],
)
def test_quantities_compare_by_amount_whatever_their_suffix(smaller: str, larger: str) -> None:
    assert parse_quantity(smaller) < parse_quantity(larger)


@pytest.mark.parametrize(
    ("one", "other"),
    [("0.5Gi", "512Mi"), ("1000m", "1"), ("1e3", "1k"), ("1024Ki", "1Mi"), ("1.0", "1")],
)
def test_equal_amounts_written_differently_are_equal(one: str, other: str) -> None:
    assert parse_quantity(one) == parse_quantity(other)


def test_config_and_status_read_quantities_through_the_one_parser() -> None:
    assert config.parse_quantity is parse_quantity  # what manifests imports
    for text, amount in VALID:
        assert quantity_or_none(text) == amount
    for text in INVALID:
        assert quantity_or_none(text) is None
    # the pod reader (status, describe) reads requests through it
    spec = {"containers": [{"resources": {"requests": {"cpu": "500m", "memory": "0.5Gi"}}}]}
    assert PodView.parse({"spec": spec}).requests == {
        "cpu": Decimal("0.5"),
        "memory": Decimal(2**29),
    }


@pytest.mark.parametrize(
    ("cpus", "problem"),
    [
        ("1.5.2", "is not a valid Kubernetes quantity"),
        ("Gi", "is not a valid Kubernetes quantity"),
        ("1e1.5", "is not a valid Kubernetes quantity"),
        ("-1", "must be more than zero"),
        ("0", "must be more than zero"),
    ],
)
def test_config_refuses_cpus_that_are_not_a_positive_quantity(cpus: str, problem: str) -> None:
    with pytest.raises(ConfigValidationError, match=problem):
        build_config({"name": "a", "head": {"cpus": cpus}})


@pytest.mark.parametrize(("memory", "amount"), [("0.5Gi", "0.5Gi"), ("1e9", "1e9")])
def test_config_keeps_valid_memory_as_written(memory: str, amount: str) -> None:
    assert build_config({"name": "a", "head": {"memory": memory}}).head.memory == amount
