"""The public-API fuzz registry: one valid call per public callable of dlnlib and the kind of each argument
(``common``), split by area (``registry_*``); ``tests/test_properties.py`` drives it and
``benchmarks/fuzz_api.py`` reports the same calls as counts."""
