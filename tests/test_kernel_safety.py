"""The compiled kernels never read out of range: numba does not check bounds, so a bad index there kills the
interpreter. The kernel tests run again here with ``NUMBA_BOUNDSCHECK=1`` (a fresh numba cache, so every
kernel is compiled with checks), where such a read raises ``IndexError`` instead."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: JSONSchemaBench, Github_medium ``o43196.json``: it crashed the joint sampler (SIGSEGV in ``joint_path``) on
#: ``ctrlgen.load().generate(n=2, constraints=[JsonSchema(schema)], seed=0)``.
O43196 = {
    "definitions": {"StackedRequisitionPack": {"$ref": "#"}},
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "largeImageUrl": {"type": "string"},
        "isStack": {"type": "boolean"},
        "isFeatured": {"type": "boolean"},
        "isGiftOnly": {"type": "boolean"},
        "isNew": {"type": "boolean"},
        "creditPrice": {"type": "integer"},
        "isPurchasableWithCredits": {"type": "boolean"},
        "isPurchasableFromMarketplace": {"type": "boolean"},
        "xboxMarketplaceProductId": {"type": ["string", "null"]},
        "xboxMarketplaceProductUrl": {"type": ["string", "null"]},
        "merchandisingOrder": {"type": "integer"},
        "flair": {"type": ["string", "null"]},
        "giftableAcquisitionMethods": {"type": "integer"},
        "stackedRequisitionPacks": {"type": "array", "items": {"$ref": "#/definitions/StackedRequisitionPack"}},
        "id": {"type": "string"},
        "contentId": {"type": "string"},
    },
    "required": [
        "name",
        "description",
        "largeImageUrl",
        "isStack",
        "isFeatured",
        "isGiftOnly",
        "isNew",
        "creditPrice",
        "isPurchasableWithCredits",
        "isPurchasableFromMarketplace",
        "xboxMarketplaceProductId",
        "xboxMarketplaceProductUrl",
        "merchandisingOrder",
        "flair",
        "giftableAcquisitionMethods",
        "stackedRequisitionPacks",
        "id",
        "contentId",
    ],
}


def test_the_schema_that_crashed_the_joint_sampler_generates_valid_documents():
    from ctrlgen.constraints import JsonSchema, UnsatisfiableConstraintError

    import ctrlgen

    lm = ctrlgen.load()
    try:
        texts = lm.generate(n=2, constraints=[JsonSchema(O43196)], seed=0)
    except UnsatisfiableConstraintError as e:  # a typed refusal (the document does not fit) is an answer too
        assert "tokens" in str(e)
        return
    for text in texts:
        jsonschema.validate(json.loads(text), O43196)


@pytest.mark.skipif(os.environ.get("NUMBA_BOUNDSCHECK") == "1", reason="already the bounds-checked run")
def test_kernel_tests_pass_with_bounds_checking(tmp_path):
    env = {
        **os.environ,
        "NUMBA_BOUNDSCHECK": "1",
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
        "CTRLGEN_CACHE": str(tmp_path / "automata"),
    }
    tests = [
        "tests/test_feasibility.py",
        "tests/test_kernel_safety.py::test_the_schema_that_crashed_the_joint_sampler_generates_valid_documents",
    ]
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    done = subprocess.run(cmd, cwd=ROOT, env=env, timeout=900, capture_output=True, text=True)
    assert done.returncode == 0, (done.returncode, done.stdout[-3000:], done.stderr[-2000:])
