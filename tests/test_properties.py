"""Property tests of the input promise on every public function and class of dlnlib: any bad value of any one
argument ends in a ValueError or TypeError raised by dlnlib's own validation that names the argument, or in a
finite result; never a raw error from inside torch, numpy, scipy or matplotlib, never NaN, never more than a few
seconds (see ``tests/apifuzz/common.py`` for the exact rule).

The public API is enumerated from the package (``__all__`` of every module): a callable that has neither a
registry entry (one valid call and a kind per argument, ``tests/apifuzz/registry_*.py``) nor a stated exemption
fails ``test_every_public_callable_is_registered``, so a new function is covered as soon as it exists.
Hypothesis replaces one argument at a time by the listed bad values of its kind and, for scalar arguments, by
random garbage.
"""

import pytest
from apifuzz.common import GOOD, SCALAR_KINDS, classify, finite, public_callables
from apifuzz.registry import cases, load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ENTRIES, EXEMPT, KINDS = load()
CASES = cases(ENTRIES, KINDS)


def test_every_public_callable_is_registered():
    public = public_callables()
    missing = sorted(set(public) - set(ENTRIES) - set(EXEMPT))
    assert not missing, f"public callables with no fuzz entry or exemption: {missing}"
    both = sorted(set(ENTRIES) & set(EXEMPT))
    assert not both, f"both registered and exempted: {both}"
    stale = sorted(n for n in EXEMPT if n not in public)
    assert not stale, f"exemptions for callables that are not public: {stale}"
    assert all(len(reason) > 20 for reason in EXEMPT.values()), "every exemption says why"


def _assert_good(name, arg, bad):
    outcome, detail = classify(ENTRIES[name], arg, bad)
    assert outcome in GOOD, f"{name}({arg}={bad!r}): {outcome}: {detail}"


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_every_entry_accepts_its_valid_call(name):
    entry = ENTRIES[name]
    out = entry.fn(**entry.valid)
    assert finite(out), name
    assert entry.check is None or entry.check(out), name


@pytest.mark.parametrize("name,arg,kind", CASES, ids=[f"{n.removeprefix('dlnlib.')}-{a}" for n, a, _ in CASES])
def test_every_listed_bad_value_is_refused_by_name_or_gives_a_finite_result(name, arg, kind):
    for bad in KINDS[kind] + ENTRIES[name].extra_bad.get(arg, []):
        _assert_good(name, arg, bad)


# Random garbage for the scalar arguments: any float (NaN, infinities, subnormals, huge), integers outside the
# range a run could use in seconds (a valid 10^6 steps would just be slow), short strings, None and booleans.
GARBAGE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**3, 10**3),
                    st.integers(10**9, 10**13), st.text(max_size=3), st.none(), st.booleans())
SCALAR_CASES = [c for c in CASES if c[2] in SCALAR_KINDS]


@pytest.mark.parametrize("name,arg,kind", SCALAR_CASES,
                         ids=[f"{n.removeprefix('dlnlib.')}-{a}" for n, a, _ in SCALAR_CASES])
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(bad=GARBAGE)
def test_random_scalar_garbage_is_refused_by_name_or_gives_a_finite_result(name, arg, kind, bad):
    _assert_good(name, arg, bad)
