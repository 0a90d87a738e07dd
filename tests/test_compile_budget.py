"""Compiles run in a worker process under a time budget: stopped past it with a typed error, and a worker that
dies (a crash in native code) costs the compile, never the caller."""

import threading

import pytest
from ctrlgen.constraints import CompileTimeoutError, ConstraintError, Regex
from ctrlgen.guidance import index_builder
from ctrlgen.guidance.compile import compile_constraint
from ctrlgen.guidance.index_builder import compile_budget, current_budget

#: Its DFA must remember the last 23 characters: millions of states, minutes of outlines-core.
SLOW = Regex("[ab]*a[ab]{22}")


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CTRLGEN_CACHE", str(tmp_path))


def test_a_compile_past_its_budget_is_stopped_and_the_next_one_works(default_tokenizer):
    with compile_budget(2), pytest.raises(CompileTimeoutError, match="took more than 2 s"):
        compile_constraint(SLOW, default_tokenizer)
    compiled = compile_constraint(Regex("[a-z]{2,4}"), default_tokenizer)
    assert compiled.automaton.shortest_accepted() >= 1


def test_a_worker_that_dies_mid_compile_is_a_typed_error_and_is_replaced(default_tokenizer):
    compile_constraint(Regex("[0-9]{2}"), default_tokenizer)  # the worker is up
    worker = index_builder._WORKER
    killer = threading.Timer(1.0, worker.process.kill)  # as a segfault would end it
    killer.start()
    try:
        with compile_budget(60), pytest.raises(ConstraintError, match="its process ended"):
            compile_constraint(SLOW, default_tokenizer)
    finally:
        killer.cancel()
    assert compile_constraint(Regex("[0-9]{3}"), default_tokenizer).automaton.shortest_accepted() >= 1
    assert index_builder._WORKER is not worker


def test_an_interrupted_compile_never_answers_the_next_one(default_tokenizer, monkeypatch):
    """A compile interrupted mid-request (Ctrl-C, a signal handler's exception) leaves a reply in the worker's
    pipe; the next compile must not read it as its own answer: it gets a fresh worker."""
    compile_constraint(Regex("[0-9]{2}"), default_tokenizer)  # the worker is up
    real = index_builder._Worker.receive
    calls = []

    def interrupted(self, deadline, label):
        calls.append(label)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(self, deadline, label)

    monkeypatch.setattr(index_builder._Worker, "receive", interrupted)
    with compile_budget(60):
        with pytest.raises(KeyboardInterrupt):
            compile_constraint(Regex("a{3}"), default_tokenizer)
        other = compile_constraint(Regex("b{2}"), default_tokenizer).automaton
    vocab = default_tokenizer.convert_tokens_to_ids
    b, a = vocab("b"), vocab("a")
    end = default_tokenizer.pad_token_id
    assert other.accepts([b, b, end]) and not other.accepts([a, a, a, end])


def test_no_budget_compiles_in_this_process(default_tokenizer, monkeypatch):
    monkeypatch.setattr(index_builder, "_Worker", None)  # any use of a worker would fail
    with compile_budget(None):
        assert compile_constraint(Regex("x[0-9]+"), default_tokenizer).automaton.num_states > 1


def test_budget_settings(monkeypatch):
    monkeypatch.delenv("CTRLGEN_COMPILE_TIMEOUT", raising=False)
    assert current_budget() == index_builder.DEFAULT_COMPILE_TIMEOUT
    monkeypatch.setenv("CTRLGEN_COMPILE_TIMEOUT", "7.5")
    assert current_budget() == 7.5
    with compile_budget(0):
        assert current_budget() is None
    monkeypatch.setenv("CTRLGEN_COMPILE_TIMEOUT", "soon")
    with pytest.raises(ConstraintError, match="CTRLGEN_COMPILE_TIMEOUT"):
        current_budget()
    with pytest.raises(ConstraintError, match="compile_timeout"), compile_budget(-1):
        pass


def test_many_compiles_in_a_row_keep_one_worker(default_tokenizer):
    compile_constraint(Regex("q"), default_tokenizer)
    worker = index_builder._WORKER
    for k in range(30):
        compile_constraint(Regex(f"[a-z]{{{k + 1}}}x"), default_tokenizer)
    assert index_builder._WORKER is worker and worker.process.poll() is None  # no restarts


def test_a_schema_compile_past_its_budget_stops_in_process_and_the_same_schema_compiles_with_time(default_tokenizer):
    """Schemas compile in this process: the constructions read the clock as they discover states."""
    import time

    from ctrlgen.constraints import JsonSchema

    big = JsonSchema(
        {"type": "object", "properties": {f"field_{i}": {"type": "string", "maxLength": 60} for i in range(24)}}
    )
    start = time.monotonic()
    with compile_budget(0.2), pytest.raises(CompileTimeoutError, match="took more than 0.2 s"):
        compile_constraint(big, default_tokenizer)
    assert time.monotonic() - start < 10  # stopped near the budget, not at the end of the compile
    small = JsonSchema({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False})
    with compile_budget(30):
        assert compile_constraint(small, default_tokenizer).automaton.shortest_accepted() >= 1
