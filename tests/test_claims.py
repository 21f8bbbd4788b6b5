"""dlnlib.claims: each criterion on a case where it must hold and one where it must fail; verdict words;
claims that cannot be evaluated raise; the rendered table."""

import math

import pytest
import torch

from dlnlib import claims as C


@pytest.mark.parametrize(
    ("criterion", "good", "bad", "gap"),
    [
        (C.at_most(1e-10), 3e-12, 2e-9, "2e-09 > 1e-10"),
        (C.at_least(50), 81, 12, "12 < 50"),
        (C.between(0.9, 1.1), 1.02, 1.3, "1.3 outside [0.9, 1.1]"),
        (C.close_to(113.43, abs=3.2), 115.0, 124.68, "124.7 vs 113.4: off by 11.25 (9.918%)"),
        (C.close_to(2.0, rel=0.05), 2.01, 1.5, "1.5 vs 2: off by -0.5 (-25%)"),
        (C.less_than("depth 2", "depth 1"), {"depth 1": 80, "depth 2": 60}, {"depth 1": 74, "depth 2": 82},
         "depth 2 82 >= depth 1 74"),
        (C.greater_than("AGD", "GD", factor=2), {"AGD": 9.0, "GD": 4.0}, {"AGD": 7.0, "GD": 4.0},
         "AGD 7 <= 2 x GD 4"),
        (C.is_true("every instance contracts"), True, False, "false"),
    ],
)
def test_criterion_holds_and_fails(criterion, good, bad, gap):
    ledger = C.Claims("03", "test")
    ok = ledger.add("03.1", "holds", source="s", reported="r", measured=good, criterion=criterion)
    no = ledger.add("03.2", "fails", source="s", reported="r", measured=bad, criterion=criterion)
    assert ok.verdict == "reproduces" and ok.detail == ""
    assert no.verdict == "differs"
    assert no.detail == gap


def test_close_to_edges_and_tensors():
    crit = C.close_to(1.0, rel=0.1)
    assert crit.holds(1.0999) and crit.holds(0.9001) and not crit.holds(1.1001) and not crit.holds(0.8999)
    assert C.at_most(1.0).holds(torch.tensor(0.5, dtype=torch.float64))  # 0-d tensors are numbers
    assert C.close_to(0.0, abs=1e-12).holds(-5e-13)


def test_cases_give_partly_naming_the_cases():
    ledger = C.Claims("04", "Arora et al. 2018")
    row = ledger.add("04.7", "depth 2 faster than depth 1", source="Sec. 8", reported="faster",
                     cases={"diabetes": {"depth 1": 80, "depth 2": 60}, "linnerud": {"depth 1": 50, "depth 2": 70}},
                     criterion=C.less_than("depth 2", "depth 1"))
    assert row.verdict == "partly"
    assert row.detail == "holds on 1 of 2 (diabetes); fails on linnerud: depth 2 70 >= depth 1 50"
    every = ledger.add("04.8", "x", source="s", reported="r", cases={"a": 1.0, "b": 2.0}, criterion=C.at_most(5))
    assert every.verdict == "reproduces" and every.detail == "holds on all 2 cases"
    none = ledger.add("04.9", "x", source="s", reported="r", cases={"a": 7.0, "b": 8.0}, criterion=C.at_most(5))
    assert none.verdict == "differs" and none.detail.startswith("fails on all 2 cases")
    assert ledger.counts() == {"reproduces": 1, "differs": 1, "partly": 1, "not tested here": 0}


def test_not_tested_needs_a_reason():
    ledger = C.Claims("05", "AGD paper")
    row = ledger.not_tested("05.9", "Fig 4 on CIFAR-10", source="Fig 4", reported="AGD faster",
                            reason="CIFAR-10 is not available offline")
    assert row.verdict == "not tested here" and "offline" in row.detail
    with pytest.raises(ValueError, match="reason"):
        ledger.not_tested("05.10", "x", source="s", reported="r", reason="")


@pytest.mark.parametrize(
    ("measured", "criterion", "match"),
    [
        (math.nan, C.at_most(1.0), "finite number"),
        (torch.tensor(float("nan")), C.at_most(1.0), "finite number"),
        ("fast", C.at_most(1.0), "expected a real number"),
        ([1.0, 2.0], C.at_most(1.0), "expected a real number"),
        ({"depth 1": 3}, C.less_than("depth 2", "depth 1"), "no entry 'depth 2'"),
        (3.0, C.less_than("a", "b"), "expected a mapping"),
        (1.0, C.is_true("flag"), "expected True or False"),
        (True, C.at_most(1.0), "expected a real number"),
    ],
)
def test_unevaluable_claims_raise(measured, criterion, match):
    ledger = C.Claims("02", "Saxe et al. 2014")
    with pytest.raises(ValueError, match=match) as info:
        ledger.add("02.1", "c", source="s", reported="r", measured=measured, criterion=criterion)
    assert "claim 02.1" in str(info.value)
    assert len(ledger) == 0  # nothing half-recorded


