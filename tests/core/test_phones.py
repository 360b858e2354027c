"""Phone numbers into Graph's ``+CC NUMBER[xEXT]`` form, and the formula guard (pure)."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.core.phones import check_region, looks_like_formula, normalise_phone
from provisioning.errors import PhoneError

GRAPH_FORM = re.compile(r"\+[1-9][0-9]{0,2} [0-9]{2,17}(x[0-9]{1,10})?")


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        pytest.param("+31612345678", None, "+31 612345678", id="plus-compact"),
        pytest.param("+31 612345678", None, "+31 612345678", id="already-graph-form"),
        pytest.param("+310612345678", None, "+31 612345678", id="trunk-zero-after-country-code"),
        pytest.param("+310485123456", None, "+31 485123456", id="trunk-zero-landline"),
        pytest.param("+31 (0)6 1234 5678", None, "+31 612345678", id="bracketed-trunk-zero"),
        pytest.param("+31 6-1234-5678", None, "+31 612345678", id="dashes"),
        pytest.param("+31.6.12.34.56.78", None, "+31 612345678", id="dots"),
        pytest.param("(+31) 6 12345678", None, "+31 612345678", id="bracketed-country-code"),
        pytest.param("+31\u00a06\u202f12345678", None, "+31 612345678", id="no-break-spaces"),
        pytest.param("0031612345678", None, "+31 612345678", id="double-zero-prefix"),
        pytest.param("00 31 6 12345678", None, "+31 612345678", id="double-zero-prefix-spaced"),
        pytest.param("+39 0612345678", None, "+39 0612345678", id="italian-leading-zero-kept"),
        pytest.param("+390612345678", None, "+39 0612345678", id="italian-compact"),
        pytest.param("+44 (0)20 7123 4567", None, "+44 2071234567", id="uk-bracketed-zero"),
        pytest.param("+49 0 151 23456789", None, "+49 15123456789", id="german-trunk-zero"),
        pytest.param("+1 (425) 555-0100", None, "+1 4255550100", id="nanp-formatting"),
        pytest.param("  +1 2065550100  ", None, "+1 2065550100", id="surrounding-spaces"),
        pytest.param("0612345678", "NL", "+31 612345678", id="national-with-region"),
        pytest.param("06-12345678", "nl", "+31 612345678", id="national-lowercase-region"),
        pytest.param("(020) 123 4567", "NL", "+31 201234567", id="national-area-code"),
        pytest.param("+33 6 12 34 56 78", "NL", "+33 612345678", id="country-code-beats-region"),
        pytest.param("425 555 0100", "US", "+1 4255550100", id="national-us"),
        pytest.param("+1 4255550100x123", None, "+1 4255550100x123", id="extension-x"),
        pytest.param("+1 4255550100 X 123", None, "+1 4255550100x123", id="extension-capital-x"),
        pytest.param("+1 425 555 0100 ext. 123", None, "+1 4255550100x123", id="extension-ext-dot"),
        pytest.param("+1 425 555 0100 ext 123", None, "+1 4255550100x123", id="extension-ext"),
        pytest.param("+1 425 555 0100 extension 9", None, "+1 4255550100x9", id="extension-word"),
        pytest.param("+1 425 555 0100 #123", None, "+1 4255550100x123", id="extension-hash"),
        pytest.param("0612345678 x12", "NL", "+31 612345678x12", id="extension-national"),
    ],
)
def test_valid_numbers_come_out_in_graph_form(text, region, expected):
    """Every accepted spelling becomes exactly Graph's ``+CC NUMBER[xEXT]``."""
    result = normalise_phone(text, region)

    assert result == expected
    assert GRAPH_FORM.fullmatch(result)


