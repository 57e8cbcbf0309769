"""Explain a bugcheck: its name, what each argument means and, given values, what they say.

``explain(0x101, [0x61, 0, 0x807a3120, 1], pointer_bits=32)`` gives an ``Explanation`` whose
parameters read "clock interrupt time-out interval, 97 ticks", "KPRCB of the hung processor
(kernel-mode address)" and "index of the hung processor: 1". Pure functions over the catalogue
data: no I/O beyond the lazily read package data, no printing.
"""

from __future__ import annotations

from collections.abc import Sequence

from dumptriage.catalogue.bugchecks import by_code
from dumptriage.catalogue.kinds import KINDS, enum_value
from dumptriage.catalogue.params import ARG_COUNT, ArgSpec, CodeParams, params_for
from dumptriage.model.explanation import Explanation, Parameter, Subtype

UNDOCUMENTED = "Not described in our catalogue"


def interpret_value(spec: ArgSpec, value: int, pointer_bits: int = 64) -> str | None:
    """One argument value in words, following the spec's kind and template."""
    detail: str | None = None
    if spec.kind == "enum" and spec.enum is not None:
        detail = enum_value(spec.enum, value)
    elif spec.kind is not None:
        detail = KINDS[spec.kind](value, pointer_bits)
    if spec.template is None:
        return detail
    return spec.template.format(dec=value, hex=f"{value:#x}", detail=detail or "").strip()


def _subtype(params: CodeParams, values: Sequence[int | None]) -> Subtype | None:
    index = params.subtype_arg
    if index is None or values[index - 1] is None:
        return None
    value = values[index - 1]
    assert value is not None
    summary: str | None = None
    if params.subtypes is not None and value in params.subtypes:
        summary = params.subtypes[value].summary
    elif params.subtype_enum is not None:
        summary = enum_value(params.subtype_enum, value)
    else:
        summary = interpret_value(params.args[index - 1], value)
    return Subtype(arg=index, value=value, summary=summary)


def _specs(params: CodeParams, subtype: Subtype | None) -> list[ArgSpec]:
    specs = list(params.args)
    if subtype is None or params.subtypes is None or subtype.value not in params.subtypes:
        return specs
    overrides = params.subtypes[subtype.value].args
    return [o if o is not None else s for s, o in zip(specs, overrides or specs, strict=True)]


def _padded(args: Sequence[int] | None, bits: int) -> list[int | None]:
    mask = (1 << bits) - 1
    given: list[int | None] = [a & mask for a in (args or ())]
    return (given + [None] * ARG_COUNT)[:ARG_COUNT] if given else [None] * ARG_COUNT


def _summary(spec: ArgSpec, text: str | None) -> str:
    if spec.template is not None and text is not None:
        return text
    return spec.meaning if text is None else f"{spec.meaning} ({text})"


def _parameters(
    specs: Sequence[ArgSpec], values: Sequence[int | None], bits: int
) -> tuple[Parameter, ...]:
    out = []
    for index, (spec, value) in enumerate(zip(specs, values, strict=True), start=1):
        text = None if value is None else interpret_value(spec, value, bits)
        summary = None if value is None else _summary(spec, text)
        out.append(Parameter(index, value, spec.meaning, text, bits, summary))
    return tuple(out)


def _unknown_parameters(values: Sequence[int | None], bits: int) -> tuple[Parameter, ...]:
    given = [(i, v) for i, v in enumerate(values, start=1) if v is not None]
    return tuple(Parameter(i, v, UNDOCUMENTED, None, bits) for i, v in given)


def explain(code: int, args: Sequence[int] | None = None, pointer_bits: int = 64) -> Explanation:
    """Everything the catalogue knows about ``code``, applied to ``args`` when given.

    ``pointer_bits`` is the dump's pointer width (32 or 64); it decides how addresses and
    IRQLs are read and how wide values are printed. Unknown codes still give an Explanation
    (name None) so that a report can always carry one.
    """
    entry = by_code(code)
    params = params_for(code)
    values = _padded(args, pointer_bits)
    if params is None:
        hint = "see Microsoft's bug check code reference"
        return Explanation(
            code=code,
            name=None if entry is None else entry.name,
            description=f"No description in our catalogue yet; {hint} for {code:#x}.",
            parameters=_unknown_parameters(values, pointer_bits),
            subtype=None,
            usual_causes=(),
            kvm_causes=(),
        )
    subtype = _subtype(params, values)
    specs = _specs(params, subtype)
    return Explanation(
        code=code,
        name=None if entry is None else entry.name,
        description=params.description,
        parameters=_parameters(specs, values, pointer_bits),
        subtype=subtype,
        usual_causes=params.causes,
        kvm_causes=params.kvm,
        source=params.source or None,
    )


def summary_lines(explanation: Explanation) -> list[str]:
    """'Arg1 0x61: clock interrupt time-out interval, 97 ticks' for each given argument."""
    lines = []
    for p in explanation.parameters:
        if p.value is None:
            continue
        lines.append(f"Arg{p.index} {p.value:#x}: {p.summary or p.meaning}")
    return lines