def test_bad_arguments():
    with pytest.raises(ValueError, match="notebook"):
        C.Claims("3", "t")
    ledger = C.Claims("01", "t")
    good = dict(source="s", reported="r", measured=1.0, criterion=C.at_most(2))
    with pytest.raises(ValueError, match="id"):
        ledger.add("02.1", "c", **good)
    with pytest.raises(ValueError, match="kind"):
        ledger.add("01.1", "c", kind="guessed", **good)
    with pytest.raises(TypeError, match="criterion"):
        ledger.add("01.1", "c", source="s", reported="r", measured=1.0, criterion="<= 2")
    with pytest.raises(ValueError, match="exactly one"):
        ledger.add("01.1", "c", source="s", reported="r", criterion=C.at_most(2))
    with pytest.raises(ValueError, match="claim"):
        ledger.add("01.1", "", **good)
    ledger.add("01.1", "c", **good)
    with pytest.raises(ValueError, match="already recorded"):
        ledger.add("01.1", "c", **good)
    with pytest.raises(ValueError, match="lo <= hi"):
        C.between(2, 1)
    with pytest.raises(ValueError, match="neither"):
        C.close_to(1.0)
    with pytest.raises(ValueError, match="bound"):
        C.at_most(float("nan"))
    with pytest.raises(ValueError, match="nothing recorded"):
        C.Claims("01", "t").table()


def test_table_text_and_html():
    ledger = C.Claims("03", "Du, Hu & Lee 2018 <slides>")
    ledger.add("03.1", "difference of squared norms is conserved", source="Cor. 2.1", reported="proof",
               kind="derived", measured=2.5e-12, criterion=C.at_most(1e-10), where="Section 2")
    ledger.add("03.2", "norm ratios stay constant", source="Fig 2", reported="constant", kind="shown",
               measured=8.462 / 4.715, criterion=C.close_to(1.0, rel=0.05, what="end/start ratio"))
    ledger.not_tested("03.3", "x", source="s", reported="r", reason="needs data we do not have")
    text = str(ledger.table())
    assert text.splitlines()[0] == ("Paper vs this notebook — Du, Hu & Lee 2018 <slides>: 3 claims "
                                    "(1 reproduces, 1 differs, 1 not tested here)")
    assert "[03.1]  difference of squared norms is conserved (Section 2)" in text
    assert "-> REPRODUCES" in text and "-> DIFFERS: 1.795 vs 1: off by 0.7947 (79.47%)" in text
    assert "-> NOT TESTED HERE: needs data we do not have" in text
    page = ledger.table()._repr_html_()
    assert "&lt;slides&gt;" in page and "<slides>" not in page
    assert page.count("<tr>") == 4
    assert repr(ledger["03.1"]) == "claim 03.1: REPRODUCES — measured < 1e-11; criterion value <= 1e-10"
    with pytest.raises(KeyError, match="03.9"):
        ledger["03.9"]


def test_ref_pattern():
    text = "GD drifts (claim 03.4), as claims 03.5 and 03.12a show."
    assert C.REF_PATTERN.findall(text) == ["03.4", "03.5"]


def test_below_shows_round_off_as_a_bound_and_larger_numbers_as_digits():
    below = C.below
    assert below(2.093e-14, 1e-12) == "< 1e-12"
    assert below(-3.4e-16, 1e-13) == "> -1e-13"
    assert below(0.0, 1e-13) == "< 1e-13"
    assert below(2.5e-3, 1e-13) == "0.0025"
    assert below(1e-12, 1e-12) == "1e-12"  # at the bound: digits, the bound is strict
    with pytest.raises(ValueError, match="bound"):
        below(1.0, 0)
    with pytest.raises(ValueError, match="value"):
        below(float("nan"))


def test_tables_show_round_off_measurements_as_bounds_and_judge_the_exact_number():
    c = C.Claims("04", "test")
    tiny = c.add("04.1", "a residual vanishes", source="s", reported="proof", measured=2.093e-14,
                 criterion=C.at_most(1e-10))
    assert tiny.measured_text == "< 1e-11" and tiny.verdict == "reproduces"
    strict = c.add("04.2", "a stricter residual", source="s", reported="proof", measured=2.55e-16,
                   criterion=C.at_most(1e-14))
    assert strict.measured_text == "<= 1e-14" and strict.verdict == "reproduces"
    failing = c.add("04.3", "too strict", source="s", reported="proof", measured=2.55e-16, criterion=C.at_most(1e-17))
    assert failing.measured_text == "< 1e-11" and failing.verdict == "differs"
    pair = c.add("04.4", "Adam lower than GD", source="s", reported="observed",
                 measured={"Adam": 2.09e-14, "GD": 1.857e-3}, criterion=C.less_than("Adam", "GD"))
    assert pair.measured_text == "Adam: < 1e-11, GD: 0.001857" and pair.verdict == "reproduces"
    negative = c.add("04.5", "no growth", source="s", reported="proof", cases={"a": -3.55e-12, "b": 9.7e-17},
                     criterion=C.at_most(1e-15))
    assert negative.measured_text == "a: <= 1e-15; b: <= 1e-15"
    plain = c.add("04.6", "a rate", source="s", reported="0.8", measured=0.8123456, criterion=C.at_most(1))
    assert plain.measured_text == "0.8123"
    # a solver-level number (an ODE solved to rtol 1e-10) shows as a bound at the claim's own resolution
    flow = c.add("04.7", "two flows coincide", source="s", reported="proof", measured=9.47e-10,
                 criterion=C.at_most(1e-7), resolution=1e-8)
    assert flow.measured_text == "< 1e-08" and flow.verdict == "reproduces" and "measured < 1e-08" in flow.line()
    off = c.add("04.8", "a gap", source="s", reported="proof", measured=2e-7, criterion=C.at_most(1e-7),
                resolution=1e-8)
    assert off.measured_text == "2e-07" and off.verdict == "differs"  # above the resolution: digits, exact verdict
    for bad in (0, -1e-8, float("nan"), "1e-8"):
        with pytest.raises(ValueError, match="resolution"):
            c.add(f"04.9{len(str(bad))}", "x", source="s", reported="proof", measured=1.0, criterion=C.at_most(2),
                  resolution=bad)
