"""The one phone-number rule (models.phone): every spelling compares equal, every page shows
E.164, what an admin types is checked and kept dialable."""

from __future__ import annotations

import pytest

from models.phone import (
    dial_form,
    dialable,
    is_phone_number,
    masked_number,
    normalize_number,
    same_number,
    search_spellings,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4930123456", "4930123456"),
        ("+4930123456", "4930123456"),
        ("004930123456", "4930123456"),
        ("030123456", "4930123456"),
        ("+49 (0)30 123 456", "4930123456"),
        ("030/123-456", "4930123456"),
        ("sip:+4930123456@carrier.example;user=phone", "4930123456"),
        ("tel:+43 1 234567", "431234567"),
        ("1000", "1000"),
        ("voicegate_fallback", ""),
        ("*98", ""),
        ("", ""),
        ("٠٣٠١٢٣", ""),  # non-ASCII digits are not a dialable number
    ],
)
def test_normalize_number(raw: str, expected: str) -> None:
    assert normalize_number(raw) == expected


def test_normalize_number_national_prefix_uses_the_country_code() -> None:
    assert normalize_number("01 234567", country_code="43") == "431234567"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("491701234567", "+491701234567"),  # FreeSWITCH: international digits without "+"
        ("+491701234567", "+491701234567"),
        ("00491701234567", "+491701234567"),
        ("01701234567", "+491701234567"),  # national, as some carriers deliver it
        ("030 123456", "+4930123456"),
        ("+49 (0)30 123456", "+4930123456"),
        ("sip:4930123456@carrier.example", "+4930123456"),
        ("21", "21"),  # an internal extension stays
        ("1000", "1000"),
        ("anonymous", ""),  # withheld: the page says "unterdrückt"
        ("", ""),
        (None, ""),
    ],
)
def test_every_spelling_is_shown_in_one_form(raw: str | None, shown: str) -> None:
    assert dialable(raw) == shown


def test_a_called_national_number_is_the_configured_international_one() -> None:
    assert same_number("030123456", "+49 30 123456")
    assert same_number("004930123456", "4930123456")
    assert not same_number("030123456", "040123456")
    assert not same_number("anonymous", "anonymous")  # no number matches nothing


@pytest.mark.parametrize("raw", ["+49 (30) 123-4567", "030 1234567", "200", "+43 1 234567"])
def test_typed_numbers_are_dialable(raw: str) -> None:
    assert is_phone_number(raw)


@pytest.mark.parametrize("raw", ["12", "+49 30 1234 5678 9012 34", "٠٣٠١٢٣٤٥٦", "030|1234",
                                 "Zentrale", 4930123, None])
def test_what_is_no_number_is_refused(raw: object) -> None:
    assert not is_phone_number(raw)


def test_the_dial_form_keeps_what_was_meant() -> None:
    assert dial_form("+49 (30) 123-4567") == "+49301234567"
    assert dial_form("+49 (0)30 1234567") == "+49301234567"
    assert dial_form("030 / 1234567") == "0301234567"  # national stays: the carrier knows


def test_the_audit_log_masks_a_number_the_same_for_every_spelling() -> None:
    assert {masked_number(n) for n in ("491701234567", "0170 1234567", "+49 170 1234567")} == {
        "+4917…67"}
    assert masked_number("21") == "…"


def test_a_search_finds_national_and_international_spellings() -> None:
    assert search_spellings("030 777888") == {"030777888", "4930777888"}
    assert search_spellings("+49 30 777888") == {"4930777888", "030777888"}
    assert search_spellings("777888") == {"777888"}
