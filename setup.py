"""The one compiled module, lib.logs.parsing._clf (the fast path of Common, Combined and
Combined with fields after it); everything else is declared in pyproject.toml. Optional: without a C compiler the install
still succeeds and the polars path reads every line (tests/unit/logs/test_fast_summary.py then
fails, so CI notices)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lib.logs.parsing._clf",
            sources=["lib/logs/parsing/_clf.c"],
            depends=["lib/logs/parsing/_clf_grammar.h"],
            libraries=["z", "m"],  # libm: log, round; zlib's CRC-32 and Adler-32: bounded.key_hash
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
