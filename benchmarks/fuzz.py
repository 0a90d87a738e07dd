"""Fuzzing the public API: every call returns outputs that satisfy their constraints, or raises a CtrlgenError.

Run by hand: ``python benchmarks/fuzz.py [--cases 10000] [--seed 0] [--out PATH]``; ``tests/test_fuzz.py`` runs a
small profile in ``make test``. Each case draws a constraint of one kind with random parameters (huge,
negative, fractional, NaN, empty, non-ASCII, of the wrong type), a random regex or JSON schema from a small
grammar with mistakes mixed in, a random template, random sampler settings; then calls ``generate`` (``fill``
for templates) on an untrained model with the shipped tokenizer (the model never helps the constraint: the
worst case for the engine, and fast). The property, checked independently of the library:

* outputs: ``re.fullmatch`` for regexes, ``jsonschema`` for schemas, word/character/token counts for lengths,
  the literal text for templates;
* or an exception derived from ``ctrlgen.CtrlgenError``;
* within a time budget per case (``--budget``, seconds; the compile budget is set to it too).

Anything else (another exception, an invalid output, a case past its budget) is a failure, printed with the
case that caused it. Results: ``benchmarks/results/fuzz.json`` and a summary line.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_WEIRD_NUMBERS = [0, 1, 2, 3, 7, -1, -5, 10**9, 2**63, 2.5, 0.0, float("nan"), float("inf"), True, "3", None]
_CHARS = "ab01 .-_éß中\n\t\\\"'{}[]()*+?|^$"


def _number(rng: random.Random):
    return rng.choice(_WEIRD_NUMBERS) if rng.random() < 0.3 else rng.randint(0, 40)


def _length(rng: random.Random):
    from ctrlgen import Length

    kind = rng.choice(["tokens", "range", "words", "chars", "bad"])
    if kind == "tokens":
        return Length(_number(rng))
    if kind == "range":
        return Length(min=_number(rng), max=_number(rng))
    if kind == "bad":
        return Length(_number(rng), words=_number(rng))
    value = _number(rng) if rng.random() < 0.6 else (_number(rng), _number(rng))
    return Length(**{kind: value})


def _regex_text(rng: random.Random, depth: int = 0) -> str:
    atoms = ["a", "b", "[a-z]", "[0-9]", r"\d", r"\w", " ", ".", "é", "中", "[^a]", r"\.", "(?:ab|b)"]
    if rng.random() < 0.1:  # garbage, often invalid
        return "".join(rng.choice(_CHARS) for _ in range(rng.randint(0, 6)))
    parts = []
    for _ in range(rng.randint(1, 4)):
        atom = rng.choice(atoms) if depth > 1 or rng.random() < 0.7 else f"({_regex_text(rng, depth + 1)})"
        quant = rng.choice(
            ["", "", "*", "+", "?", f"{{{rng.randint(0, 4)}}}", f"{{{rng.randint(0, 3)},{rng.randint(3, 6)}}}"]
        )
        if rng.random() < 0.03:
            quant = f"{{{rng.choice([1000, 100000, 10**7])}}}"
        parts.append(atom + quant)
    text = "".join(parts)
    if rng.random() < 0.2:
        text = f"{text}|{_regex_text(rng, depth + 1)}"
    if rng.random() < 0.05:
        text = rng.choice(["(?=a)", r"\b", r"(a)\1", "^", "$", "(?<=b)"]) + text
    return text


def _regex(rng: random.Random):
    from ctrlgen import Regex

    return Regex(_regex_text(rng))


def _schema_node(rng: random.Random, depth: int = 0):
    kind = rng.choice(["string", "integer", "number", "boolean", "null", "enum", "array", "object", "any", "multi"])
    if depth > 2 and kind in ("array", "object"):
        kind = "string"
    if kind == "string":
        node = {"type": "string"}
        if rng.random() < 0.3:
            node["maxLength"] = _number(rng)
        if rng.random() < 0.2:
            node["minLength"] = _number(rng)
        if rng.random() < 0.2:
            node["pattern"] = _regex_text(rng)
        if rng.random() < 0.1:
            node["format"] = rng.choice(["date", "email", "uuid", "date-time", "hostname"])
        return node
    if kind in ("integer", "number"):
        node = {"type": kind}
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
            if rng.random() < 0.25:
                node[key] = rng.choice([0, 1, -3, 2.5, 0.1, 1e-9, 10**20, -0.5, 7.25, 100, True])
        return node
    if kind in ("boolean", "null"):
        return {"type": kind}
    if kind == "enum":
        return {"enum": rng.sample(["a", "b c", 1, 2.5, None, True, "é", "", [1], {"x": 1}], rng.randint(0, 4))}
    if kind == "array":
        node = {"type": "array", "items": _schema_node(rng, depth + 1)}
        if rng.random() < 0.3:
            node["maxItems"] = rng.randint(0, 3)
        if rng.random() < 0.2:
            node["minItems"] = rng.randint(0, 2)
        return node
    if kind == "object":
        names = rng.sample(["name", "age", "x", "é", "a b", ""], rng.randint(0, 3))
        node = {"type": "object", "properties": {n: _schema_node(rng, depth + 1) for n in names}}
        node["required"] = [n for n in names if rng.random() < 0.5]
        if rng.random() < 0.5:
            node["additionalProperties"] = False
        return node
    if kind == "multi":
        return {"anyOf": [_schema_node(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    return {}


def _schema(rng: random.Random):
    from ctrlgen import JsonSchema

    node = _schema_node(rng)
    if rng.random() < 0.05:
        node = rng.choice([{"type": "strin"}, {"minimum": "x"}, {"$ref": "#/nowhere"}, "[not json", 5])
    return JsonSchema(node, strict=rng.random() < 0.8)


def _template(rng: random.Random):
    from ctrlgen import Template

    pieces = []
    for _ in range(rng.randint(1, 4)):
        pieces.append(rng.choice(["The ", "is a ", " near ", "é ", "{{x}} ", "", ".", "中文 "]))
        pieces.append("{" + str(rng.choice([1, 2, 3, 5, 0, 400, "x", "3 "])) + "}" if rng.random() < 0.8 else "")
    return Template("".join(pieces))


def _sampler_settings(rng: random.Random) -> dict:
    settings = {"sampler": rng.choice(["ancestral", "confidence", "semi-ar", "remdm", "nope"])}
    if rng.random() < 0.5:
        settings["steps"] = rng.choice([1, 2, 4, 8, 0, -1, 2.5])
    else:
        settings["steps"] = 4
    if rng.random() < 0.2:
        settings["temperature"] = rng.choice([0.5, 1.0, 0.0, -1.0, float("nan")])
    if rng.random() < 0.2:
        settings["top_p"] = rng.choice([0.9, 1.0, 0.0, 1.5])
    if rng.random() < 0.1:
        settings["length"] = rng.choice([1, 8, 64, 0, -3, 10**6])
    return settings


MAKERS = {"length": _length, "regex": _regex, "json": _schema, "template": _template}


def _check(constraint, text: str, tokenizer) -> str | None:
    """None when ``text`` satisfies ``constraint`` (judged without the library), else why not."""
    from ctrlgen import JsonSchema, Length, Regex, Template

    if isinstance(constraint, Regex):
        return None if re.fullmatch(constraint.pattern, text) else f"{text!r} does not match {constraint.pattern!r}"
    if isinstance(constraint, JsonSchema):
        import jsonschema

        try:
            jsonschema.validate(json.loads(text), constraint.schema)
        except (json.JSONDecodeError, jsonschema.ValidationError) as e:
            return f"{text!r}: {str(e)[:200]}"
        return None
    if isinstance(constraint, Length):
        if constraint.unit == "words":
            count = len(text.split())
        elif constraint.unit == "chars":
            count = len(text)
        else:
            return None  # token counts: re-encoding the text may split it differently from the tokens drawn
        ok = constraint.min <= count and (constraint.max is None or count <= constraint.max)
        return None if ok else f"{text!r} has {count} {constraint.unit}, wanted {constraint.describe()}"
    if isinstance(constraint, Template):
        literal = [p for p in constraint.parts if isinstance(p, str)]
        position = 0
        for piece in literal:
            found = text.find(piece.strip(), position) if piece.strip() else position
            if found < 0:
                return f"{text!r} lacks the literal {piece!r}"
            position = found + len(piece.strip())
        return None
    return None


class _Overtime(Exception):
    pass


def _alarm(signum, frame):
    raise _Overtime


def run(cases: int, seed: int, budget: float, lm=None, progress: bool = True) -> dict:
    from ctrlgen.guidance.index_builder import compile_budget
    from tqdm.auto import tqdm

    import ctrlgen
    from ctrlgen import CtrlgenError

    if lm is None:
        lm = _untrained_model()
    rng = random.Random(seed)
    counts: Counter = Counter()
    failures: list[dict] = []
    seconds: list[float] = []
    signal.signal(signal.SIGALRM, _alarm)
    for case in tqdm(range(cases), disable=not progress, desc="fuzz cases"):
        kind = rng.choice(list(MAKERS))
        settings = _sampler_settings(rng)
        start = time.perf_counter()
        described = None
        signal.setitimer(signal.ITIMER_REAL, budget * 2)  # the compile has its own budget; this guards the rest
        try:
            with compile_budget(budget):
                constraint = MAKERS[kind](rng)
                described = constraint.describe()
                if kind == "template":
                    texts = lm.fill(constraint, n=2, seed=case, **{k: v for k, v in settings.items() if k != "length"})
                else:
                    texts = lm.generate(n=2, constraints=[constraint], seed=case, **settings)
            problems = [p for t in texts if (p := _check(constraint, t, lm.tokenizer))]
            outcome = "invalid" if problems else "valid"
            if problems:
                failures.append(
                    {"case": case, "kind": kind, "constraint": described, "settings": settings, "problem": problems[0]}
                )
        except _Overtime:
            outcome = "overtime"
            failures.append({"case": case, "kind": kind, "constraint": described, "settings": settings})
        except CtrlgenError as e:
            outcome = f"typed:{type(e).__name__}"
        except Exception as e:  # noqa: BLE001 - the point of the fuzzer
            outcome = f"untyped:{type(e).__name__}"
            failures.append(
                {
                    "case": case,
                    "kind": kind,
                    "constraint": described,
                    "settings": settings,
                    "error": f"{type(e).__name__}: {str(e)[:300]}",
                }
            )
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        seconds.append(time.perf_counter() - start)
        counts[(kind, outcome)] += 1
    valid = sum(v for (k, o), v in counts.items() if o == "valid")
    typed = sum(v for (k, o), v in counts.items() if o.startswith("typed"))
    return {
        "cases": cases,
        "seed": seed,
        "budget_s": budget,
        "valid_outputs": valid,
        "typed_errors": typed,
        "failures": len(failures),
        "by_kind_and_outcome": {f"{k}/{o}": v for (k, o), v in sorted(counts.items())},
        "slowest_case_s": round(max(seconds, default=0.0), 2),
        "median_case_s": round(sorted(seconds)[len(seconds) // 2], 4) if seconds else 0.0,
        "failure_examples": failures[:50],
        "ctrlgen_version": getattr(ctrlgen, "__version__", "dev"),
    }


def _untrained_model():
    """The shipped tokenizer with a one-layer untrained denoiser on a 64-token canvas: fast, and no help to any
    constraint."""
    import ctrlgen
    from ctrlgen.tiny_models import untrained_lm

    return untrained_lm(ctrlgen.load().tokenizer, max_canvas=64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per case (compile budget too)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fuzz.json"))
    args = parser.parse_args()
    start = time.time()
    result = run(args.cases, args.seed, args.budget)
    result["wall_s"] = round(time.time() - start, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(
        f"{result['cases']} cases in {result['wall_s']} s: {result['valid_outputs']} valid outputs, "
        f"{result['typed_errors']} typed errors, {result['failures']} failures (slowest case "
        f"{result['slowest_case_s']} s); written to {args.out}"
    )
    for failure in result["failure_examples"][:10]:
        print(json.dumps(failure, default=str), file=sys.stderr)
    sys.exit(1 if result["failures"] else 0)


if __name__ == "__main__":
    main()
