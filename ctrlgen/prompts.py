"""Prompts: a string, chat messages, or a list of either, turned into the fixed tokens before the canvas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .denoisers.base import Denoiser
from .errors import InvalidArgumentError, PromptTooLongError

__all__ = ["Prompt", "normalize_prompts", "prompt_text", "prefix_for", "check_room"]

#: One prompt: plain text, or chat messages (``{"role": ..., "content": ...}`` dicts).
Prompt = str | Sequence[Mapping[str, str]]


def _is_messages(value: object) -> bool:
    """A non-empty list of chat messages (an empty conversation is no prompt at all)."""
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and bool(value)
        and all(isinstance(m, Mapping) for m in value)
    )


def normalize_prompts(prompt: Prompt | Sequence[Prompt] | None) -> list[Prompt] | None:
    """``None`` (no prompt), or the list of prompts of a batch: a single prompt becomes a list of one."""
    if prompt is None:
        return None
    if isinstance(prompt, str) or _is_messages(prompt):
        return [prompt]
    if isinstance(prompt, Sequence) and prompt and all(isinstance(p, str) or _is_messages(p) for p in prompt):
        return list(prompt)
    raise InvalidArgumentError(
        "prompt must be a string, a list of chat messages ({'role': ..., 'content': ...}), or a non-empty list of "
        f"either; got {type(prompt).__name__}"
    )


def _messages_text(messages: Sequence[Mapping[str, str]], denoiser: Denoiser) -> str:
    for i, m in enumerate(messages):
        if not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise InvalidArgumentError(f"chat message {i} needs string 'role' and 'content' fields, got {dict(m)!r}")
    if denoiser.uses_chat_template():
        # the generation prompt (the assistant header) ends the prompt: the canvas is the assistant's turn
        return denoiser.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    return "\n".join(m["content"] for m in messages)


def prompt_text(prompt: Prompt, denoiser: Denoiser) -> str:
    """The prompt as the model reads it: the string itself, or chat messages rendered by the chat template."""
    return prompt if isinstance(prompt, str) else _messages_text(prompt, denoiser)


def prefix_for(prompt: Prompt, denoiser: Denoiser) -> list[int]:
    """The token ids before the canvas for one prompt, framed as the model reads a prompt."""
    text = prompt_text(prompt, denoiser)
    ids = denoiser.tokenizer(text, add_special_tokens=False)["input_ids"]
    return denoiser.prefix_ids(list(ids))


def check_room(prefix_length: int, canvas_length: int | None, max_length: int) -> int:
    """Canvas positions left after the longest prefix; a typed error naming both lengths when none are."""
    room = max_length - prefix_length
    if room < 1 or (canvas_length is not None and canvas_length > room):
        wanted = "" if canvas_length is None else f" and a response of {canvas_length} tokens"
        raise PromptTooLongError(
            f"a prompt of {prefix_length} tokens{wanted} exceeds the model's longest sequence of {max_length} tokens"
        )
    return room