@pytest.mark.parametrize(
    ("text", "region", "fragment"),
    [
        pytest.param("0612345678", None, "no country code; write it as +CC", id="national-without-region"),
        pytest.param("0612345678", None, "PROVISIONING_DEFAULT_REGION", id="names-the-setting"),
        pytest.param("+31 6123", None, "too short", id="too-short"),
        pytest.param("+31 61234567890123", None, "too long", id="too-long"),
        pytest.param(
            "+31 999999999", None, "not a valid phone number for country code +31", id="invalid-range"
        ),
        pytest.param("+3131612345678", None, "country code +31 written twice", id="doubled-country-code"),
        pytest.param("0031 0031 612345678", None, "written twice", id="doubled-with-00"),
        pytest.param("+31 +31 612345678", None, "two international prefixes", id="doubled-plus"),
        pytest.param("0031+31612345678", None, "two international prefixes", id="double-zero-and-plus"),
        pytest.param("+0031612345678", None, "two international prefixes", id="plus-double-zero"),
        pytest.param("06 1234+5678", "NL", "'+' in the middle", id="plus-in-middle"),
        pytest.param("+999 123456", None, "no valid country code", id="unknown-country-code"),
        pytest.param("+", None, "no valid country code", id="plus-only"),
        pytest.param("06 CALL ME", "NL", "contains 'A'", id="letters"),
        pytest.param("+1 800 FLOWERS", None, "contains", id="vanity-letters"),
        pytest.param("+31 6\uff112345678", None, "contains", id="full-width-digit"),
        pytest.param("=HYPERLINK(1)", None, "spreadsheet formula", id="formula-equals"),
        pytest.param("@SUM(1)", None, "spreadsheet formula", id="formula-at"),
        pytest.param("+A1", None, "spreadsheet formula", id="formula-plus-letter"),
        pytest.param("-1+1", None, "spreadsheet formula", id="formula-minus"),
        pytest.param("\t+31612345678", None, "spreadsheet formula", id="formula-tab"),
        pytest.param("\r+31612345678", None, "spreadsheet formula", id="formula-cr"),
        pytest.param("   ", None, "empty", id="blank"),
        pytest.param("()", None, "no digits", id="no-digits"),
        pytest.param("+1 4255550100 x12345678901", None, "extension longer", id="long-extension"),
        pytest.param("1" * 80, None, "longer than", id="very-long"),
        pytest.param("12", "NL", "not a valid phone number for region NL", id="national-invalid"),
        pytest.param("0612345678", "XX", "not a known ISO 3166 region", id="unknown-region"),
    ],
)
def test_bad_numbers_raise_a_phone_error_saying_why(text, region, fragment):
    """Invalid, doubled, lettered and formula-like cells raise PhoneError with an admin-readable reason."""
    with pytest.raises(PhoneError) as caught:
        normalise_phone(text, region)

    assert fragment in str(caught.value)
    assert "Traceback" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("=1+1", True, id="equals"),
        pytest.param("@A1", True, id="at"),
        pytest.param("-2", True, id="minus"),
        pytest.param("\tx", True, id="tab"),
        pytest.param("\rx", True, id="cr"),
        pytest.param("+A1", True, id="plus-letter"),
        pytest.param("+-1", True, id="plus-minus"),
        pytest.param("  =1", True, id="equals-after-spaces"),
        pytest.param("+31 6", False, id="plus-digit"),
        pytest.param("+ 31", False, id="plus-space"),
        pytest.param("+(31)", False, id="plus-bracket"),
        pytest.param("+", False, id="plus-alone"),
        pytest.param("ann@contoso.com", False, id="email"),
        pytest.param("", False, id="empty"),
    ],
)
def test_formula_guard_matches_what_spreadsheets_would_run(text, expected):
    """Cells starting with = @ - tab CR, or + and a non-digit, look like formulas."""
    assert looks_like_formula(text) is expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        pytest.param("NL", "NL", id="upper"),
        pytest.param(" de ", "DE", id="lower-with-spaces"),
    ],
)
def test_known_regions_are_upper_cased(region, expected):
    """A known ISO 3166 code comes back upper-cased."""
    assert check_region(region) == expected


def test_unknown_region_is_a_phone_error():
    """A region phonenumbers does not know raises PhoneError naming it."""
    with pytest.raises(PhoneError, match="'Netherlands'"):
        check_region("Netherlands")


@settings(deadline=None, max_examples=200)
@given(text=st.text(max_size=40), region=st.sampled_from([None, "NL", "US", "IT"]))
def test_arbitrary_text_yields_graph_form_or_a_phone_error(text, region):
    """Any text gives a Graph-form number or PhoneError, never another exception."""
    try:
        result = normalise_phone(text, region)
    except PhoneError:
        return

    assert GRAPH_FORM.fullmatch(result)


@settings(deadline=None, max_examples=200)
@given(
    text=st.text(alphabet="+0123456789 ()-.x#", max_size=25),
    region=st.sampled_from([None, "NL", "US", "IT"]),
)
def test_normalising_is_idempotent(text, region):
    """A normalised number normalises to itself, so re-reading a report changes nothing."""
    try:
        once = normalise_phone(text, region)
    except PhoneError:
        return

    assert normalise_phone(once, None) == once


def _phonenumbers_says_valid(country_code: int, national: str) -> bool:
    zeros = len(national) - len(national.lstrip("0"))
    number = phonenumbers.PhoneNumber(
        country_code=country_code,
        national_number=int(national),
        italian_leading_zero=zeros > 0 or None,
        number_of_leading_zeros=zeros if zeros > 1 else None,
    )
    return bool(phonenumbers.is_valid_number(number))


def _example_numbers() -> list[tuple[int, str]]:
    kinds = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
    found = (
        phonenumbers.example_number_for_type(r, k) for r in phonenumbers.SUPPORTED_REGIONS for k in kinds
    )
    return sorted(
        {(int(n.country_code or 0), phonenumbers.national_significant_number(n)) for n in found if n}
    )


EXAMPLES = _example_numbers()


@settings(deadline=None, max_examples=500)
@given(
    example=st.sampled_from(EXAMPLES),
    edits=st.lists(st.tuples(st.integers(0, 16), st.sampled_from("0123456789")), max_size=2),
    cut=st.integers(-1, 1),
)
def test_validity_matches_phonenumbers_for_every_region(example, edits, cut):
    """Our compiled copy of phonenumbers' validity check agrees with it, valid or not, in all regions."""
    country_code, national = example
    digits = list(national[: len(national) + cut] if cut < 0 else national + "5" * cut)
    for at, digit in edits:
        digits[at % len(digits)] = digit
    number = "".join(digits)
    expected = _phonenumbers_says_valid(country_code, number) or (
        number.startswith("0") and len(number) > 1 and _phonenumbers_says_valid(country_code, number[1:])
    )

    try:
        normalise_phone(f"+{country_code} {number}", None)
    except PhoneError:
        valid = False
    else:
        valid = True

    assert valid is expected
